"""`ccproxy run --inspect`: stdio, signals and exit status pass through; every exit path leaves nothing behind."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.daemon import RunningDaemon, wait_for
from tests.namespace.fixtures import (
    JailRun,
    netns_holders,
    private_dirs,
    requires_jail,
    tool_dir,
)

pytestmark = [pytest.mark.namespace, requires_jail]


def script(marker: str, body: str) -> list[str]:
    return [sys.executable, "-c", f"# {marker}\n" + textwrap.dedent(body)]


def test_stdio_and_exit_code_pass_through_and_nothing_is_left(jail_daemon: RunningDaemon) -> None:
    marker = uuid.uuid4().hex
    jail = JailRun(
        jail_daemon,
        script(
            marker,
            """
            import sys
            print("READY", flush=True)
            line = sys.stdin.readline()
            print("echo:", line.strip(), flush=True)
            print("to stderr", file=sys.stderr, flush=True)
            sys.exit(7)
            """,
        ),
        stdin=True,
    )
    try:
        jail.read_until("READY")
        snap = jail.snapshot(marker)
        assert snap.private and all(p.exists() for p in snap.private)
        assert jail.proc.stdin is not None
        jail.proc.stdin.write("hello jail\n")
        jail.proc.stdin.close()
        code, out, err = jail.wait()
    finally:
        jail.kill()
    assert code == 7
    assert "echo: hello jail" in out
    assert "to stderr" in err
    assert snap.leftovers() == []


def test_command_killed_from_outside_ends_the_jail(jail_daemon: RunningDaemon) -> None:
    marker = uuid.uuid4().hex
    jail = JailRun(jail_daemon, script(marker, 'import time\nprint("READY", flush=True)\ntime.sleep(300)\n'))
    try:
        jail.read_until("READY")
        snap = jail.snapshot(marker)
        os.kill(snap.command_pid, signal.SIGKILL)
        code, _out, _err = jail.wait()
    finally:
        jail.kill()
    assert code == 128 + signal.SIGKILL
    assert snap.leftovers() == []


@pytest.mark.parametrize(("sig", "expected"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_to_ccproxy_reaches_the_command_then_everything_goes(
    jail_daemon: RunningDaemon, sig: signal.Signals, expected: int
) -> None:
    marker = uuid.uuid4().hex
    jail = JailRun(jail_daemon, script(marker, 'import time\nprint("READY", flush=True)\ntime.sleep(300)\n'))
    try:
        jail.read_until("READY")
        snap = jail.snapshot(marker)
        jail.proc.send_signal(sig)
        code, _out, err = jail.wait()
    finally:
        jail.kill()
    assert code == expected, err
    assert snap.leftovers() == []


#: What a shell does to a background job (`ccproxy run ... &` in a script): SIGINT and SIGQUIT ignored.
IGNORING_SHELL = ["sh", "-c", 'trap "" INT QUIT; exec "$@"', "sh"]


@pytest.mark.parametrize(("sig", "expected"), [(signal.SIGINT, 130), (signal.SIGQUIT, 131)])
def test_a_shell_that_ignored_sigint_does_not_change_what_the_command_gets(
    jail_daemon: RunningDaemon, sig: signal.Signals, expected: int
) -> None:
    """The jailed command starts with default dispositions, so the relayed signal ends it as usual."""
    marker = uuid.uuid4().hex
    jail = JailRun(
        jail_daemon,
        script(marker, 'import time\nprint("READY", flush=True)\ntime.sleep(300)\n'),
        prefix=IGNORING_SHELL,
    )
    try:
        jail.read_until("READY")
        snap = jail.snapshot(marker)
        jail.proc.send_signal(sig)
        code, _out, err = jail.wait()
    finally:
        jail.kill()
    assert code == expected, err
    assert snap.leftovers() == []


def test_command_ignoring_sigterm_is_killed_after_stop_timeout(jail_daemon: RunningDaemon) -> None:
    """The fixture's namespace.stop_timeout is 2s: the relayed SIGTERM is ignored, then the jail is killed."""
    marker = uuid.uuid4().hex
    jail = JailRun(
        jail_daemon,
        script(
            marker,
            """
            import signal, time
            signal.signal(signal.SIGTERM, lambda *a: print("TERM ignored", flush=True))
            print("READY", flush=True)
            time.sleep(300)
            """,
        ),
    )
    try:
        jail.read_until("READY")
        snap = jail.snapshot(marker)
        jail.proc.send_signal(signal.SIGTERM)
        jail.read_until("TERM ignored")
        code, _out, err = jail.wait(timeout=30)
    finally:
        jail.kill()
    assert code == 128 + signal.SIGKILL, err
    assert snap.leftovers() == []


def test_other_signals_are_relayed_and_the_command_carries_on(jail_daemon: RunningDaemon) -> None:
    marker = uuid.uuid4().hex
    jail = JailRun(
        jail_daemon,
        script(
            marker,
            """
            import signal, sys, threading
            done = threading.Event()
            def on(sig, _):
                print("GOT", signal.Signals(sig).name, flush=True)
                if sig == signal.SIGUSR2:
                    done.set()
            signal.signal(signal.SIGUSR1, on)
            signal.signal(signal.SIGUSR2, on)
            signal.signal(signal.SIGHUP, on)
            print("READY", flush=True)
            done.wait(60)
            sys.exit(0)
            """,
        ),
    )
    try:
        jail.read_until("READY")
        jail.snapshot(marker)
        for sig in (signal.SIGUSR1, signal.SIGHUP):
            jail.proc.send_signal(sig)
            jail.read_until(f"GOT {sig.name}")
        jail.proc.send_signal(signal.SIGUSR2)
        code, out, err = jail.wait()
    finally:
        jail.kill()
    assert code == 0, err
    assert "GOT SIGUSR2" in out


