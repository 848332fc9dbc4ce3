"""Long agent sessions read back: `flows tree|cache|lint`, the live viewer's data, and the store writer's cost
per flow, this tree against a baseline checkout, side by side.

Run: uv run python bench/sessions.py [--turns 1000] [--sessions 10 --session-turns 300] [--baseline /work/main]

Builds two stores of Claude Code-shaped sessions (a ~30 KB system prompt and tool schemas, each turn
adding an answer with a tool call and a ~2 KB tool result, the cache mark moving to the newest message;
1,000 turns end at a ~2 MB request): one with the baseline's code (its schema), one with this tree's
(its writer computes session facts). Then, per store and per code: `ccproxy flows tree|cache|lint
--json` wall time and peak RSS (each a fresh process), the viewer's light blob built cold and again
after one new flow (in one process, as the daemon's viewer worker keeps it), and the store's `put`
cost per flow (what the writer process spends). Also how long this tree takes to upgrade the
baseline's store in place (schema migration plus facts computed from the stored bodies).
Figures depend on the machine's load: compare the two columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_WORDS = ["the", "store", "flow", "body", "chunk", "request", "agent", "turn", "message", "tool", "result", "file", "line", "code", "test", "value", "error", "read", "write", "path", "index", "table", "page", "answer", "stream", "event", "proxy", "client", "provider", "model", "token", "session", "cache"]

# -- building a store (runs under either checkout's python: only modules both have) ---------------------------


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def _web(fid: str, ts: float) -> dict[str, object]:
    return {
        "id": fid, "type": "http", "timestamp_created": ts, "intercepted": False, "is_replay": None,
        "modified": False, "marked": "", "comment": "",
        "request": {"method": "POST", "scheme": "http", "host": "127.0.0.1", "port": 9999, "path": "/v1/messages",
                    "http_version": "HTTP/1.1", "headers": [["content-type", "application/json"]],
                    "timestamp_start": ts, "timestamp_end": ts + 0.001, "pretty_host": "127.0.0.1"},
        "response": {"http_version": "HTTP/1.1", "status_code": 200, "reason": "OK",
                     "headers": [["content-type", "text/event-stream"]], "timestamp_start": ts + 0.3,
                     "timestamp_end": ts + 2.0},
    }


def _sse(turn: int, usage: dict[str, int]) -> bytes:
    events = [
        ("message_start", {"type": "message_start", "message": {
            "id": f"msg_{turn}", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [], "stop_reason": None, "usage": usage}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": f"toolu_{turn:06d}", "name": "Read", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {
            "type": "input_json_delta", "partial_json": json.dumps({"path": f"src/m{turn}.py"})}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 60}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(f"event: {n}\ndata: {json.dumps(d)}\n\n".encode() for n, d in events)


def _records(session: int, turns: int, t0: float):  # type: ignore[no-untyped-def]
    from ccproxy.flowmeta import ClientRequest, FlowMeta, UpstreamResponse
    from ccproxy.store.record import Captured, build_record
    from ccproxy.store.sse import SSEParser

    rng = random.Random(session)
    system = [{"type": "text", "text": _words(rng, 2000), "cache_control": {"type": "ephemeral"}}]
    tools = [{"name": f"tool_{i}", "description": _words(rng, 80), "input_schema": {"type": "object"}}
             for i in range(20)]
    messages: list[dict[str, object]] = [{"role": "user", "content": [
        {"type": "text", "text": f"session {session}: " + _words(rng, 30), "cache_control": {"type": "ephemeral"}}]}]
    sid = f"{session:08x}-5e55-4000-8000-000000000000"
    for turn in range(turns):
        ts = t0 + turn * 4.0
        body = {"model": "claude-sonnet-4-5", "max_tokens": 4096, "system": system, "tools": tools,
                "messages": messages, "metadata": {"user_id": f"session_{sid}"}}
        raw = json.dumps(body).encode()
        usage = {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 9000 + 600 * turn,
                 "cache_creation_input_tokens": 600}
        sse = _sse(turn, usage)
        events = SSEParser().feed(sse, now=ts + 0.3)
        meta = FlowMeta(source="reverse", provider="anthropic", auth_injected=True, session_id=sid)
        meta.client_request = ClientRequest("POST", "http://127.0.0.1:4000/v1/messages", "HTTP/1.1",
                                            [("content-type", "application/json")], raw, ts)
        meta.upstream_response = UpstreamResponse(200, "OK", [("content-type", "text/event-stream")], sse)
        meta.upstream_events, meta.client_events = events, list(events)
        fid = f"{session:04x}{turn:04x}-0000-4000-8000-000000000000"
        yield build_record(Captured(web=_web(fid, ts), meta=meta, request_body=raw, response_body=sse))
        old = [{**m, "content": [{k: v for k, v in b.items() if k != "cache_control"} for b in m["content"]]}  # type: ignore[attr-defined]
               for m in messages[-1:]]
        messages = [*messages[:-1], *old,
                    {"role": "assistant", "content": [{"type": "text", "text": "ok"}, {
                        "type": "tool_use", "id": f"toolu_{turn:06d}", "name": "Read",
                        "input": {"path": f"src/m{turn}.py"}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{turn:06d}",
                                                  "content": _words(rng, 330), "cache_control": {"type": "ephemeral"}}]}]


def build(directory: Path, plan: list[int], extra: bool) -> None:
    """Write the sessions of `plan` (turns per session) into DIR/flows.sqlite3; print put ms per flow.
    With `extra`, hold back each session's last turn in DIR/extra.pickle (the "new flow" of the viewer)."""
    import pickle

    from ccproxy.store.db import FlowStore

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ccproxy.yaml").write_text("ccproxy:\n  flows:\n    retention:\n      max_count: 1000000\n"
                                            "      max_age_days: 36500\n")
    small: list[float] = []
    large: list[float] = []
    held = []
    t0 = time.time() - 86400
    with FlowStore(directory / "flows.sqlite3", create=True) as store:
        for session, turns in enumerate(plan):
            for turn, rec in enumerate(_records(session, turns, t0 + session * 10_000)):
                if extra and turn == turns - 1 and session == len(plan) - 1:
                    held.append(rec)
                    continue
                start = time.perf_counter()
                store.put([rec])
                (small if turn < 20 else large).append(time.perf_counter() - start)
    (directory / "extra.pickle").write_bytes(pickle.dumps(held))
    print(json.dumps({"put_ms_first_turns": 1000 * sum(small) / max(1, len(small)),
                      "put_ms_later_turns": 1000 * sum(large) / max(1, len(large)),
                      "flows": len(small) + len(large)}))


