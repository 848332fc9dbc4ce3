"""`ccproxy namespace status|doctor|wireguard-config`: the transparent-capture jail, described and probed."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ccproxy.cli.common import load
from ccproxy.daemon.state import read_state, require_state
from ccproxy.errors import NamespaceError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "namespace",
        help="the `run --inspect` jail: facts, a live probe, the WireGuard client config",
        description="Inspect the transparent-capture jail that `ccproxy run --inspect` uses.",
    )
    commands = p.add_subparsers(dest="namespace_command", metavar="SUBCOMMAND", required=True)
    status = commands.add_parser(
        "status",
        help="implementation facts (no probing)",
        description="What the jail would do here, read from "
        "files and $PATH: mode, WireGuard config, slirp4netns topology, tools, privacy_claim (always false).",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output (safe to share)")
    status.set_defaults(func=run_status)
    doctor = commands.add_parser(
        "doctor",
        help="live probe through the jail (exit 1 when DNS, IPv4 or localhost fails)",
        description="Start a jail the way `run --inspect` does and check DNS (namespace.doctor.dns_name), a TLS "
        "connection to namespace.doctor.ipv4_target, and ccproxy on localhost. IPv6 is reported, never a failure.",
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.set_defaults(func=run_doctor)
    wg = commands.add_parser(
        "wireguard-config",
        help="print the raw WireGuard client config (holds a private key)",
        description="Print the WireGuard client config of this config dir's daemon. It holds a private key: "
        "anyone with it can send traffic into ccproxy. Do not share it.",
    )
    wg.set_defaults(func=run_wireguard_config)


def run_status(args: argparse.Namespace) -> int:
    from ccproxy.namespace.status import render_status, status_facts

    directory, config = load(args)
    doc = status_facts(directory, list(config.namespace.nameservers), read_state(directory))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        render_status(doc)
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from ccproxy.namespace.doctor import render_doctor
    from ccproxy.namespace.doctor import run_doctor as doctor
    from ccproxy.namespace.jail import JailOptions

    directory, config = load(args)
    state = require_state(directory)
    ns = config.namespace
    options = JailOptions(nameservers=list(ns.nameservers), stop_timeout=ns.stop_timeout)
    report = doctor(state, directory, options, ns.doctor.dns_name, ns.doctor.ipv4_target)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        render_doctor(report)
    return 0 if report["ok"] else 1


def run_wireguard_config(args: argparse.Namespace) -> int:
    from ccproxy.namespace.wgkeys import CLIENT_CONFIG_FILE

    directory, _config = load(args)
    path = directory / CLIENT_CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NamespaceError(
            f"no WireGuard client config at {path} yet; `ccproxy start` generates it for this config dir"
        ) from None
    print(
        "warning: this WireGuard config holds a private key; anyone with it can send traffic into ccproxy. "
        "Do not share it (share `ccproxy namespace status --json` instead).",
        file=sys.stderr,
    )
    sys.stdout.write(text)
    return 0
