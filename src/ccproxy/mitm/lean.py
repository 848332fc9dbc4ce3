"""Keep two of mitmproxy's default addons, and their heavy imports, out of the daemon.

`mitmproxy.addons` imports every default addon when it is first imported. Two of them serve nothing
ccproxy runs: `onboarding` (the mitm.it certificate pages, built on Flask; `run --inspect` injects
the CA itself) and `proxyauth` (authentication for regular and upstream proxy modes, built on
ldap3, whose option applies to every listener; the forward listener's credential is checked by
`addons/forward.py`). Their imports took about a third of a
second of every start (bench/proxy.py). Empty addons stand in for them, so the master has no
`onboarding*` or `proxyauth` options and mitm.it is not served.
"""

from __future__ import annotations

import sys
import types

UNUSED = {"onboarding": "Onboarding", "proxyauth": "ProxyAuth"}


def skip_unused_addons() -> None:
    """Must run before anything imports `mitmproxy.addons`; afterwards it changes nothing."""
    if "mitmproxy.addons" in sys.modules:
        return
    for module, cls in UNUSED.items():
        name = f"mitmproxy.addons.{module}"
        stub = types.ModuleType(name, f"ccproxy: mitmproxy's {module} addon is not used by the daemon.")
        setattr(stub, cls, type(cls, (), {"__doc__": f"Stands in for mitmproxy's {cls}; does nothing."}))
        sys.modules.setdefault(name, stub)
