"""A small Chrome DevTools Protocol client: a real headless Chromium (Debian's `chromium`), driven over its websocket.

No browser download and no Playwright: the test suite starts `/usr/bin/chromium --headless
--remote-debugging-port=0`, reads the websocket URL it prints, opens one page target and records
its console errors, uncaught exceptions and every network request it makes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = os.environ.get("CCPROXY_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
_WS = re.compile(r"DevTools listening on (ws://\S+)")


@dataclass
class Page:
    ws: ClientConnection
    session: str
    next_id: int = 1
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def _record(self, msg: dict[str, Any]) -> None:
        method, params = msg.get("method"), msg.get("params") or {}
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails") or {}
            self.console_errors.append(str((details.get("exception") or {}).get("description") or details.get("text")))
        elif method == "Log.entryAdded" and (params.get("entry") or {}).get("level") == "error":
            entry = params["entry"]
            self.console_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            self.requests.append(str((params.get("request") or {}).get("url")))

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        msg_id = self.next_id
        self.next_id += 1
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params, "sessionId": self.session}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {method} within {timeout} s")
            msg = json.loads(self.ws.recv(timeout=left))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result") or {})
            self._record(msg)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return (result.get("result") or {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll `expression` until it is truthy (bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            self.call("Runtime.evaluate", expression="new Promise(r => setTimeout(r, 50))", awaitPromise=True)
        raise TimeoutError(f"{expression!r} still false after {timeout} s")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextlib.contextmanager
def chromium(offline: bool = False, width: int = 1500, height: int = 950) -> Iterator[Page]:
    """One headless Chromium with one page; `offline` cuts the page's network (Network.emulateNetworkConditions)."""
    profile = tempfile.mkdtemp(prefix="ccproxy-chromium-")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = _devtools_url(proc, timeout=60)
        with connect(url, max_size=64 * 1024 * 1024, open_timeout=30) as ws:
            page = _open_page(ws, width, height)
            if offline:
                page.call("Network.emulateNetworkConditions", offline=True, latency=0, downloadThroughput=-1,
                          uploadThroughput=-1)
            yield page
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_url(proc: subprocess.Popen[str], timeout: float) -> str:
    """The websocket URL chromium prints on stderr; a thread keeps draining stderr so chromium never blocks on it."""
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if m := _WS.search(line):
            return m.group(1)
    raise RuntimeError(f"chromium printed no DevTools URL within {timeout} s: {''.join(seen)[-2000:]}")


def _open_page(ws: ClientConnection, width: int, height: int) -> Page:
    def browser_call(msg_id: int, method: str, **params: Any) -> dict[str, Any]:
        ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(ws.recv(timeout=30))
            if msg.get("id") == msg_id:
                return dict(msg["result"])

    target = browser_call(1, "Target.createTarget", url="about:blank")["targetId"]
    session = browser_call(2, "Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    page = Page(ws, session, next_id=10)
    for domain in ("Page", "Runtime", "Log", "Network"):
        page.call(f"{domain}.enable")
    page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    return page
