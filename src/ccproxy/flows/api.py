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
    from ccproxy.flows.har import Sink

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


def newest(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = (),
           limit: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """How many flows the set has, and the flow JSON of its newest `limit` (0: all), oldest first.

    Without filters only `limit` docs are read (an index scan from the newest end); with filters jq
    parses the set once and hands back just the tail, so a table of 50 never costs 10,000 rows."""
    import json

    chain = _chain(config, jq_filters)
    jqf.compile_all(chain)
    with open_store(config, config_dir) as store:
        if store is None:
            return 0, []
        if chain:
            tail = f".[-{limit}:]" if limit > 0 else "."
            total, docs = json.loads(jqf.run(chain, store.docs_text(), tail=f"[length, ({tail})]"))
            return int(total), list(docs)
        total = store.count()
        return total, store.newest_docs(limit if limit > 0 else -1)


def empty_reason(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = ()) -> str:
    """Why the set is empty: every `flows` command says it (on stderr) when its set is empty."""
    path = store_path(config, config_dir)
    if not path.exists():
        return (f"no flow store in config dir {config_dir} (looked for {path}); the daemon creates it when it "
                f"records its first flow: `ccproxy --config {config_dir} start`, then send traffic through it")
    with open_store(config, config_dir) as store:
        total = store.count() if store else 0
    if not total:
        return f"the flow store {path} has no flows (cleared, or none recorded yet)"
    return (f"no flows in the set: the jq filters (flows.default_jq_filters, --jq) leave none of the {total} "
            "stored flow(s)")


def iter_flows(config: CCProxyConfig, config_dir: Path, ids: Sequence[str], chunk: int = 32) -> Iterator[StoredFlow]:
    """Docs and bodies of `ids`, in that order, a chunk at a time: exports hold one flow's bodies, not the set's."""
    with open_store(config, config_dir) as store:
        if store is None:
            return
        for start in range(0, len(ids), chunk):
            for doc in store.docs(ids[start : start + chunk]):
                yield StoredFlow(doc, store.parts(doc["id"]))


def write_har(config: CCProxyConfig, config_dir: Path, out: Sink, jq_filters: Sequence[str] = (),
              redacted: bool = True) -> int:
    """Stream the set as one HAR 1.2 document into `out`, flow by flow; returns how many flows it has."""
    from ccproxy.flows.har import write_har as stream

    ids = resolve_ids(config, config_dir, jq_filters)
    return stream(iter_flows(config, config_dir, ids), out, masked=redacted)


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
    if not ids:
        return []  # an empty set is an answer (docs/flows.md); one flow is not enough to diff
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


def store_status(config: CCProxyConfig, config_dir: Path) -> dict[str, Any]:
    """The `store` section of `ccproxy status`: where the store is and what the daemon's writer counted
    (since its last start): flows written, flows lost and why, flows waiting in the spill file."""
    from ccproxy.flows.writer import read_stats

    path = store_path(config, config_dir)
    stats = read_stats(path) or {}
    return {
        "path": str(path),
        "exists": path.exists(),
        "flows_written": stats.get("written"),
        "flows_lost": stats.get("lost", 0),
        "last_loss": stats.get("last_loss"),
        "spill_pending": stats.get("spill_pending", 0),
        "updated_at": stats.get("updated_at"),
    }


def store_status_line(doc: dict[str, Any]) -> str:
    """One line of `ccproxy status` text for the `store` section."""
    if not doc["exists"]:
        return f"flow store: none yet at {doc['path']}"
    line = f"flow store: {doc['path']}"
    if doc["flows_written"] is not None:
        line += f", {doc['flows_written']} flow(s) written since the daemon started"
    if doc["spill_pending"]:
        line += f", {doc['spill_pending']} waiting in the spill file"
    if doc["flows_lost"]:
        cause = (doc["last_loss"] or {}).get("cause", "?")
        line += f"\n[red]{doc['flows_lost']} flow(s) could not be stored[/red]; last cause: {cause}"
    return line
