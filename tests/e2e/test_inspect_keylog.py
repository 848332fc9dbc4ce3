"""tls.keylog and wg.keylog: 0600 files in the config dir that tshark uses to read a capture of the jail.

Two captures of one jailed request: the UDP tunnel on the host's loopback (wg.keylog decrypts its
handshake: who the client is) and the tunnel's inside on wg0 (tls.keylog decrypts the HTTP).
WireGuard's transport data needs an ephemeral key no implementation here exports, so the outer
capture alone cannot show the HTTP; docs/privacy.md says so.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ccproxy.namespace.wgkeys import load_keys
from tests.daemon import RunningDaemon, free_port
from tests.namespace.fixtures import (
    API_NAME,
    JailRun,
    UpstreamHost,
    requires_jail,
    wait_flow,
)

pytestmark = [
    pytest.mark.namespace,
    requires_jail,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed"),
]


SYNC_LOOP = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(400):
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
    time.sleep(0.05)
"""


class Capture:
    """A running tshark that writes a pcap and prints each packet's UDP payload (hex) as it writes it.

    Packets reach dumpcap in blocks from the kernel's capture ring; those still in the ring are lost
    when the capture is stopped or its interface disappears (wg0 goes with the jail). So a capture is
    fenced by sync datagrams: one interface's packets are handed over in order, so once tshark has
    written the datagram sent last, everything before it is in the file too.
    """

    def __init__(
        self, proc: subprocess.Popen[bytes], prefix: list[str], target: tuple[str, int], err: Path
    ) -> None:
        self.proc = proc
        self.prefix = prefix
        self.target = target
        self.err = err
        self.pending = b""

    def sync(self, token: str, timeout: float = 20) -> None:
        """Send `token` datagrams to the target (from inside `prefix`) until tshark has written one."""
        host, port = self.target
        sender = subprocess.Popen([*self.prefix, sys.executable, "-c", SYNC_LOOP, host, str(port), token])
        try:
            self.wait_printed(token.encode().hex(), timeout)
        finally:
            sender.kill()
            sender.wait(10)

    def wait_printed(self, payload: str, timeout: float) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                lines = self.pending.split(b"\n")
                self.pending = lines.pop()
                if any(line.strip().decode() == payload for line in lines):
                    return
                left = deadline - time.monotonic()
                chunk = os.read(fd, 65536) if left > 0 and sel.select(timeout=left) else b""
                if not chunk:
                    raise AssertionError(f"tshark never wrote the sync datagram: {self.err.read_text()}")
                self.pending += chunk


@contextmanager
def capture(prefix: list[str], iface: str, bpf: str, out: Path, target: tuple[str, int]) -> Iterator[Capture]:
    """tshark (run inside `prefix`) writing `out`, synced on both ends: "Capturing on" comes before
    packets really are, and the last packets are only safe once a later one has been written."""
    argv = [*prefix, "tshark", "-i", iface, "-l", "-P", "-a", "duration:120", "-w", str(out)]
    argv += ["-T", "fields", "-e", "udp.payload"]
    if bpf:
        argv += ["-f", bpf]
    err_path = out.with_suffix(".err")
    with err_path.open("w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        try:
            cap = Capture(proc, prefix, target, err_path)
            cap.sync(f"ccproxy-sync-start-{out.stem}")
            yield cap
            cap.sync(f"ccproxy-sync-end-{out.stem}")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)


def fields(pcap: Path, options: list[str], display: str, *names: str) -> list[list[str]]:
    argv = ["tshark", "-r", str(pcap), *options, "-Y", display, "-T", "fields"]
    for name in names:
        argv += ["-e", name]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines() if line.strip()]


