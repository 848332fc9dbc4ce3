"""Files that may hold keys or flows are created 0600, written atomically (the helpers live in
`ccproxy.fileio`, shared with the flow writer, which may not import `daemon/`)."""

from __future__ import annotations

from ccproxy.fileio import touch_private, write_private_json

__all__ = ["touch_private", "write_private_json"]
