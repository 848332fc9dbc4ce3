"""Which hosts the forward proxy decrypts: the providers' hosts and `inspector.forward.intercept_hosts`.

Everything else is tunnelled byte for byte and never recorded: a forward proxy sees all of a
client's traffic, and ccproxy has no business reading the parts that are not LLM calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from ccproxy.config.model import CCProxyConfig


@dataclass(frozen=True)
class InterceptHosts:
    """A provider's host on its own port; `intercept_hosts` names: exact (any port, or `host:port`),
    plus `*.domain` patterns that match any subdomain (not the domain itself), on any port.

    A provider is matched by host *and* port: one at `127.0.0.1:9000` must not make every other
    service on that address readable."""

    exact: frozenset[str]
    suffixes: tuple[str, ...]
    endpoints: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def from_names(cls, names: list[str], endpoints: list[tuple[str, int]] | None = None) -> InterceptHosts:
        exact: set[str] = set()
        suffixes: list[str] = []
        pinned = {(normalize(h), p) for h, p in endpoints or []}
        for raw in names:
            name = normalize(raw)
            host, port = split_port(name)
            if port is not None:
                pinned.add((host, port))
            elif name.startswith("*."):
                suffixes.append(name[1:])
            elif name:
                exact.add(name)
        return cls(frozenset(exact), tuple(suffixes), frozenset(pinned))

    @classmethod
    def from_config(cls, config: CCProxyConfig) -> InterceptHosts:
        providers = [(p.hostname, p.port) for p in config.providers.values()]
        return cls.from_names(list(config.inspector.forward.intercept_hosts), providers)

    def matches(self, host: str, port: int) -> bool:
        name = normalize(host)
        return ((name, port) in self.endpoints or name in self.exact
                or any(name.endswith(suffix) for suffix in self.suffixes))

    def names(self) -> list[str]:
        pinned = sorted(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.endpoints)
        return pinned + sorted(self.exact) + sorted(f"*{s}" for s in self.suffixes)


def split_port(name: str) -> tuple[str, int | None]:
    """`host:port` (or `[v6]:port`) into its parts; a bare host or IPv6 address has no port."""
    if name.startswith("[") and "]:" in name:
        host, _, port = name[1:].partition("]:")
        return host, int(port) if port.isdigit() else None
    if name.count(":") == 1:
        host, _, port = name.partition(":")
        if port.isdigit():
            return host, int(port)
    return name, None


def normalize(host: str) -> str:
    """Lower case, no trailing dot, IPv6 brackets removed: the form CONNECT targets are compared in."""
    name = host.strip().lower().rstrip(".")
    return name[1:-1] if name.startswith("[") and name.endswith("]") else name
