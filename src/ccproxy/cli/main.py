"""Entry point: parse, dispatch to the command module, turn CCProxyError into one red line."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ccproxy import __version__
from ccproxy.errors import CCProxyError

#: command -> module under ccproxy.cli that has `register(subparsers)` and `run(args)`.
COMMANDS = {
    "init": "init",
    "start": "start",
    "stop": "stop",
    "status": "status",
    "run": "run",
    "logs": "logs",
    "flows": "flows",
    "shapes": "shapes",
    "namespace": "namespace",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccproxy",
        description="See and steer what LLM clients send over the wire.",
        epilog="Exit codes: 0 ok, 1 failure, 2 usage or config error; `status` service checks return a bitmask.",
    )
    parser.add_argument("--version", action="version", version=f"ccproxy {__version__}")
    parser.add_argument(
        "--config",
        metavar="DIR",
        help="config dir (default: $CCPROXY_CONFIG_DIR, else ~/.config/ccproxy)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _name, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f"ccproxy.cli.{module}")
        except ModuleNotFoundError:
            continue
        mod.register(sub)
    return parser


def error_line(message: str) -> None:
    red = "\x1b[31m" if sys.stderr.isatty() else ""
    reset = "\x1b[0m" if red else ""
    print(f"{red}error: {message}{reset}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except CCProxyError as exc:
        error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return int(code or 0)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
