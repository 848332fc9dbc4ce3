"""Transform overhead: a streamed answer direct vs through a `transform` rule, and the translators' own cost.

Run: uv run python bench/transform.py [--runs N]
1. Time to first byte and total time of a streamed answer (50 events, 20 ms apart from the fake):
   direct (Anthropic client -> fake), through ccproxy without translation (sentinel route), and
   through a `transform` rule (OpenAI Chat client -> ccproxy -> Anthropic fake). Medians of N runs
   on a keep-alive connection per target (as an SDK holds one); one run on a new connection is shown too.
2. Translation cost in-process: microseconds per request body (fixture-sized and a long
   agent conversation) and per streamed event, for every pair of formats.
The bar: transform adds < 10 ms to time-to-first-byte and < 5% to total time. Exit 1 when missed.
Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import httpx
from common import ROOT, Daemon, FakeProcess, free_port

from ccproxy.wire.neutral import ClientOptions
from ccproxy.wire.translate import StreamTranslator, translate_request

FORMATS = ("anthropic", "openai", "openai_responses", "gemini")
PAIRS = [(a, b) for a in FORMATS for b in FORMATS if a != b]
FIXTURES = ROOT / "tests" / "fixtures" / "wire"
EVENTS, DELAY = 50, 0.02


def stream_once(
    client: httpx.Client, url: str, headers: dict[str, str], body: dict[str, Any]
) -> tuple[float, float, int]:
    """(time to first body byte, total time, bytes) for one streamed request."""
    t0 = time.perf_counter()
    first = None
    size = 0
    with client.stream("POST", url, headers=headers, json=body) as resp:
        if resp.status_code != 200:
            raise SystemExit(f"bench: {url} answered {resp.status_code}: {resp.read()[:200]!r}")
        for chunk in resp.iter_raw():
            if first is None and chunk:
                first = time.perf_counter() - t0
            size += len(chunk)
    return first or float("nan"), time.perf_counter() - t0, size


Target = tuple[str, dict[str, str], dict[str, Any]]


def measure(targets: dict[str, Target], runs: int) -> dict[str, tuple[float, float]]:
    """Medians per target; one keep-alive client each (as an SDK holds one), runs interleaved."""
    clients = {name: httpx.Client(timeout=30) for name in targets}
    samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in targets}
    try:
        for name, target in targets.items():
            stream_once(clients[name], *target)  # warm up connections and code paths
        for _ in range(runs):  # interleaved, so drift hits every target alike
            for name, target in targets.items():
                samples[name].append(stream_once(clients[name], *target))
        cold = {}
        for name, target in targets.items():
            with httpx.Client(timeout=30) as fresh:
                cold[name] = stream_once(fresh, *target)[0] * 1000
    finally:
        for client in clients.values():
            client.close()
    out = {}
    for name, values in samples.items():
        ttfb = statistics.median(v[0] for v in values) * 1000
        total = statistics.median(v[1] for v in values) * 1000
        out[name] = (ttfb, total)
        print(
            f"{name:<18} ttfb p50 {ttfb:7.2f} ms   total p50 {total:8.1f} ms   {values[0][2]:>6} bytes"
            f"   (ttfb on a new connection {cold[name]:6.2f} ms)",
            flush=True,
        )
    return out


def streaming(runs: int) -> dict[str, tuple[float, float]]:
    fake = FakeProcess(sse_events=EVENTS, sse_delay=DELAY)
    web_port = free_port()
    rule = {"match_path": "^/v1/chat/completions$", "action": "transform", "dest_provider": "anthropic"}
    daemon = Daemon(fake.host, {"inspector": {"port": web_port, "transforms": [rule]}})
    daemon.web_port = web_port  # common.Daemon assumes its own inspector port; ours carries the rule
    anthropic_body = {
        "model": "bench",
        "max_tokens": 512,
        "stream": True,
        "messages": [{"role": "user", "content": "go"}],
    }
    chat_body = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    try:
        daemon.wait_healthy()
        return measure(
            {
                "direct": (fake.url + "/v1/messages", {"x-api-key": "direct"}, anthropic_body),
                "ccproxy route": (
                    daemon.url + "/v1/messages",
                    {"x-api-key": "sk-ant-oat-ccproxy-anthropic"},
                    anthropic_body,
                ),
                "ccproxy transform": (
                    daemon.url + "/v1/chat/completions",
                    {"authorization": "Bearer own"},
                    chat_body,
                ),
            },
            runs,
        )
    finally:
        daemon.stop()
        fake.stop()


def long_conversation(turns: int = 100) -> dict[str, Any]:
    """An agent session's worth of Anthropic messages: text, tool calls and results."""
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        messages.append(
            {"role": "user", "content": [{"type": "text", "text": f"step {i}: " + "context " * 60}]}
        )
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Running the tool. " * 5},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{i}",
                        "name": "bash",
                        "input": {"command": f"ls -la /tmp/{i}"},
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": "file\n" * 40}],
            }
        )
    messages.append({"role": "user", "content": "go on"})
    tools = [
        {
            "name": "bash",
            "description": "Run a command.",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
        }
    ]
    return {
        "model": "m",
        "max_tokens": 8192,
        "system": "You are an agent. " * 200,
        "tools": tools,
        "messages": messages,
    }


