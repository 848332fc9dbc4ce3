"""`flows.redact_secrets: true`: secrets in bodies never reach a file of ours; the provider gets them as sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic

from tests.daemon import RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider

AWS_KEY = "AKIAIOSFODNN7ZZTESTQ"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
ENV_PASSWORD = "correct-horse-battery-staple-42"
ENV_FILE = f"AWS_ACCESS_KEY_ID={AWS_KEY}\nGITHUB_TOKEN={GITHUB}\nDB_PASSWORD={ENV_PASSWORD}\nDEBUG=1\n"
SECRETS = (AWS_KEY, GITHUB, ENV_PASSWORD)


def _send(daemon: RunningDaemon) -> None:
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    client.messages.create(model="m", max_tokens=8, messages=[
        {"role": "user", "content": "read .env"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"path": ".env"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": ENV_FILE}]},
    ])


def _stored(daemon: RunningDaemon) -> list[dict[str, Any]]:
    return list(wait_for(lambda: json.loads(daemon.cli("flows", "list", "--json").stdout), 15, 0.1, "the flow"))


def test_secrets_in_a_tool_result_are_replaced_before_storing(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider,
) -> None:
    daemon = daemon_factory({"flows": {"redact_secrets": True}})
    _send(daemon)
    sent = fake_provider.requests[-1].body.decode()
    assert all(s in sent for s in SECRETS)  # the provider got the original bytes
    flow = _stored(daemon)[-1]
    marks = {m["part"]: m for m in flow["ccproxy"]["extra"]["secrets_redacted"]}
    assert marks["request"]["count"] == 3 and "AWS Access Key" in marks["request"]["kinds"]
    assert "client_request" in marks
    shown = daemon.cli("flows", "show", flow["id"], "--json").stdout
    assert "[REDACTED]" in shown and "DEBUG=1" in shown
    texts = {"show": shown, "dump --unredacted": daemon.cli("flows", "dump", "--unredacted").stdout}
    daemon.stop()
    for path in daemon.config_dir.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("latin-1")
    assert [(where, s) for where, text in texts.items() for s in SECRETS if s in text] == []


def test_without_the_option_bodies_are_stored_as_sent(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider,
) -> None:
    daemon = daemon_factory()
    _send(daemon)
    flow = _stored(daemon)[-1]
    assert "secrets_redacted" not in flow["ccproxy"]["extra"]
    assert ENV_PASSWORD in daemon.cli("flows", "show", flow["id"], "--json").stdout


def test_a_receipt_has_structure_sizes_hashes_tokens_and_no_content(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider, tmp_path: Any,
) -> None:
    daemon = daemon_factory()
    _send(daemon)
    flow = _stored(daemon)[-1]
    out = daemon.cli("flows", "export", "--receipt", "-")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["receipt"] == 1 and doc["flows"] == len(_stored(daemon))
    entry = next(e for e in doc["entries"] if e["id"] == flow["id"])
    assert entry["request"]["messages"] == 3 and entry["request"]["roles"] == {"assistant": 1, "user": 2}
    assert entry["request"]["blocks"] == {"text": 1, "tool_result": 1, "tool_use": 1}
    assert entry["parts"]["request"]["bytes"] == len(fake_provider.requests[-1].body)
    assert len(entry["parts"]["request"]["sha256"]) == 64 and entry["usage"]["output_tokens"] > 0
    assert entry["duration_ms"] is not None and entry["status"] == 200
    for secret in (*SECRETS, "read .env", "Hello from the fake provider", "sk-ant-oat"):
        assert secret not in out.stdout
    target = tmp_path / "receipt.json"
    assert daemon.cli("flows", "export", "--receipt", str(target)).returncode == 0
    assert target.stat().st_mode & 0o777 == 0o600 and json.loads(target.read_text())["flows"] == doc["flows"]
