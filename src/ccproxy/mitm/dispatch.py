"""A cached hook table for the master's AddonManager.

mitmproxy's `trigger_event` walks every addon (about sixty in a mitmweb master with ccproxy's chain)
for every event, with a `getattr` and a generator-based context manager per addon, and an `update`
event follows every flow event. At a dozen events per request that walk cost more CPU than all of
ccproxy's own addons (bench/proxy.py, profiled with py-spy). This table resolves, once per event name,
which addons implement it; the walk then only touches those. Semantics are mitmproxy's: chain order,
an `AddonHalt` stops the event, any other exception is logged as an addon error and the next addon
runs. Addons with sub-addons (mitmproxy's script loader) may change them at any time, so they are
walked live exactly as mitmproxy does.
"""

from __future__ import annotations

import inspect
import logging
import types
from collections.abc import Callable
from typing import Any

from mitmproxy import addonmanager, exceptions, hooks

logger = logging.getLogger("mitmproxy.addonmanager")

#: One chain member's part of an event: its bound hook method, or None when it has sub-addons and
#: must be walked live.
Entry = tuple[Any, Callable[..., Any] | None]


def _static(addon: Any) -> bool:
    return not any(hasattr(a, "addons") for a in addonmanager.traverse([addon]))


def _hook(addon: Any, name: str) -> Callable[..., Any] | None:
    func = getattr(addon, name, None)
    if not func or isinstance(func, types.ModuleType):
        return None
    if not callable(func):
        raise exceptions.AddonManagerError(f"Addon handler {name} ({addon}) not callable")
    return func  # type: ignore[no-any-return]


class HookTable(addonmanager.AddonManager):
    """`AddonManager` whose async event dispatch uses a per-event table rebuilt when the chain changes."""

    _table: dict[str, list[Entry]]
    _table_chain: list[Any] | None
    _table_len: int

    @classmethod
    def install(cls, manager: addonmanager.AddonManager) -> HookTable:
        """Turn the master's existing manager (default addons already added) into a HookTable."""
        manager.__class__ = cls
        table: HookTable = manager  # type: ignore[assignment]
        table._table, table._table_chain, table._table_len = {}, None, 0
        return table

    def _entries(self, name: str) -> list[Entry]:
        chain = self.chain
        if chain is not self._table_chain or len(chain) != self._table_len:
            self._table, self._table_chain, self._table_len = {}, chain, len(chain)
        entries = self._table.get(name)
        if entries is None:
            entries = []
            for addon in chain:
                if not _static(addon):
                    entries.append((addon, None))
                elif (func := _hook(addon, name)) is not None:
                    entries.append((addon, func))
            self._table[name] = entries
        return entries

    async def trigger_event(self, event: hooks.Hook) -> None:
        args: list[Any] | None = None
        for addon, func in self._entries(event.name):
            try:
                if func is None:
                    with addonmanager.safecall():
                        await self.invoke_addon(addon, event)
                    continue
                if args is None:
                    args = event.args()
                res = func(*args)
                if res is not None and inspect.isawaitable(res):
                    await res
            except exceptions.AddonHalt:
                return
            except exceptions.OptionsError:
                raise
            except Exception as exc:
                logger.error(f"Addon error: {exc}", exc_info=True)
