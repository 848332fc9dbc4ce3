"""Name resolution inside the jail: through the tunnel, never through a host-side resolver daemon."""

from __future__ import annotations

import os
from pathlib import Path

RESOLV_CONF = "/etc/resolv.conf"
NSSWITCH_CONF = "/etc/nsswitch.conf"
#: NSS host sources that answer without sending DNS packets the tunnel would carry.
LOCAL_SOURCES = ("files", "myhostname")


def resolv_conf(nameservers: list[str], host_text: str) -> str:
    """The jail's resolv.conf: our nameservers, the host's search domains and options."""
    lines = [f"nameserver {ns}" for ns in nameservers]
    for raw in host_text.splitlines():
        words = raw.split()
        if words and words[0] in ("search", "domain", "options"):
            lines.append(" ".join(words))
    return "\n".join(lines) + "\n"


def nsswitch_conf(host_text: str) -> str | None:
    """The host's nsswitch.conf with `hosts:` reduced to files/myhostname/dns, or None when it already is.

    systemd-resolved's `resolve` and Avahi's `mdns*` modules ask a host daemon over a Unix socket,
    which would resolve names outside the tunnel (and outside the capture).
    """
    out: list[str] = []
    changed = False
    for raw in host_text.splitlines():
        key, sep, rest = raw.partition(":")
        if sep and key.strip() == "hosts":
            sources = [w for w in rest.split() if not w.startswith("[")]
            kept = [w for w in sources if w in LOCAL_SOURCES]
            new = [*kept, "dns"]
            if new != sources or "[" in rest:
                changed = True
                raw = "hosts:          " + " ".join(new)
        out.append(raw)
    return "\n".join(out) + "\n" if changed else None


def plan_resolver(private_dir: Path, nameservers: list[str]) -> list[tuple[str, str]]:
    """Write the jail's resolver files into `private_dir`; return the bind mounts (source, target)."""
    mounts: list[tuple[str, str]] = []
    target = os.path.realpath(RESOLV_CONF)
    host_text = Path(target).read_text(encoding="utf-8", errors="replace") if os.path.isfile(target) else ""
    if os.path.isfile(target):
        path = private_dir / "resolv.conf"
        path.write_text(resolv_conf(nameservers, host_text), encoding="utf-8")
        mounts.append((str(path), target))
    try:
        nss = nsswitch_conf(Path(NSSWITCH_CONF).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        nss = None
    if nss is not None:
        path = private_dir / "nsswitch.conf"
        path.write_text(nss, encoding="utf-8")
        mounts.append((str(path), os.path.realpath(NSSWITCH_CONF)))
    return mounts
