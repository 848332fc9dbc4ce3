"""The Telemetry addon: what it snapshots off a finished flow, and that it skips ccproxy's own answers."""

from __future__ import annotations

from mitmproxy.test import tflow

from ccproxy.addons.telemetry import Telemetry, facts_of
from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import SSEEvent, TransformInfo, get_meta
from ccproxy.telemetry.genai import FlowFacts


def config() -> CCProxyConfig:
    return CCProxyConfig.model_validate(
        {
            "providers": {"gem": {"provider": "gemini", "host": "g.example"}},
            "telemetry": {"otlp": {"endpoint": "http://127.0.0.1:9"}},
        }
    )


def test_facts_carry_the_route_and_the_bodies() -> None:
    flow = tflow.tflow(resp=True)
    meta = get_meta(flow)
    meta.source, meta.provider, meta.session_id = "forward", "gem", "s1"
    meta.transform = TransformInfo(mode="transform", reason="rule[0]", to_format="gemini", model="gemini-x")
    meta.upstream_events.append(SSEEvent(1.0, "{}"))
    facts = facts_of(config(), flow)
    assert (facts.source, facts.provider, facts.wire_format, facts.route_action) == ("forward", "gem", "gemini", "transform")
    assert facts.route_model == "gemini-x" and facts.session_id == "s1" and facts.status_code == 200
    assert facts.upstream_events == meta.upstream_events and facts.upstream_events is not meta.upstream_events
    assert facts.end >= facts.start


def test_provider_format_without_a_transform_and_internal_flows_skipped() -> None:
    flow = tflow.tflow(resp=True)
    get_meta(flow).provider = "gem"
    assert facts_of(config(), flow).wire_format == "gemini"
    submitted: list[FlowFacts] = []
    addon = Telemetry(config())
    addon.export = type("Sink", (), {"submit": lambda self, f: submitted.append(f)})()  # type: ignore[assignment]
    addon.response(flow)
    internal = tflow.tflow(resp=True)
    get_meta(internal).internal = True
    addon.response(internal)
    assert [f.flow_id for f in submitted] == [flow.id]


def test_an_unrouted_capture_gets_its_format_from_the_path() -> None:
    flow = tflow.tflow(resp=True)
    flow.request.path = "/v1internal:streamGenerateContent?alt=sse"
    get_meta(flow).transform = TransformInfo(mode="passthrough", reason="original")
    assert facts_of(config(), flow).wire_format == "code_assist"
    flow.request.path = "/v1internal:loadCodeAssist"
    assert facts_of(config(), flow).wire_format is None
def test_an_intercepted_host_without_a_provider_still_gets_its_format_from_the_path() -> None:
    flow = tflow.tflow(resp=True)
    flow.request.host = "myres.openai.azure.com"
    flow.request.path = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    get_meta(flow).source = "forward"
    assert facts_of(config(), flow).wire_format == "openai"
