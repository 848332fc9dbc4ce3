"""The library behind `ccproxy flows`: the CLI and the MCP server call these with the same semantics.

Every function works on one resolved set: all stored flows (oldest first) ->
`flows.default_jq_filters` -> each of `jq_filters` in order. Functions read the store directly,
so they work while the daemon is stopped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.errors import FlowError, UsageError
from ccproxy.flows import filters as jqf
from ccproxy.flows.store import FlowStore
from ccproxy.flows.stored import StoredFlow

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig
    from ccproxy.flows.changes import BodyDiff, Comparison

# compare/diff/HAR import their modules when called: `flows list` should not pay for difflib & co.


def store_path(config: CCProxyConfig, config_dir: Path) -> Path:
    path = Path(config.flows.store).expanduser()
    return path if path.is_absolute() else config_dir / path


@contextlib.contextmanager
def open_store(config: CCProxyConfig, config_dir: Path) -> Iterator[FlowStore | None]:
    """The store, or None before the daemon recorded its first flow."""
    path = store_path(config, config_dir)
    if not path.exists():
        yield None
        return
    store = FlowStore(path)
    try:
        yield store
    finally:
        store.close()


def _chain(config: CCProxyConfig, jq_filters: Sequence[str]) -> list[jqf.Filter]:
    return jqf.chain(config.flows.default_jq_filters, jq_filters)


def _ids(store: FlowStore, chain: list[jqf.Filter]) -> list[str]:
    if not chain:
        return store.ids()
    return jqf.select_ids(chain, store.docs_text())


def resolve_ids(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = ()) -> list[str]:
    chain = _chain(config, jq_filters)
    jqf.compile_all(chain)
    with open_store(config, config_dir) as store:
        return _ids(store, chain) if store else []


def resolve_json(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = ()) -> str:
    """The set as JSON text (no parsing in Python when there are no filters)."""
    return resolve_json_bytes(config, config_dir, jq_filters).decode("utf-8")


def resolve_json_bytes(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = ()) -> bytes:
    """The set as UTF-8 JSON, as fast as the store allows: what `flows list --json` writes to stdout."""
    chain = _chain(config, jq_filters)
    jqf.compile_all(chain)
    with open_store(config, config_dir) as store:
        if store is None:
            return b"[]"
        if not chain:
            return store.docs_bytes()
        return jqf.run(chain, store.docs_text()).encode("utf-8")


def resolve_set(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The flow JSON of every flow in the set (what `flows list --json` prints), in set order."""
    import json

    result = json.loads(resolve_json(config, config_dir, jq_filters))
    return list(result)


def conversations(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The set grouped by conversation (see `flows.conversation.conversations`), latest activity last."""
    from ccproxy.flows.conversation import conversations as group

    return group(resolve_set(config, config_dir, jq_filters))


def load(config: CCProxyConfig, config_dir: Path, ids: Sequence[str]) -> list[StoredFlow]:
    """Docs and bodies of `ids`, in that order."""
    with open_store(config, config_dir) as store:
        if store is None:
            return []
        return [StoredFlow(doc, store.parts(doc["id"])) for doc in store.docs(ids)]


def _match(prefix: str, ids: Sequence[str]) -> list[str]:
    low = prefix.lower()
    return [i for i in ids if i.lower().startswith(low)]


def find_id(config: CCProxyConfig, config_dir: Path, id_prefix: str, jq_filters: Sequence[str] = ()) -> str:
    """The one flow id in the set starting with `id_prefix`; errors say what to do."""
    prefix = id_prefix.strip()
    if not prefix:
        raise UsageError("give a flow id (any unique prefix, e.g. the 8 characters `flows list` shows)")
    chain = _chain(config, jq_filters)
    jqf.compile_all(chain)
    with open_store(config, config_dir) as store:
        if store is None:
            raise FlowError("no flows recorded yet; send traffic through `ccproxy start` first")
        in_store = store.match_prefix(prefix)
        hits = _match(prefix, _ids(store, chain)) if chain else in_store
    if len(hits) > 1:
        shown = ", ".join(h[:12] for h in hits[:5])
        raise UsageError(f"flow id prefix {prefix!r} is ambiguous: it matches {shown}; give more characters")
    if not hits:
        if in_store:
            raise FlowError(
                f"flow {in_store[0][:8]} exists but the jq filters (flows.default_jq_filters, --jq) leave it out"
            )
        raise FlowError(f"no stored flow id starts with {prefix!r}; `ccproxy flows list` shows the ids")
    return hits[0]


def get_flow(config: CCProxyConfig, config_dir: Path, id_prefix: str, jq_filters: Sequence[str] = ()) -> StoredFlow:
    flows = load(config, config_dir, [find_id(config, config_dir, id_prefix, jq_filters)])
    if not flows:
        raise FlowError(f"flow {id_prefix!r} was removed while it was being read")
    return flows[0]


def compare(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = ()) -> list[Comparison]:
    """For each flow: client vs forwarded request, then provider vs client response."""
    from ccproxy.flows.changes import compare as compare_one

    return [compare_one(f) for f in load(config, config_dir, resolve_ids(config, config_dir, jq_filters))]


def diff(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = (),
         phase: str = "request") -> list[BodyDiff]:
    """Sliding-window diffs of one phase's bodies (f0->f1, f1->f2, ...); needs at least two flows."""
    from ccproxy.flows.changes import sliding_diff

    ids = resolve_ids(config, config_dir, jq_filters)
    if len(ids) < 2:
        raise UsageError(
            f"flows diff needs at least 2 flows in the set, got {len(ids)}; widen the --jq filters "
            "(or send more traffic)"
        )
    return sliding_diff(load(config, config_dir, ids), phase)


def to_har(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = (),
           redacted: bool = True) -> dict[str, Any]:
    """A multi-page HAR 1.2 document of the set; credentials masked unless `redacted=False`."""
    from ccproxy.flows.har import to_har as build_har

    return build_har(load(config, config_dir, resolve_ids(config, config_dir, jq_filters)), masked=redacted)


def clear(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = (),
          all_flows: bool = False) -> list[str]:
    """Delete the set (or, with `all_flows`, every flow, ignoring all filters) from the store.

    Returns the ids removed; removing them from a running daemon's view is the caller's part
    (the CLI does it over mitmweb's REST API)."""
    if all_flows:
        with open_store(config, config_dir) as store:
            if store is None:
                return []
            ids = store.ids()
            store.delete_all()
            return ids
    ids = resolve_ids(config, config_dir, jq_filters)
    with open_store(config, config_dir) as store:
        if store is None or not ids:
            return []
        store.delete(ids)
    return ids
