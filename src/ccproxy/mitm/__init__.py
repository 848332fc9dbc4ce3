"""Every patch of a mitmproxy internal, one module each, so upgrading mitmproxy is a one-folder job.

`install_all()` applies the process-wide ones before the master is built; `dispatch.HookTable`
needs the master's addon manager and is installed by the daemon when it has one. Each patch owns
the registry it reads (`errorpage._PAGES`, `bodywatch._BODY_WATCH`), and `tests/mitm/test_patches.py`
checks every private name they rely on against the installed mitmproxy. `answers.py` builds the
JSON answers ccproxy gives itself, which the error-page patch and the addons share.
"""

from __future__ import annotations


def install_all() -> None:
    """Apply every process-wide patch (idempotent): call once before the mitmproxy master is built."""
    from ccproxy.mitm import (
        bodywatch,
        broadcasts,
        errorpage,
        flowfiles,
        headerlimit,
        idletimeout,
        lean,
        webmask,
    )

    lean.skip_unused_addons()
    errorpage.install()
    broadcasts.quiet_broadcasts()
    webmask.install()  # after quiet_broadcasts: it replaces the same broadcast
    flowfiles.safe_flow_files()
    headerlimit.install()
    headerlimit.install_upstream()
    idletimeout.install()
    bodywatch.watch_response_bodies()
