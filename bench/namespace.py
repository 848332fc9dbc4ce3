"""The capture jail's cost: set-up time to the command's first instruction, and bulk throughput.

Run (as root: the test host lives in a network namespace this script creates and deletes):
    uv run python bench/namespace.py [--runs N] [--megabytes M]

Prints, as a table and as JSON:
- `run --inspect` set-up: wall time from starting `ccproxy run --inspect -- date` to `date` running
  (median, p90, min over N runs), next to plain `ccproxy run -- date` (CLI start-up alone);
- a download of M MB (default 50) from an HTTPS test host, direct from the host vs through the jail
  (curl's own transfer time, so jail set-up is not counted), HTTP/1.1 and HTTP/2.
Traffic goes only to 127.0.0.1 and the namespace the script creates.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.daemon import RunningDaemon, make_daemon  # noqa: E402
from tests.namespace.certs import ScratchCA  # noqa: E402
from tests.namespace.dns import DnsServer  # noqa: E402
from tests.namespace.fixtures import API_NAME, jail_settings, jail_skip_reason  # noqa: E402
from tests.namespace.testnet import HostNetns  # noqa: E402
from tests.namespace.upstream import Upstream  # noqa: E402

MB = 1024 * 1024


def setup_times(daemon: RunningDaemon, runs: int, inspect: bool) -> list[float]:
    """Seconds from spawning `ccproxy run [--inspect] -- date` to `date` reporting the clock."""
    mode = ["--inspect"] if inspect else []
    times = []
    for _ in range(runs):
        t0 = time.time()
        done = subprocess.run(
            daemon.command("run", *mode, "--", "date", "+%s.%N"),
            capture_output=True,
            text=True,
            timeout=120,
            env=daemon.env,
        )
        if done.returncode != 0:
            raise SystemExit(f"bench: run failed: {done.stderr}")
        times.append(float(done.stdout.strip()) - t0)
    return times


def curl_args(url: str, http: str) -> list[str]:
    return ["curl", "-sS", "-o", "/dev/null", http, "-w", "%{time_total} %{size_download}", url]


def throughput(argv: list[str]) -> float:
    """MB/s of one curl transfer as curl itself timed it."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv[:6])}... failed: {done.stderr}")
    seconds, size = done.stdout.strip().split()[-2:]
    return float(size) / MB / float(seconds)


def stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * 1000, 1),
        "min_ms": round(ordered[0] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="set-up samples")
    parser.add_argument("--megabytes", type=int, default=50, help="size of the download")
    args = parser.parse_args()
    reason = jail_skip_reason()
    if reason:
        raise SystemExit(f"bench: {reason}")

    work = Path(tempfile.mkdtemp(prefix="ccproxy-bench-ns-"))
    net = HostNetns()
    daemon: RunningDaemon | None = None
    upstream: Upstream | None = None
    try:
        ca = ScratchCA(work / "ca")
        cert, key = ca.issue("api", [API_NAME], [net.address])
        upstream = Upstream(net.socket(socket.AF_INET, socket.SOCK_STREAM, (net.address, 443)), cert, key)
        dns = DnsServer(
            net.socket(socket.AF_INET, socket.SOCK_DGRAM, (net.address, 53)), {API_NAME: net.address}
        )
        config = {**jail_settings(ca.pem_path, net.address), "log_level": "WARNING"}
        daemon = make_daemon(work / "cfg", None, config)
        daemon.start(timeout=60)

        plain = setup_times(daemon, args.runs, inspect=False)
        jailed = setup_times(daemon, args.runs, inspect=True)

        url = f"https://{API_NAME}/bytes?n={args.megabytes * MB}"
        direct_base = ["--cacert", str(ca.pem_path), "--resolve", f"{API_NAME}:443:{net.address}"]
        results: dict[str, object] = {
            "setup": {"run": stats(plain), "run --inspect": stats(jailed)},
            "download_mb": args.megabytes,
            "throughput_mb_s": {},
        }
        rates: dict[str, float] = {}
        for http in ("--http1.1", "--http2"):
            direct = curl_args(url, http)
            direct[1:1] = direct_base
            rates[f"direct {http[2:]}"] = throughput(direct)
            rates[f"jail {http[2:]}"] = throughput(
                daemon.command("run", "--inspect", "--", *curl_args(url, http))
            )
        results["throughput_mb_s"] = {k: round(v, 1) for k, v in rates.items()}
        dns.close()
    finally:
        if daemon is not None:
            daemon.stop()
        if upstream is not None:
            upstream.close()
        net.close()
        shutil.rmtree(work, ignore_errors=True)

    setup = results["setup"]
    assert isinstance(setup, dict)
    print(f"{'set-up to first instruction':<32} {'median':>9} {'p90':>9} {'min':>9}")
    for label, row in setup.items():
        print(f"  {label:<30} {row['median_ms']:>7.1f}ms {row['p90_ms']:>7.1f}ms {row['min_ms']:>7.1f}ms")
    print(f"{args.megabytes} MB download (MB/s, curl's transfer time)")
    for label, rate in rates.items():
        print(f"  {label:<30} {rate:>9.1f}")
    for http in ("http1.1", "http2"):
        print(f"  jail/direct {http:<18} {rates[f'jail {http}'] / rates[f'direct {http}']:>9.2f}x")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
