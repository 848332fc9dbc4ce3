"""The hand-off from proxy to store through the daemon: no answered flow lost when the daemon dies with
its writer stopped, a torn journal recovered at start, and `status` telling the truth meanwhile."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from ccproxy.store.db import FlowStore
from tests.daemon import RunningDaemon, small_tmpfs, wait_for

Factory = Callable[..., RunningDaemon]
CLIENTS = 16


def writer_pid(daemon: RunningDaemon) -> int:
    """The daemon's writer child (`python -m ccproxy.store.writerproc`)."""
    parent = str(daemon.state["pid"])

    def find() -> int | None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == parent and b"ccproxy.store.writerproc" in cmd:
                return int(entry.name)
        return None

    pid: int = wait_for(find, 20, what="the writer process")
    return pid


def client(daemon: RunningDaemon) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0,
                               timeout=20)


def ask(daemon: RunningDaemon, text: str) -> None:
    client(daemon).messages.create(model="claude-test", max_tokens=16, messages=[{"role": "user", "content": text}])


def load(daemon: RunningDaemon, answered: list[str], stop: threading.Event, per_client: int = 10_000) -> list[threading.Thread]:
    """16 clients sending numbered requests until `stop`; each answered one is noted (after its answer)."""

    def run(n: int) -> None:
        sdk = client(daemon)
        for i in range(per_client):
            if stop.is_set():
                return
            text = f"handoff-{n}-{i}"
            try:
                sdk.messages.create(model="claude-test", max_tokens=16, messages=[{"role": "user", "content": text}])
            except Exception:
                return  # the daemon is gone: this one was not answered
            answered.append(text)

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    return threads


def stored_texts(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with FlowStore(path) as store:
        bodies = [store.parts(i).get("client_request", b"") for i in store.ids()]
    return {m.decode() for body in bodies for m in re.findall(rb"handoff-\d+-\d+", body)}


def status(daemon: RunningDaemon) -> dict[str, Any]:
    res = daemon.cli("status", "--json")
    assert res.returncode == 0, res.stderr
    store: dict[str, Any] = json.loads(res.stdout)["store"]
    return store


@pytest.mark.parametrize("kill", ["daemon", "group"])
def test_no_answered_flow_is_lost_when_the_daemon_dies_with_its_writer_stopped(
        daemon_factory: Factory, kill: str) -> None:
    daemon = daemon_factory(start=False).start(new_session=True)
    writer = writer_pid(daemon)
    os.kill(writer, signal.SIGSTOP)  # a stalled disk: every capture waits in the daemon
    answered: list[str] = []
    stop = threading.Event()
    threads = load(daemon, answered, stop)
    try:
        wait_for(lambda: len(answered) >= 150, 60, what="150 answered requests")
    finally:
        if kill == "group":
            os.killpg(daemon.state["pid"], signal.SIGKILL)
        else:
            os.kill(daemon.state["pid"], signal.SIGKILL)
            os.kill(writer, signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(30)
    assert daemon.proc is not None
    daemon.proc.wait(10)
    got = set(answered)
    daemon.start()
    path = daemon.config_dir / "flows.sqlite3"
    wait_for(lambda: got <= stored_texts(path), 60, what=f"all {len(got)} answered flows stored after the restart")
    assert status(daemon)["flows_lost"] == 0


def test_a_torn_journal_does_not_stop_the_daemon(daemon_factory: Factory) -> None:
    """`truncate -s -100` of the journal left by a killed daemon: the next start serves, stores what is
    readable and counts the torn flow with its cause."""
    daemon = daemon_factory(start=False).start(new_session=True)
    os.kill(writer_pid(daemon), signal.SIGSTOP)
    texts = [f"handoff-0-{i}" for i in range(5)]
    for text in texts:
        ask(daemon, text)
    os.killpg(daemon.state["pid"], signal.SIGKILL)
    assert daemon.proc is not None
    daemon.proc.wait(10)
    [journal] = sorted(daemon.config_dir.glob("flows.sqlite3.spill.*"))
    subprocess.run(["truncate", "-s", "-100", str(journal)], check=True)
    daemon.start()
    path = daemon.config_dir / "flows.sqlite3"
    wait_for(lambda: stored_texts(path) == set(texts[:4]), 30, what="the 4 readable flows stored")
    store = status(daemon)
    assert store["source"] == "daemon" and store["flows_lost"] == 1
    assert "journal file ended mid-flow" in store["last_loss"]["cause"]
    ask(daemon, "handoff-1-0")  # still serving, still recording
    wait_for(lambda: "handoff-1-0" in stored_texts(path), 30, what="a new flow stored")


def test_status_converges_during_a_stall_and_after_it(daemon_factory: Factory) -> None:
    daemon = daemon_factory()
    writer = writer_pid(daemon)
    os.kill(writer, signal.SIGSTOP)
    try:
        for i in range(20):
            ask(daemon, f"handoff-0-{i}")
        store = status(daemon)  # the daemon's own answer: no refresh interval to wait out
        assert store["source"] == "daemon" and store["queued"] == 20 and store["flows_written"] == 0
    finally:
        os.kill(writer, signal.SIGCONT)
    wait_for(lambda: (s := status(daemon))["flows_written"] == 20 and s["queued"] == 0, 30,
             what="status to count 20 written, none queued")
    daemon.stop()
    stopped = status(daemon)  # no daemon: the status file it left
    assert stopped["source"] == "file" and stopped["flows_written"] == 20 and stopped["queued"] == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs this test mounts itself: a real full disk without filling the machine's."""
    with small_tmpfs(tmp_path / "tiny", "2m") as mnt:
        yield mnt


def test_a_full_disk_loss_is_visible_in_status(daemon_factory: Factory, tiny_disk: Path) -> None:
    daemon = daemon_factory({"flows": {"store": str(tiny_disk / "flows.sqlite3")}})
    ask(daemon, "handoff-0-0")
    wait_for(lambda: status(daemon)["flows_written"] == 1, 30, what="the first flow stored")
    pad = os.urandom(40_000).hex()
    for i in range(60):  # 4.8 MB of request bodies for 2 MB of disk
        ask(daemon, f"handoff-1-{i} {pad}")
    wait_for(lambda: status(daemon)["flows_lost"] > 0, 60, what="a loss in status")
    store = status(daemon)
    assert store["source"] == "daemon"
    cause = store["last_loss"]["cause"]
    assert "SQLITE_FULL" in cause or "ENOSPC" in cause
    res = daemon.cli("status")
    assert "could not be stored" in res.stdout and ("SQLITE_FULL" in res.stdout or "ENOSPC" in res.stdout)
