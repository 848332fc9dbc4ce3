"""The viewer page: one HTML template (CSS and JS inline) that renders the data blob of `viewer.data`.

Exported, the blob is inlined and a Content-Security-Policy forbids every network fetch, so the
file opens offline and cannot leak what it shows. Served live, the blob slot is `null` and the
page polls `api/data` next to itself (the only origin the policy allows it to reach).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from ccproxy.fileio import write_private

_DATA_SLOT = "/*CCPROXY_DATA*/null"
_CSP_SLOT = "CCPROXY_CONNECT_SRC"
_OFFLINE = "'none'"
_LIVE = "'self'"


def template() -> str:
    return resources.files("ccproxy.viewer").joinpath("index.html").read_text("utf-8")


def inline_json(data: Any) -> str:
    """JSON that is safe inside a <script> element (no `</script>`, no `<!--`)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace(
        "\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render(data: dict[str, Any] | None) -> str:
    """The page: with `data` a self-contained document that fetches nothing; without, the live page."""
    page = template()
    if data is None:
        return page.replace(_CSP_SLOT, _LIVE)
    return page.replace(_CSP_SLOT, _OFFLINE).replace(_DATA_SLOT, inline_json(data))


def write_html(path: Path, data: dict[str, Any]) -> None:
    """Write the exported page with mode 0600 (it holds request and response bodies)."""
    write_private(path, render(data).encode("utf-8"))