def _slirps() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"slirp4netns" in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def test_setup_failing_half_way_leaves_nothing(jail_daemon: RunningDaemon, tmp_path: Path) -> None:
    """`wg` fails after the namespaces, slirp4netns and wireguard-go exist; all of them must go."""
    record = tmp_path / "netns"
    fake_wg = f"#!/bin/sh\nreadlink /proc/self/ns/net > {record}\necho 'fake wg: refusing' >&2\nexit 1\n"
    path = tool_dir(tmp_path, hide={"wg"}, fakes={"wg": fake_wg})
    slirps_before = _slirps()
    jail = JailRun(jail_daemon, ["true"], env={"PATH": path})
    code, _out, err = jail.wait()
    assert code == 1
    assert "configuring WireGuard failed" in err and "fake wg: refusing" in err
    netns = record.read_text().strip()
    assert netns.startswith("net:[")
    assert netns_holders(netns) == []
    assert _slirps() - slirps_before == set()
    assert private_dirs(jail.proc.pid) == []


def test_signal_during_set_up_aborts_and_leaves_nothing(jail_daemon: RunningDaemon, tmp_path: Path) -> None:
    """A `wg` that hangs holds set-up half way; SIGTERM to ccproxy must end it all (exit 143)."""
    record = tmp_path / "netns"
    fake_wg = (
        f"#!/bin/sh\nreadlink /proc/self/ns/net > {record}.tmp && mv {record}.tmp {record}\nexec sleep 300\n"
    )
    path = tool_dir(tmp_path, hide={"wg"}, fakes={"wg": fake_wg})
    slirps_before = _slirps()
    jail = JailRun(jail_daemon, ["true"], env={"PATH": path})
    try:
        wait_for(record.exists, 30, 0.05, "set-up to reach `wg`")
        jail.proc.send_signal(signal.SIGTERM)
        code, _out, err = jail.wait()
    finally:
        jail.kill()
    assert code == 128 + signal.SIGTERM, err
    assert netns_holders(record.read_text().strip()) == []
    assert _slirps() - slirps_before == set()
    assert private_dirs(jail.proc.pid) == []


@pytest.mark.parametrize(
    ("hidden", "package"), [("slirp4netns", "slirp4netns"), ("wireguard-go", "wireguard-go")]
)
def test_missing_tool_fails_before_creating_anything(
    jail_daemon: RunningDaemon, tmp_path: Path, hidden: str, package: str
) -> None:
    if hidden == "wireguard-go" and Path("/sys/module/wireguard").is_dir():
        pytest.skip("the kernel module is loaded, so wireguard-go is not needed")
    path = tool_dir(tmp_path, hide={hidden})
    slirps_before = _slirps()
    jail = JailRun(jail_daemon, ["true"], env={"PATH": path})
    code, _out, err = jail.wait()
    assert code == 1
    assert hidden in err
    assert f"apt-get install {package}" in err and "dnf install" in err and "pacman -S" in err
    assert _slirps() == slirps_before
    assert private_dirs(jail.proc.pid) == []


def test_unknown_command_is_127_without_a_jail(jail_daemon: RunningDaemon) -> None:
    done = jail_daemon.cli("run", "--inspect", "--", "no-such-command-ccproxy-test")
    assert done.returncode == 127
    assert "command not found: no-such-command-ccproxy-test" in done.stderr


def test_terminal_ctrl_c_reaches_the_command_once_and_the_tty_works(jail_daemon: RunningDaemon) -> None:
    """Under a real terminal the command is in the foreground process group: it reads the tty, and the
    terminal's SIGINT reaches it directly, so ccproxy must not relay a second one."""
    import fcntl
    import pty
    import select
    import subprocess
    import termios

    marker = uuid.uuid4().hex
    cmd = script(
        marker,
        """
        import signal, sys
        count = 0
        def on_int(*_):
            global count
            count += 1
            print("INT", flush=True)
        signal.signal(signal.SIGINT, on_int)
        print("READY", flush=True)
        line = sys.stdin.readline()
        print("COUNT", count, "LINE", line.strip(), flush=True)
        """,
    )
    master, slave = pty.openpty()

    def controlling_tty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        jail_daemon.command("run", "--inspect", "--", *cmd),
        env=jail_daemon.env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=controlling_tty,
    )
    os.close(slave)
    seen = b""

    def read_until(token: bytes) -> None:
        nonlocal seen
        while token not in seen:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, f"no {token!r} on the terminal; got {seen!r}"
            seen += os.read(master, 4096)

    try:
        read_until(b"READY")
        os.write(master, b"\x03")  # Ctrl-C: the terminal signals its foreground process group
        read_until(b"INT")
        os.write(master, b"typed on the tty\n")
        assert proc.wait(30) == 0
        while True:  # drain: the terminal reports EIO once the last writer is gone
            ready, _, _ = select.select([master], [], [], 30)
            assert ready
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        os.close(master)
    assert b"COUNT 1 LINE typed on the tty" in seen
