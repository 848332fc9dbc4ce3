"""Flow sets and their views: the library (one definition of "the set"), jq filtering, show,
compare, diff, HAR and the masked flow file; all read through `ccproxy.store` below.

`FlowLibrary` (list, show, compare, diff, HAR, clear, ...) lives in `ccproxy.flows.library` and is
re-exported here lazily, with the store's path and the masking helpers, so importing the package
pulls in neither jq nor SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccproxy.flows.library import FlowLibrary
    from ccproxy.store.api import store_path
    from ccproxy.store.redact import redact_body, redact_headers, redact_url

__all__ = ["FlowLibrary", "redact_body", "redact_headers", "redact_url", "store_path"]

_REDACT = {"redact_body", "redact_headers", "redact_url"}


def __getattr__(name: str) -> Any:
    if name in _REDACT:
        from ccproxy.store import redact

        return getattr(redact, name)
    if name == "FlowLibrary":
        from ccproxy.flows.library import FlowLibrary

        return FlowLibrary
    if name == "store_path":
        from ccproxy.store.api import store_path

        return store_path
    raise AttributeError(f"module 'ccproxy.flows' has no attribute {name!r}")
