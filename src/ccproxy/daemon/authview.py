"""`GET /ccproxy/auth` on mitmweb: every provider's credential check as the daemon itself resolves it.

`ccproxy status` runs in another process, often another shell: an `env` source it checks there says
nothing about the daemon's environment, which is the one requests are authenticated from. So it asks
the daemon, over mitmweb's token-protected REST, and says whose view it shows. The answer carries
only `ok` or the error message, never a credential, and for cached (`command`) credentials when each
was last resolved and until when it is used (`resolved`).
"""

from __future__ import annotations

import time
from typing import Any

from ccproxy.auth.resolver import CredentialResolver
from ccproxy.config.model import CCProxyConfig

AUTH_PATH = "/ccproxy/auth"


def install(master: Any, config: CCProxyConfig, resolver: CredentialResolver) -> None:
    """Add the route to the master's mitmweb app (its handlers require the web token, like `/flows`)."""
    from mitmproxy.tools.web.app import RequestHandler

    class AuthChecks(RequestHandler):
        async def get(self) -> None:
            checks = await resolver.check_all()
            doc = auth_doc(config, checks)
            doc["resolved"] = {n: info for n in doc["checks"] if (info := resolver.cache.info(n)) is not None}
            self.write(doc)

    master.app.add_handlers(r".*", [(AUTH_PATH, AuthChecks)])


def auth_doc(config: CCProxyConfig, checks: dict[str, str]) -> dict[str, Any]:
    """The providers that have a credential source, each `ok` or the reason it does not resolve."""
    return {
        "checked_at": time.time(),
        "checks": {name: result for name, result in checks.items() if config.providers[name].auth is not None},
    }
