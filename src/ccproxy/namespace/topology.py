"""The jail's fixed network layout: slirp4netns defaults plus the WireGuard tunnel and its policy route."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: Where mitmproxy's WireGuard server answers DNS itself (its client config says `DNS = 10.0.0.53`).
MITMPROXY_DNS = "10.0.0.53"


@dataclass(frozen=True)
class Topology:
    """Addresses inside the jail; slirp4netns `--configure` picks the TAP side, we pick the tunnel side."""

    tap: str = "tap0"
    tap_address: str = "10.0.2.100/24"
    gateway: str = "10.0.2.2"  # slirp4netns maps this to the host's 127.0.0.1
    slirp_dns: str = "10.0.2.3"  # slirp4netns' own forwarder; unused, the jail resolves through the tunnel
    tap_mtu: int = 65520
    wg_interface: str = "wg0"
    wg_address: str = "10.0.0.1/32"
    wg_mtu: int = 1420
    #: Only packets carrying this mark (the WireGuard socket's own) may use the TAP; all else goes to wg0.
    fwmark: int = 51820
    route_table: int = 51820
    rule_priority: int = 100

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


TOPOLOGY = Topology()
