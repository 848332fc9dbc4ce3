"""The viewer in a real headless Chromium (Debian's `chromium`, driven over the DevTools protocol).

Skipped only when no chromium binary is installed (`scripts/setup.sh` installs it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ccproxy.viewer.page import write_html
from tests.sessions.agent_session import SUBAGENT_PROMPT, records
from tests.store.factory import viewer_blob
from tests.viewer.cdp import CHROMIUM, Page, chromium

pytestmark = pytest.mark.skipif(not (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)),
                                reason="chromium is not installed (scripts/setup.sh installs it)")

SUBAGENT_NESTED = (
    "(() => { const sub = document.querySelector('.conv.subagent');"
    " if (!sub) return null;"
    " const parent = sub.parentElement.closest('.conv');"
    " return {title: sub.querySelector('.conv-title').textContent,"
    "         parent: parent && parent.querySelector('.conv-title').textContent,"
    "         turns: sub.querySelectorAll(':scope > .turn').length}; })()"
)


def shoot(page: Page, tmp_path: Path, name: str) -> Path:
    path = page.screenshot(tmp_path / name)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    if keep := os.environ.get("CCPROXY_TEST_SCREENSHOTS"):
        shutil.copy(path, Path(keep) / name)
    return path


def test_the_exported_page_opens_offline_and_shows_the_subagent_tree(tmp_path: Path) -> None:
    html = tmp_path / "session.html"
    write_html(html, viewer_blob(records()))
    with chromium(offline=True) as page:
        page.goto(html.as_uri())
        page.wait_for("window.ccproxyReady === true")
        nested = page.evaluate(SUBAGENT_NESTED)
        assert nested == {"title": "subagent · Task" + SUBAGENT_PROMPT,
                          "parent": "The server ignores the port in config.yaml; fix it", "turns": 2}
        page.evaluate("document.querySelector('.turn[data-flow^=\"a3\"]').click()")
        page.wait_for("document.querySelectorAll('.phase[data-phase]').length === 4")
        detail = page.evaluate("document.getElementById('detail').innerText")
        assert "prefix_drift" in detail and "system[1].text at offset 21" in detail
        page.evaluate("document.querySelector('.turn[data-flow^=\"c0\"]').click()")
        page.wait_for("document.querySelector('svg[aria-label=\"SSE timeline\"]') !== null")
        assert "client stream invalid at event 1" in page.evaluate("document.getElementById('detail').innerText")
        shoot(page, tmp_path, "viewer-export.png")
        assert page.console_errors == []
        assert [u for u in page.requests if not u.startswith(("file:", "data:"))] == []