# -- measuring (runs under either checkout's python) -----------------------------------------------------------


def viewer(directory: Path) -> None:
    """The viewer's blob: built cold, then after one new flow (median of three polls' worth each)."""
    import pickle

    from ccproxy.config.model import CCProxyConfig
    from ccproxy.flows.library import FlowLibrary
    from ccproxy.store.db import FlowStore
    try:
        from ccproxy.viewer.worker import LiveData
    except ImportError:  # the baseline
        from ccproxy.viewer.web import LiveData  # type: ignore[no-redef,attr-defined]

    live = LiveData(FlowLibrary(CCProxyConfig(), directory))
    start = time.perf_counter()
    size = len(live.get())
    cold = time.perf_counter() - start
    extra = pickle.loads((directory / "extra.pickle").read_bytes())
    news, wholes = [], []
    for _ in range(3):  # the new flow, then written again under its id (a replay) twice: median of three
        with FlowStore(directory / "flows.sqlite3") as store:
            store.put(extra)
        start = time.perf_counter()
        live.get()
        news.append(time.perf_counter() - start)
        if not hasattr(live, "fragments"):  # the baseline: its replays kept their rowid, nothing was rebuilt
            break
        wholes.append(_whole(live))  # the same answer rebuilt whole, as before per-session parts were kept
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"cold_ms": cold * 1000, "new_flow_ms": statistics.median(news) * 1000, "blob_kb": size / 1024,
                      "peak_mb": peak, "whole_rebuild_ms": statistics.median(wholes) * 1000 if wholes else None}))


def _whole(live: Any) -> float:
    """Seconds the old path takes for the same set: `light_data` over every shown flow, dumped whole."""
    from ccproxy.flows.library import request_bodies
    from ccproxy.viewer.data import light_data

    start = time.perf_counter()
    with live.library.open() as store:
        data = light_data([live.facts[k] for k in live.key if k in live.facts], live.docs, request_bodies(store),
                          verdicts=live.verdicts, prices=live.library.config.prices)
    json.dumps(data, ensure_ascii=False, default=str).encode()
    return time.perf_counter() - start


def upgrade(directory: Path) -> None:
    from ccproxy.store.db import FlowStore

    start = time.perf_counter()
    with FlowStore(directory / "flows.sqlite3") as store:
        opened = time.perf_counter() - start
        refresh = getattr(store, "refresh_facts", None)
        count = refresh() if refresh else 0
    print(json.dumps({"open_s": opened, "facts_s": time.perf_counter() - start - opened, "facts": count}))


# -- the driver (this checkout) ---------------------------------------------------------------------------------