def test_keylog_files_are_private_and_logged(jail_daemon: RunningDaemon) -> None:
    for name in ("tls.keylog", "wg.keylog", "wireguard.json", "wireguard-client.conf"):
        path = jail_daemon.config_dir / name
        assert path.stat().st_mode & 0o777 == 0o600, name
    log = jail_daemon.log_text()
    assert (
        str(jail_daemon.config_dir / "tls.keylog") in log and str(jail_daemon.config_dir / "wg.keylog") in log
    )
    keys = load_keys(jail_daemon.config_dir / "wireguard.json")
    wg_keylog = (jail_daemon.config_dir / "wg.keylog").read_text()
    assert f"LOCAL_STATIC_PRIVATE_KEY = {keys.server_key}" in wg_keylog
    assert f"LOCAL_STATIC_PRIVATE_KEY = {keys.client_key}" in wg_keylog


def test_tshark_decrypts_a_capture_of_the_jail(
    jail_daemon: RunningDaemon, test_host: UpstreamHost, tmp_path: Path
) -> None:
    marker = uuid.uuid4().hex
    wg_port = jail_daemon.state["listeners"]["wireguard"]["port"]
    outer, inner = tmp_path / "outer.pcap", tmp_path / "inner.pcap"
    request = textwrap.dedent(
        f"""
        # {marker}
        import subprocess, sys
        print("READY", flush=True)
        sys.stdin.readline()
        subprocess.run(["curl", "-sS", "--http1.1", "-o", "/dev/null", "{test_host.url}/json?m={marker}"], check=True)
        print("DONE", flush=True)
        sys.stdin.readline()  # wg0 lives until the test has its capture
        """
    )
    sync_port = free_port()
    with capture([], "lo", f"udp port {wg_port} or udp port {sync_port}", outer, ("127.0.0.1", sync_port)):
        jail = JailRun(jail_daemon, [sys.executable, "-c", request], stdin=True)
        try:
            jail.read_until("READY")
            snap = jail.snapshot(marker)
            helper = next(p for p, (_s, cmd) in snap.processes.items() if "ccproxy.namespace.inside" in cmd)
            assert os.readlink(f"/proc/{snap.command_pid}/ns/net") == snap.netns  # the command's wg0
            in_jail = ["nsenter", f"--target={helper}", "--net", "--"]
            assert jail.proc.stdin is not None
            with capture(in_jail, "wg0", "", inner, (test_host.address, 9)):
                jail.proc.stdin.write("go\n")
                jail.proc.stdin.flush()
                jail.read_until("DONE")
            jail.proc.stdin.close()
            code, _out, err = jail.wait()
        finally:
            jail.kill()
    assert code == 0, err
    flow = wait_flow(jail_daemon, f"/json?m={marker}")

    tls_opts = ["-o", f"tls.keylog_file:{jail_daemon.config_dir / 'tls.keylog'}"]
    uris = fields(inner, tls_opts, "http.request", "http.request.uri", "http.host")
    assert [f"/json?m={marker}", API_NAME] in uris
    without_keys = fields(inner, [], "http.request", "http.request.uri")
    assert without_keys == []  # the same capture is opaque without tls.keylog
    ja3 = fields(
        inner,
        [],
        f'tls.handshake.type == 1 && tls.handshake.extensions_server_name == "{API_NAME}"',
        "tls.handshake.ja3",
    )
    assert [flow["ccproxy"]["fingerprint"]["tls"]["ja3"]] in ja3  # tshark's JA3 of the same ClientHello

    keys = load_keys(jail_daemon.config_dir / "wireguard.json")
    decode = ["-d", f"udp.port=={wg_port},wg"]
    wg_opts = ["-o", f"wg.keylog_file:{jail_daemon.config_dir / 'wg.keylog'}", *decode]
    initiations = fields(outer, wg_opts, "wg.type == 1", "wg.static", "wg.timestamp.nanoseconds")
    assert initiations and all(static == keys.client_public and nanos for static, nanos in initiations)
    sealed = fields(outer, decode, "wg.type == 1", "wg.ephemeral", "wg.static")
    assert sealed and all(
        row[0] and (len(row) == 1 or not row[1]) for row in sealed
    )  # no static key without wg.keylog
    transport = fields(outer, [*wg_opts, "-o", "wg.dissect_packet:TRUE"], "wg.type == 4", "frame.protocols")
    assert transport  # the tunnelled packets are in the outer capture ...
    assert all(row[0].endswith(":udp:wg") for row in transport)  # ... but static keys cannot open them
