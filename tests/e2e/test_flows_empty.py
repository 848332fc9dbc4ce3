"""`ccproxy flows` on an empty set (no store, an empty store, filters that leave nothing): one rule for
every subcommand, exit 0 with the empty result on stdout and the reason on stderr; and the bounded
`flows list` table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ccproxy.store.db import FlowStore
from tests.daemon import RunningDaemon, make_daemon
from tests.store.factory import make_record

COMMANDS = [("list",), ("list", "--json"), ("show",), ("compare",), ("diff",), ("dump",), ("clear",),
            ("clear", "--all")]


@pytest.fixture
def stopped(tmp_path: Path) -> RunningDaemon:
    """A config dir with a config and no daemon (the flows commands read the store directly)."""
    daemon = make_daemon(tmp_path / "cfg", None)
    daemon.config_dir.mkdir(parents=True)
    (daemon.config_dir / "ccproxy.yaml").write_text(yaml.safe_dump(daemon.config))
    return daemon


def test_no_store_says_so_and_where_it_looked(stopped: RunningDaemon) -> None:
    for command in COMMANDS:
        res = stopped.cli("flows", *command)
        assert res.returncode == 0, (command, res.stdout, res.stderr)
        assert f"no flow store in config dir {stopped.config_dir}" in res.stderr, (command, res.stderr)
        assert str(stopped.config_dir / "flows.sqlite3") in res.stderr
        assert "no flows in the set" not in res.stdout
    assert json.loads(stopped.cli("flows", "list", "--json").stdout) == []
    har = json.loads(stopped.cli("flows", "dump").stdout)  # the empty document is still written
    assert har["log"]["entries"] == [] and har["log"]["pages"] == []
    for command in ("show", "compare", "diff"):  # nothing to show is said on stderr only
        assert stopped.cli("flows", command).stdout == ""


def test_an_empty_store_and_a_set_filtered_to_nothing_exit_0_and_say_why(stopped: RunningDaemon) -> None:
    path = stopped.config_dir / "flows.sqlite3"
    FlowStore(path, create=True).close()
    for command in COMMANDS:
        res = stopped.cli("flows", *command)
        assert res.returncode == 0 and f"the flow store {path} has no flows" in res.stderr, (command, res.stderr)
    with FlowStore(path) as store:
        store.put([make_record(ts=2_000_000_000.0), make_record(ts=2_000_000_001.0)])
    for command in COMMANDS[:-1]:  # clear --all ignores filters
        res = stopped.cli("flows", *command, "--jq", "map(select(false))")
        assert res.returncode == 0, (command, res.stderr)
        assert "leave none of the 2 stored flow(s)" in res.stderr, (command, res.stderr)
    res = stopped.cli("flows", "show", "--jq", "map(select(false))", "zzzz")  # a named flow that is not there
    assert res.returncode == 1


def test_the_list_table_shows_the_newest_50_and_says_how_many_more(stopped: RunningDaemon) -> None:
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(60)]
    with FlowStore(stopped.config_dir / "flows.sqlite3", create=True) as store:
        store.put(recs)

    def rows(*args: str) -> tuple[list[str], str]:
        res = stopped.cli("flows", "list", *args)
        assert res.returncode == 0, res.stderr
        return [r.id[:8] for r in recs if r.id[:8] in res.stdout], res.stdout

    shown, out = rows()
    assert shown == [r.id[:8] for r in recs[-50:]]
    assert "the newest 50 of 60 flows; 10 older not shown" in out and "--all" in out
    shown, out = rows("--limit", "5")
    assert shown == [r.id[:8] for r in recs[-5:]] and "55 older not shown" in out
    shown, out = rows("--all")
    assert len(shown) == 60 and "not shown" not in out
    shown, out = rows("--jq", "map(select(.timestamp_created < 2000000030))", "--limit", "3")
    assert shown == [r.id[:8] for r in recs[27:30]] and "the newest 3 of 30 flows" in out
    assert len(json.loads(stopped.cli("flows", "list", "--json").stdout)) == 60


def test_status_has_a_store_section_with_the_writer_counters(stopped: RunningDaemon) -> None:
    path = stopped.config_dir / "flows.sqlite3"
    doc = json.loads(stopped.cli("status", "--json").stdout)
    assert doc["store"]["path"] == str(path) and doc["store"]["exists"] is False
    FlowStore(path, create=True).close()
    (stopped.config_dir / "flows.sqlite3.status.json").write_text(json.dumps(
        {"written": 7, "lost": 2, "last_loss": {"at": 1.0, "cause": "ENOSPC: No space left on device", "flow": "f"},
         "spill_pending": 0}))
    doc = json.loads(stopped.cli("status", "--json").stdout)["store"]
    assert doc["flows_written"] == 7 and doc["flows_lost"] == 2
    assert doc["last_loss"]["cause"] == "ENOSPC: No space left on device"
    text = stopped.cli("status").stdout
    assert "2 flow(s) could not be stored" in text and "ENOSPC: No space left on device" in text
