"""tls.keylog and wg.keylog: 0600 files in the config dir that tshark uses to read a capture of the jail.

Two captures of one jailed request: the UDP tunnel on the host's loopback (wg.keylog decrypts its
handshake: who the client is) and the tunnel's inside on wg0 (tls.keylog decrypts the HTTP).
WireGuard's transport data needs an ephemeral key no implementation here exports, so the outer
capture alone cannot show the HTTP; docs/privacy.md says so.
"""

from __future__ import annotations

import selectors
import shutil
import signal
import subprocess
import sys
import textwrap
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
for _ in range(600):
    s.sendto(b"ccproxy-sync", (sys.argv[1], int(sys.argv[2])))
    time.sleep(0.05)
"""


@contextmanager
def capture(prefix: list[str], iface: str, bpf: str, out: Path, sync: tuple[str, int]) -> Iterator[None]:
    """tshark writing to `out` until the block ends. "Capturing on" comes before packets really are,
    so datagrams to `sync` are sent (from inside `prefix`) until tshark reports one."""
    argv = [*prefix, "tshark", "-i", iface, "-l", "-P", "-a", "duration:120", "-w", str(out)]
    if bpf:
        argv += ["-f", bpf]
    err = out.with_suffix(".err").open("w")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
    sender = subprocess.Popen([*prefix, sys.executable, "-c", SYNC_LOOP, sync[0], str(sync[1])])
    try:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout=20) and proc.stdout.readline()
        sel.close()
        assert ready, out.with_suffix(".err").read_text()
        sender.kill()
        sender.wait(10)
        yield
    finally:
        sender.kill()
        sender.wait(10)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
        err.close()


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


@pytest.mark.skip(
    reason="flaky on a loaded machine: the in-jail capture of wg0 sometimes holds only the sync datagrams; "
    "see the closing note of issue 6"
)
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
        """
    )
    sync_port = free_port()
    with capture([], "lo", f"udp port {wg_port} or udp port {sync_port}", outer, ("127.0.0.1", sync_port)):
        jail = JailRun(jail_daemon, [sys.executable, "-c", request], stdin=True)
        try:
            jail.read_until("READY")
            snap = jail.snapshot(marker)
            helper = next(p for p, (_s, cmd) in snap.processes.items() if "ccproxy.namespace.inside" in cmd)
            in_jail = ["nsenter", f"--target={helper}", "--net", "--"]
            with capture(in_jail, "wg0", "", inner, (test_host.address, 9)):
                assert jail.proc.stdin is not None
                jail.proc.stdin.write("go\n")
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
    assert fields(outer, wg_opts, "wg.type == 4", "wg.counter")  # the transport data is there, still sealed
