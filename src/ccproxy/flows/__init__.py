"""The flow store, the flow JSON that jq sees, filtering, compare, diff and HAR.

The library API (`resolve_set`, `get_flow`, `compare`, `diff`, `to_har`, `clear`, `conversations`,
...) lives in `ccproxy.flows.api` and is re-exported here lazily: every addon imports
`ccproxy.flows.meta`, and that must not pull in jq or SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccproxy.flows.api import (
        clear,
        compare,
        conversations,
        diff,
        find_id,
        get_flow,
        load,
        resolve_ids,
        resolve_json,
        resolve_json_bytes,
        resolve_set,
        store_path,
        to_har,
    )
    from ccproxy.flows.redact import redact_body, redact_headers, redact_url

__all__ = [
    "clear",
    "compare",
    "conversations",
    "diff",
    "find_id",
    "get_flow",
    "load",
    "redact_body",
    "redact_headers",
    "redact_url",
    "resolve_ids",
    "resolve_json",
    "resolve_json_bytes",
    "resolve_set",
    "store_path",
    "to_har",
]

_REDACT = {"redact_body", "redact_headers", "redact_url"}


def __getattr__(name: str) -> Any:
    if name in _REDACT:
        from ccproxy.flows import redact

        return getattr(redact, name)
    if name in __all__:
        from ccproxy.flows import api

        return getattr(api, name)
    raise AttributeError(f"module 'ccproxy.flows' has no attribute {name!r}")
