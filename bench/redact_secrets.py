"""What `flows.redact_secrets` and the egress sentinel check cost per request body, beside the baseline
of doing nothing but `json.loads` of the same body (measured side by side, same process, same run).

Run: uv run python bench/redact_secrets.py [--kib N]
Prints milliseconds per body and the ratio to the json.loads baseline; no bar.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import common  # noqa: F401  (puts src on the path like the other benches)

from ccproxy.addons.sanitizer import sentinel_in_payload
from ccproxy.flows.secrets import detectors, redact_body


def body_of(kib: int) -> bytes:
    """An agent-like request: prose, code and a tool result with a few secrets, about `kib` KiB."""
    chunk = ("def handler(event):\n    return {'status': 200, 'path': event['path']}  # caf\u00e9 %20\n"
             "The user asked to fix the port handling in server.py; see the diff below.\n")
    text = chunk * max(1, kib * 1024 // len(chunk))
    tool = "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7ZZTESTQ\nDB_PASSWORD=correct-horse-battery\n"
    return json.dumps({"model": "m", "messages": [
        {"role": "user", "content": text},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": tool}]},
    ]}).encode()


def ms(fn: Callable[[], object], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kib", type=int, nargs="*", default=[16, 256, 1024])
    args = parser.parse_args()
    detectors()  # the one-time import of detect-secrets' plugins is not per-body work
    print(f"{'body':>8} {'json.loads':>11} {'sentinel check':>15} {'ratio':>6} {'redact_secrets':>15} {'ratio':>6}")
    for kib in args.kib:
        body = body_of(kib)
        base = ms(lambda b=body: json.loads(b))
        check = ms(lambda b=body: sentinel_in_payload(b, "application/json"))
        redact = ms(lambda b=body: redact_body(b, []))
        print(f"{len(body) // 1024:>6}Ki {base:>9.2f}ms {check:>13.2f}ms {check / base:>6.1f} "
              f"{redact:>13.2f}ms {redact / base:>6.1f}")


if __name__ == "__main__":
    main()
