"""`ccproxy init [--force]`: write the commented config template."""

from __future__ import annotations

import argparse
from typing import Any

from ccproxy.cli.common import resolve_dir


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="write a commented ccproxy.yaml into the config dir")
    p.add_argument("--force", action="store_true", help="overwrite an existing ccproxy.yaml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ccproxy.config.loader import write_template

    path = write_template(resolve_dir(args), force=args.force)
    print(f"wrote {path}")
    return 0
