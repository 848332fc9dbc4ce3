from __future__ import annotations

from pathlib import Path

from ccproxy import flows
from ccproxy.config.model import CCProxyConfig


def test_status_reports_what_the_writer_lost_and_why(tmp_path: Path, config: CCProxyConfig) -> None:
    from ccproxy.store.api import store_status, store_status_line
    from ccproxy.store.writer import StoreWriter

    path = flows.store_path(config, tmp_path)
    writer = StoreWriter(path, max_count=100, max_age_days=3650).start()
    writer._lose(2, "SQLITE_FULL: database or disk is full")
    writer.close(10)
    doc = store_status(config, tmp_path)
    assert doc["flows_lost"] == 2 and doc["last_loss"]["cause"] == "SQLITE_FULL: database or disk is full"
    assert doc["path"] == str(path) and doc["exists"]
    assert "2 flow(s) could not be stored" in store_status_line(doc) and "SQLITE_FULL" in store_status_line(doc)
