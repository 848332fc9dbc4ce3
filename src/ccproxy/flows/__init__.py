"""The flow store, the flow JSON that jq sees, filtering, compare, diff and HAR.

The library (`FlowLibrary`: list, show, compare, diff, HAR, clear, sessions, ...) lives in
`ccproxy.flows.library` and is re-exported here lazily: every addon imports `ccproxy.flowmeta`,
and that must not pull in jq or SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccproxy.flows.api import store_path
    from ccproxy.flows.library import FlowLibrary
    from ccproxy.flows.redact import redact_body, redact_headers, redact_url

__all__ = ["FlowLibrary", "redact_body", "redact_headers", "redact_url", "store_path"]

_REDACT = {"redact_body", "redact_headers", "redact_url"}


def __getattr__(name: str) -> Any:
    if name in _REDACT:
        from ccproxy.flows import redact

        return getattr(redact, name)
    if name == "FlowLibrary":
        from ccproxy.flows.library import FlowLibrary

        return FlowLibrary
    if name == "store_path":
        from ccproxy.flows.api import store_path

        return store_path
    raise AttributeError(f"module 'ccproxy.flows' has no attribute {name!r}")