def per_call_us(fn: Any, min_seconds: float = 0.2) -> float:
    calls, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < min_seconds:
        fn()
        calls += 1
    return elapsed / calls * 1e6


def translation_costs() -> dict[str, float]:
    big = json.dumps(long_conversation()).encode()
    print(f"\nrequest translation (µs per request; the long one is {len(big) // 1024} KiB of Anthropic JSON)")
    worst: dict[str, float] = {"request": 0.0, "request_long": 0.0, "event": 0.0}
    for src, dst in PAIRS:
        raw = (FIXTURES / f"{src}_request.json").read_bytes()
        gem = {"path_model": "g", "path_stream": True} if src == "gemini" else {}
        small = per_call_us(
            lambda raw=raw, gem=gem, src=src, dst=dst: translate_request(raw, src, dst, **gem)
        )
        line = f"  {src:>16} -> {dst:<16} fixture {small:8.1f} µs"
        worst["request"] = max(worst["request"], small)
        if src == "anthropic":
            long = per_call_us(lambda dst=dst: translate_request(big, "anthropic", dst))
            worst["request_long"] = max(worst["request_long"], long)
            line += f"   long {long / 1000:7.2f} ms"
        print(line)
    print("\nstream translation (µs per upstream event)")
    for src, dst in PAIRS:
        raw = (FIXTURES / f"{src}_stream.sse").read_bytes()
        events = raw.count(b"\n\n") or raw.count(b"\r\n\r\n")

        def run(raw: bytes = raw, src: str = src, dst: str = dst) -> None:
            translator = StreamTranslator(src, dst, ClientOptions())
            for block in raw.split(b"\n\n"):
                translator(block + b"\n\n")
            translator(b"")

        us = per_call_us(run) / events
        worst["event"] = max(worst["event"], us)
        print(f"  {src:>16} -> {dst:<16} {us:7.1f} µs/event")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="streamed requests per target (median reported)")
    args = parser.parse_args()
    print(f"streamed answer: {EVENTS} events, {DELAY * 1000:.0f} ms apart, {args.runs} runs per target")
    stream = streaming(args.runs)
    worst = translation_costs()
    d_ttfb, d_total = stream["direct"]
    r_ttfb, r_total = stream["ccproxy route"]
    t_ttfb, t_total = stream["ccproxy transform"]
    added_ttfb, added_total = t_ttfb - d_ttfb, (t_total - d_total) / d_total * 100
    ok = added_ttfb < 10 and added_total < 5
    print()
    print(f"transform vs direct adds {added_ttfb:.2f} ms to time-to-first-byte (bar: < 10 ms)")
    print(f"transform vs direct adds {added_total:.2f}% to total time (bar: < 5%)")
    print(
        f"of which translation (transform vs route through the same daemon): {t_ttfb - r_ttfb:+.2f} ms ttfb, "
        f"{(t_total - r_total) / r_total * 100:+.2f}% total"
    )
    print(
        f"worst translation cost: {worst['request']:.0f} µs/request (fixture), {worst['request_long'] / 1000:.1f} ms/request "
        f"(long conversation), {worst['event']:.1f} µs/event"
    )
    print(f"{'PASS' if ok else 'FAIL'}   measured {time.strftime('%Y-%m-%d %H:%M')}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
