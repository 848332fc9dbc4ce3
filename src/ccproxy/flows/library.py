"""`FlowLibrary`: one config dir's recorded flows, as the CLI, the MCP tools and the viewer all read them.

Every set is resolved one way, here only: all stored flows (oldest first) ->
`flows.default_jq_filters` -> each of the caller's jq filters in order. The store is read directly,
so the library works while the daemon is stopped. Callers shape the answers (tables, pages, the
viewer's blob); what is in the set, and the errors for a missing or ambiguous flow, are decided here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.errors import FlowError, UsageError
from ccproxy.flows import filters as jqf
from ccproxy.store import api
from ccproxy.store.db import FlowStore
from ccproxy.store.stored_flow import StoredFlow

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig
    from ccproxy.flows.changes import BodyDiff, Comparison
    from ccproxy.flows.har import Sink
    from ccproxy.store.facts import Facts

# compare/diff/HAR/sessions import their modules when called: `flows list` should not pay for difflib & co.

Jq = Sequence[str]


class FlowLibrary:
    """The flow sets of one config dir's store; cheap to build (the store is opened per call)."""

    def __init__(self, config: CCProxyConfig, config_dir: Path) -> None:
        self.config = config
        self.config_dir = config_dir
        self.store_path = api.store_path(config, config_dir)

    def __repr__(self) -> str:
        return f"FlowLibrary({self.store_path})"

    # -- the one resolution --------------------------------------------------------------------

    def open(self) -> AbstractContextManager[FlowStore | None]:
        """The store, or None before the daemon recorded its first flow."""
        return api.open_store(self.config, self.config_dir)

    def _chain(self, jq_filters: Jq) -> list[jqf.Filter]:
        """The config's default filters, then the caller's; all compiled first, so a bad one is a
        usage error before any flow is read."""
        chain = jqf.chain(self.config.flows.default_jq_filters, jq_filters)
        jqf.compile_all(chain)
        return chain

    @staticmethod
    def _select(store: FlowStore, chain: list[jqf.Filter]) -> list[str]:
        return jqf.select_ids(chain, store.docs_text()) if chain else store.ids()

    # -- the set ---------------------------------------------------------------------------------

    def ids(self, jq_filters: Jq = ()) -> list[str]:
        chain = self._chain(jq_filters)
        with self.open() as store:
            return self._select(store, chain) if store else []

    def json_bytes(self, jq_filters: Jq = ()) -> bytes:
        """The set as UTF-8 JSON, as fast as the store allows: what `flows list --json` writes to stdout."""
        chain = self._chain(jq_filters)
        with self.open() as store:
            if store is None:
                return b"[]"
            if not chain:
                return store.docs_bytes()
            return jqf.run(chain, store.docs_text()).encode("utf-8")

    def json_text(self, jq_filters: Jq = ()) -> str:
        """The set as JSON text (no parsing in Python when there are no filters)."""
        return self.json_bytes(jq_filters).decode("utf-8")

    def docs(self, jq_filters: Jq = ()) -> list[dict[str, Any]]:
        """The flow JSON of every flow in the set (what `flows list --json` prints), in set order."""
        return list(json.loads(self.json_text(jq_filters)))

    def newest(self, jq_filters: Jq = (), limit: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """How many flows the set has, and the flow JSON of its newest `limit` (0: all), oldest first.

        Without filters only `limit` docs are read (an index scan from the newest end); with filters jq
        parses the set once and hands back just the tail, so a table of 50 never costs 10,000 rows."""
        chain = self._chain(jq_filters)
        with self.open() as store:
            if store is None:
                return 0, []
            if chain:
                tail = f".[-{limit}:]" if limit > 0 else "."
                total, docs = json.loads(jqf.run(chain, store.docs_text(), tail=f"[length, ({tail})]"))
                return int(total), list(docs)
            total = store.count()
            return total, store.newest_docs(limit if limit > 0 else -1)

    def empty_reason(self, jq_filters: Jq = ()) -> str:
        """Why the set is empty: every `flows` command says it (on stderr) when its set is empty."""
        path, config_dir = self.store_path, self.config_dir
        if not path.exists():
            return (f"no flow store in config dir {config_dir} (looked for {path}); the daemon creates it when it "
                    f"records its first flow: `ccproxy --config {config_dir} start`, then send traffic through it")
        with self.open() as store:
            total = store.count() if store else 0
        if not total:
            return f"the flow store {path} has no flows (cleared, or none recorded yet)"
        return (f"no flows in the set: the jq filters (flows.default_jq_filters, --jq) leave none of the {total} "
                "stored flow(s)")

    # -- flows with their bodies -------------------------------------------------------------------

    def load(self, ids: Sequence[str]) -> list[StoredFlow]:
        """Docs and bodies of `ids`, in that order."""
        with self.open() as store:
            if store is None:
                return []
            return [StoredFlow(doc, store.parts(doc["id"])) for doc in store.docs(ids)]

    def load_set(self, jq_filters: Jq = ()) -> list[StoredFlow]:
        return self.load(self.ids(jq_filters))

    def iter_flows(self, ids: Sequence[str], chunk: int = 32) -> Iterator[StoredFlow]:
        """Docs and bodies of `ids`, in that order, a chunk at a time: exports hold one flow's bodies, not the set's."""
        with self.open() as store:
            if store is None:
                return
            for start in range(0, len(ids), chunk):
                for doc in store.docs(ids[start : start + chunk]):
                    yield StoredFlow(doc, store.parts(doc["id"]))

    def find_id(self, id_prefix: str, jq_filters: Jq = ()) -> str:
        """The one flow id in the set starting with `id_prefix`; errors say what to do."""
        prefix = id_prefix.strip()
        if not prefix:
            raise UsageError("give a flow id (any unique prefix, e.g. the 8 characters `flows list` shows)")
        chain = self._chain(jq_filters)
        with self.open() as store:
            if store is None:
                raise FlowError("no flows recorded yet; send traffic through `ccproxy start` first")
            in_store = store.match_prefix(prefix)
            hits = _match(prefix, self._select(store, chain)) if chain else in_store
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

    def get_flow(self, id_prefix: str, jq_filters: Jq = ()) -> StoredFlow:
        flows = self.load([self.find_id(id_prefix, jq_filters)])
        if not flows:
            raise FlowError(f"flow {id_prefix!r} was removed while it was being read")
        return flows[0]

    def latest(self, jq_filters: Jq = ()) -> StoredFlow | None:
        """The newest flow of the set; None when the set is empty."""
        flows = self.load(self.ids(jq_filters)[-1:])
        return flows[0] if flows else None

    # -- views of the set ------------------------------------------------------------------------

    def conversations(self, jq_filters: Jq = ()) -> list[dict[str, Any]]:
        """The set grouped by conversation (see `flows.conversation.conversations`), latest activity last."""
        from ccproxy.store.conversation import conversations as group

        return group(self.docs(jq_filters))

    def compare(self, jq_filters: Jq = ()) -> list[Comparison]:
        """For each flow: client vs forwarded request, then provider vs client response."""
        from ccproxy.flows.changes import compare as compare_one

        return [compare_one(f) for f in self.load_set(jq_filters)]

    def diff(self, jq_filters: Jq = (), phase: str = "request") -> list[BodyDiff]:
        """Sliding-window diffs of one phase's bodies (f0->f1, f1->f2, ...); needs at least two flows."""
        from ccproxy.flows.changes import sliding_diff

        ids = self.ids(jq_filters)
        if not ids:
            return []  # an empty set is an answer (docs/flows.md); one flow is not enough to diff
        if len(ids) < 2:
            raise UsageError(
                f"flows diff needs at least 2 flows in the set, got {len(ids)}; widen the --jq filters "
                "(or send more traffic)"
            )
        return sliding_diff(self.load(ids), phase)

    def write_har(self, out: Sink, jq_filters: Jq = (), redacted: bool = True, evicted: list[str] | None = None) -> int:
        """Stream the set as one HAR 1.2 document into `out`, flow by flow; returns how many flows it has.
        `evicted` collects the ids of flows whose bodies the disk budget dropped (the caller says so)."""
        from ccproxy.flows.har import write_har as stream

        def flows() -> Iterator[StoredFlow]:
            for flow in self.iter_flows(self.ids(jq_filters)):
                if flow.bodies_evicted and evicted is not None:
                    evicted.append(flow.id)
                yield flow

        return stream(flows(), out, masked=redacted)

    def to_har(self, jq_filters: Jq = (), redacted: bool = True) -> dict[str, Any]:
        """A multi-page HAR 1.2 document of the set; credentials masked unless `redacted=False`."""
        from ccproxy.flows.har import to_har as build_har

        return build_har(self.load_set(jq_filters), masked=redacted)

    def facts(self, jq_filters: Jq = ()) -> list[Facts]:
        """The session facts of the set, in set order: what the session views read instead of bodies."""
        chain = self._chain(jq_filters)
        with self.open() as store:
            return store.facts(self._select(store, chain)) if store else []

    # -- changing the store ------------------------------------------------------------------------

    def clear(self, jq_filters: Jq = (), all_flows: bool = False) -> list[str]:
        """Delete the set (or, with `all_flows`, every flow, ignoring all filters) from the store.

        Returns the ids removed; removing them from a running daemon's view is the caller's part."""
        if all_flows:
            with self.open() as store:
                if store is None:
                    return []
                ids = store.ids()
                store.delete_all()
                return ids
        ids = self.ids(jq_filters)
        with self.open() as store:
            if store is None or not ids:
                return []
            store.delete(ids)
        return ids


def _match(prefix: str, ids: Sequence[str]) -> list[str]:
    low = prefix.lower()
    return [i for i in ids if i.lower().startswith(low)]


def request_bodies(store: FlowStore, keep: int = 4) -> Callable[[str], Any]:
    """Flow id -> its parsed request body, read from `store` when asked; the last `keep` stay (a cache
    verdict or a diff reads a turn and the one before, and the next pair shares one)."""
    from ccproxy.store.facts import request_body

    @lru_cache(maxsize=keep)
    def body(flow_id: str) -> Any:
        docs = store.docs([flow_id])
        return request_body(StoredFlow(docs[0], store.parts(flow_id))) if docs else None

    return body