def timed_cli(python: str, directory: Path, *cmd: str) -> tuple[float, float, float]:
    """A `ccproxy` command's wall time, peak RSS and CPU time (a loaded machine stretches wall time)."""
    script = ("import resource, subprocess, sys, time\n"
              "t = time.perf_counter()\n"
              "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
              "w = time.perf_counter() - t\n"
              "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
              "print(w, u.ru_maxrss / 1024, u.ru_utime + u.ru_stime)\n")
    res = subprocess.run([sys.executable, "-c", script, python, "-m", "ccproxy.cli.main", "--config", str(directory),
                          *cmd], capture_output=True, text=True, check=True)
    wall, rss, cpu = res.stdout.split()
    return float(wall), float(rss), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--session-turns", type=int, default=300)
    parser.add_argument("--baseline", default="/work/main", help="a checkout whose .venv runs the old code")
    parser.add_argument("--build", help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--viewer", help=argparse.SUPPRESS)
    parser.add_argument("--upgrade", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        return build(Path(args.build), [int(t) for t in args.plan.split(",")], extra=True)
    if args.viewer:
        return viewer(Path(args.viewer))
    if args.upgrade:
        return upgrade(Path(args.upgrade))

    old_py = str(Path(args.baseline) / ".venv" / "bin" / "python")
    new_py = str(ROOT / ".venv" / "bin" / "python")
    me = str(Path(__file__).resolve())
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-bench-sessions-"))
    print("figures on a shared, loaded machine: compare the columns of one run")
    try:
        for label, plan in ((f"one {args.turns}-turn session", [args.turns]),
                            (f"{args.sessions} x {args.session_turns}-turn sessions",
                             [args.session_turns] * args.sessions)):
            print(f"\n== {label} ==")
            dirs = {}
            for name, py in (("old", old_py), ("new", new_py)):
                d = tmp / f"{name}-{len(plan)}"
                out = subprocess.run([py, me, "--build", str(d), "--plan", ",".join(map(str, plan))],
                                     capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": ""})
                dirs[name] = d
                built = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"store put, {name}: {built['put_ms_first_turns']:.1f} ms/flow (first 20 turns), "
                      f"{built['put_ms_later_turns']:.1f} ms/flow (later turns), {built['flows']} flows")
            with open(dirs["new"] / "extra.pickle", "rb") as fh:
                import pickle

                last = pickle.load(fh)
            if last:
                print(f"last request: {len(last[0].parts['client_request']) / 1e6:.2f} MB")
            upgraded = tmp / f"upgraded-{len(plan)}"
            shutil.copytree(dirs["old"], upgraded)
            out = subprocess.run([new_py, me, "--upgrade", str(upgraded)], capture_output=True, text=True, check=True)
            up = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"upgrade of the old store by the new code: schema {up['open_s']:.1f} s, "
                  f"facts for {up['facts']} flows {up['facts_s']:.1f} s")
            print(f"{'command':<14} {'old s':>8} {'CPU s':>8} {'old MB':>8} {'new s':>8} {'CPU s':>8} {'new MB':>8}"
                  f" {'speed-up':>9}")
            for cmd in (("flows", "tree", "--json"), ("flows", "cache", "--json"), ("flows", "lint", "--json")):
                ow, orss, ocpu = timed_cli(old_py, dirs["old"], *cmd)
                nw, nrss, ncpu = timed_cli(new_py, dirs["new"], *cmd)
                print(f"{' '.join(cmd[:2]):<14} {ow:8.2f} {ocpu:8.2f} {orss:8.0f} {nw:8.2f} {ncpu:8.2f} {nrss:8.0f}"
                      f" {ow / nw:8.1f}x")
            print(f"{'--help (start-up)':<14} " + "   ".join(
                f"{name} {timed_cli(py, dirs[name], '--help')[2]:.2f} CPU s" for name, py in (("old", old_py),
                                                                                          ("new", new_py))))
            for name, py in (("old", old_py), ("new", new_py)):
                out = subprocess.run([py, me, "--viewer", str(dirs[name])], capture_output=True, text=True,
                                     check=True, env={**os.environ, "PYTHONPATH": ""})
                v = json.loads(out.stdout.strip().splitlines()[-1])
                whole = (f" (the same, rebuilt whole as before: {v['whole_rebuild_ms']:.1f} ms)"
                         if v.get("whole_rebuild_ms") else "")
                print(f"viewer blob, {name}: cold {v['cold_ms']:.0f} ms, after one new flow {v['new_flow_ms']:.1f} ms"
                      f"{whole}, {v['blob_kb']:.0f} KB, process peak {v['peak_mb']:.0f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
