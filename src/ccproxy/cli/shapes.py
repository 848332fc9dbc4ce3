"""`ccproxy shapes save|list|show|audit`: thin wrappers over `ccproxy.shapes`.

Exit codes: 0 ok; 1 a failure (no matching flow, no shape, an audit found a broken invariant);
2 a usage or config error (unknown provider, bad --jq filter, bad shaping config).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ccproxy.cli.common import load

JQ_HELP = (
    "jq filter over the JSON array of flows (repeatable, applied after flows.default_jq_filters), "
    "e.g. 'map(select(.request.pretty_host == \"api.anthropic.com\"))'"
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "shapes",
        help="save, list, show and audit request shapes (captured envelopes replayed around live content)",
        description="A shape is the envelope (method, path, headers in order, body without its content "
        "fields) of a real request you captured. The `shape` outbound hook replays it around the live "
        "content of reverse-proxied or credential-injected requests. See docs/shaping.md.",
        epilog="Exit codes: 0 ok, 1 failure (no matching flow, no shape, broken invariant), 2 usage/config error.",
    )
    p.set_defaults(func=lambda args: _help(p))
    ssub = p.add_subparsers(dest="shapes_command", metavar="SUBCOMMAND")
    sp = ssub.add_parser(
        "save", help="save the newest matching 2xx flow's request as PROVIDER's shape",
        description="Takes the newest flow of the set (stored -> flows.default_jq_filters -> each --jq) "
        "whose request path matches shaping.providers.PROVIDER.capture.path_pattern and was answered "
        "2xx; writes its envelope, credentials and content fields removed, mode 0600.",
    )
    sp.add_argument("provider", metavar="PROVIDER")
    sp.add_argument("--mflow", action="store_true", help="write a request-only mitmproxy flow file (mitmdump -nr)")
    sp.add_argument("--jq", action="append", default=[], metavar="FILTER", help=JQ_HELP)
    sp.set_defaults(func=run_save)
    sp = ssub.add_parser("list", help="every saved shape: provider, form, source flow, endpoint")
    sp.add_argument("--json", action="store_true", help="machine-readable list")
    sp.set_defaults(func=run_list)
    sp = ssub.add_parser("show", help="one provider's shape: request line, headers in order, envelope body")
    sp.add_argument("provider", metavar="PROVIDER")
    sp.add_argument("--json", action="store_true", help="the shape as its JSON artifact (whatever its form)")
    sp.set_defaults(func=run_show)
    sp = ssub.add_parser(
        "audit", help="check every shape's invariants; exit 1 naming the file and the broken invariant",
        description="Invariants: well_formed, private_file, one_per_provider, known_provider, request_only, "
        "no_credentials, parseable_body, capture_pattern, content_fields_absent (see docs/shaping.md).",
    )
    sp.add_argument("--json", action="store_true", help='{"ok", "shapes_dir", "files": [{file, provider, '
                    'form, ok, problems: [{invariant, message}]}]}')
    sp.set_defaults(func=run_audit)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_save(args: argparse.Namespace) -> int:
    from ccproxy.shapes.api import save

    directory, config = load(args)
    saved = save(config, directory, args.provider, args.jq, args.mflow)
    shape, stripped = saved.shape, saved.shape.stripped
    print(f"saved {saved.provider}'s shape from flow {saved.flow_id[:8]} ({saved.endpoint}, "
          f"{shape.source.get('status_code')}) to {saved.file.path}")
    print(f"  envelope: {len(shape.headers)} headers, body keys {', '.join(shape.body) or '(none)'}")
    print(f"  removed: content fields {', '.join(stripped.get('content', [])) or '(none)'}; "
          f"headers {', '.join(stripped.get('headers', [])) or '(none)'}"
          + (f"; query {', '.join(stripped['query'])}" if stripped.get("query") else "")
          + (f"; body fields {', '.join(stripped['body'])}" if stripped.get("body") else ""))
    if saved.replaced is not None:
        print(f"  replaced {saved.replaced.name}: a provider has one shape")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from ccproxy.shapes.api import list_shapes
    from ccproxy.shapes.profile import shapes_dir

    directory, config = load(args)
    where = shapes_dir(config, directory)
    entries = list_shapes(config, directory)
    if args.json:
        sys.stdout.write(json.dumps(entries, indent=2) + "\n")
        return 0
    if not entries:
        print(f"no shapes in {where}; `ccproxy shapes save PROVIDER` saves one")
        return 0
    for e in entries:
        name = f"{e['provider']:<12} {e['form']:<5}"
        if "error" in e:
            print(f"{name} BROKEN {e['error']}")
            continue
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(e["captured_at"] or 0)))
        print(f"{name} {str(e['flow_id'] or '-')[:8]:<8} {when}  {e['method']} {e['host'] or ''}{e['path']}  "
              f"{e['headers']} headers, body keys: {', '.join(e['body_keys']) or '-'}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ccproxy.errors import ShapeError
    from ccproxy.shapes.api import endpoint
    from ccproxy.shapes.profile import shapes_dir
    from ccproxy.shapes.store import ShapeStore, check_name

    directory, config = load(args)
    store = ShapeStore(shapes_dir(config, directory))
    loaded = store.load(check_name(args.provider))
    if loaded is None:
        raise ShapeError(
            f"no shape saved for {args.provider!r} in {store.directory}; run `ccproxy shapes save {args.provider}`"
        )
    sf, shape = loaded
    if args.json:
        doc = {"file": str(sf.path), "form": sf.form, **shape.to_json()}
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return 0
    src = shape.source
    print(f"# {sf.path} ({sf.form}), captured from flow {str(src.get('flow_id') or '-')[:8]} "
          f"(status {src.get('status_code', '-')})")
    print(endpoint(shape))
    for k, v in shape.headers:
        print(f"{k}: {v}")
    print()
    print(json.dumps(shape.body, indent=2, ensure_ascii=False))
    return 0


def run_audit(args: argparse.Namespace) -> int:
    from ccproxy.shapes.audit import audit
    from ccproxy.shapes.profile import shapes_dir

    directory, config = load(args)
    where = shapes_dir(config, directory)
    reports = audit(config, where)
    ok = all(r.ok for r in reports)
    if args.json:
        doc = {"ok": ok, "shapes_dir": str(where), "files": [r.to_json() for r in reports]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0 if ok else 1
    if not reports:
        print(f"no shapes in {where}")
    for r in reports:
        if r.ok:
            print(f"ok    {r.file}")
        for p in r.problems:
            print(f"FAIL  {r.file}: [{p.invariant}] {p.message}")
    return 0 if ok else 1
