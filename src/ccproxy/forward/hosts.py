"""Which hosts the forward proxy decrypts: the providers' hosts and `inspector.forward.intercept_hosts`.

Everything else is tunnelled byte for byte and never recorded: a forward proxy sees all of a
client's traffic, and ccproxy has no business reading the parts that are not LLM calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from ccproxy.config.model import CCProxyConfig


@dataclass(frozen=True)
class InterceptHosts:
    """Exact host names, plus `*.domain` patterns that match any subdomain (not the domain itself)."""

    exact: frozenset[str]
    suffixes: tuple[str, ...]

    @classmethod
    def from_names(cls, names: list[str]) -> InterceptHosts:
        exact: set[str] = set()
        suffixes: list[str] = []
        for raw in names:
            name = normalize(raw)
            if name.startswith("*."):
                suffixes.append(name[1:])
            elif name:
                exact.add(name)
        return cls(frozenset(exact), tuple(suffixes))

    @classmethod
    def from_config(cls, config: CCProxyConfig) -> InterceptHosts:
        providers = [p.hostname for p in config.providers.values()]
        return cls.from_names([*providers, *config.inspector.forward.intercept_hosts])

    def matches(self, host: str) -> bool:
        name = normalize(host)
        return name in self.exact or any(name.endswith(suffix) for suffix in self.suffixes)

    def names(self) -> list[str]:
        return sorted(self.exact) + sorted(f"*{s}" for s in self.suffixes)


def normalize(host: str) -> str:
    """Lower case, no trailing dot, IPv6 brackets removed: the form CONNECT targets are compared in."""
    return host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
