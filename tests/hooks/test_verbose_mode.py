from __future__ import annotations

import pytest
from mitmproxy.test import tflow

from ccproxy.config.model import CCProxyConfig
from ccproxy.hooks.verbose_mode import strip_redact_thinking, verbose_mode
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import spec_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("redact-thinking-2025-02-19", ""),
        ("oauth-2025-04-20,redact-thinking-2025-02-19", "oauth-2025-04-20"),
        ("redact-thinking-2025-02-19,oauth-2025-04-20", "oauth-2025-04-20"),
        ("a-1, redact-thinking-x, b-2", "a-1, b-2"),
        ("a-1,REDACT-THINKING-x,b-2,redact-thinking-y", "a-1,b-2"),
        ("interleaved-thinking-2025-05-14", "interleaved-thinking-2025-05-14"),
    ],
)
def test_only_redact_thinking_values_go(value: str, expected: str) -> None:
    assert strip_redact_thinking(value) == expected


def run(headers: list[tuple[str, str]]) -> list[str]:
    flow = tflow.tflow()
    for name, value in headers:
        flow.request.headers.add(name, value)
    verbose_mode(HookContext(flow=flow, config=CCProxyConfig(), stage="outbound"))
    return flow.request.headers.get_all("anthropic-beta")


def test_header_is_edited_in_place() -> None:
    assert run([("anthropic-beta", "oauth-2025-04-20,redact-thinking-2025-02-19")]) == ["oauth-2025-04-20"]


def test_header_goes_when_only_redaction_was_in_it() -> None:
    assert run([("anthropic-beta", "redact-thinking-2025-02-19")]) == []


def test_repeated_headers_are_each_edited() -> None:
    assert run([
        ("anthropic-beta", "redact-thinking-a"),
        ("anthropic-beta", "b-1,redact-thinking-c"),
        ("anthropic-beta", "d-2"),
    ]) == ["b-1", "d-2"]


def test_untouched_without_redaction() -> None:
    assert run([("anthropic-beta", "a, b")]) == ["a, b"]
    assert run([]) == []


def test_is_an_outbound_hook_on_request_headers() -> None:
    spec = spec_of(verbose_mode)
    assert spec is not None and spec.stage == "outbound"
    assert spec.reads == spec.writes == frozenset({"request.headers"})
