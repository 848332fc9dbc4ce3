"""`ccproxy flows` end to end: real SDK and curl traffic through the daemon, then every read command.

One daemon and one batch of traffic serve the whole module (these commands do not change the
store); `test_flows_store.py` covers clear, restarts and retention on fresh daemons.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import jsonschema
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from ccproxy.store.db import FlowStore
from tests.daemon import SECRETS, RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider

HAR_SCHEMA = json.loads((Path(__file__).parent.parent / "fixtures" / "har-1.2.schema.json").read_text())
OWN_KEY = "sk-client-own-key-777"
WEATHER_TOOL = {"name": "get_weather", "description": "weather", "input_schema": {
    "type": "object", "properties": {"location": {"type": "string"}}}}


@dataclass
class Traffic:
    daemon: RunningDaemon
    ids: dict[str, str]  # label -> flow id
    flows: list[dict[str, Any]]

    def flow(self, label: str) -> dict[str, Any]:
        return next(f for f in self.flows if f["id"] == self.ids[label])


def list_json(daemon: RunningDaemon, *jq: str) -> list[dict[str, Any]]:
    args = [a for f in jq for a in ("--jq", f)]
    res = daemon.cli("flows", "list", "--json", *args)
    assert res.returncode == 0, res.stderr
    flows: list[dict[str, Any]] = json.loads(res.stdout)
    return flows


def send_traffic(daemon: RunningDaemon) -> dict[str, int]:
    """Each client call, in order; the value is how many flows the store should hold after it."""
    marks: dict[str, int] = {}
    count = 0

    def mark(label: str) -> None:
        nonlocal count
        count += 1
        marks[label] = count

    ant = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    opening = [{"role": "user", "content": "Plan a trip to Paris"}]
    ant.messages.create(model="claude-test", max_tokens=64, messages=opening,
                        metadata={"user_id": "user_1_account_2_session_5e55-1011"})
    mark("anthropic_json")
    with ant.messages.stream(model="claude-test", max_tokens=64, tools=[WEATHER_TOOL],  # type: ignore[list-item]
                             messages=[{"role": "user", "content": "Weather in Paris?"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    mark("anthropic_stream_tool")
    turn2 = [*opening, {"role": "assistant", "content": "Sure."}, {"role": "user", "content": "Three days"}]
    with ant.messages.stream(model="claude-test", max_tokens=64, messages=turn2) as stream:  # type: ignore[arg-type]
        assert stream.get_final_text() == "Hello from the fake provider."
    mark("anthropic_turn2")
    with pytest.raises(anthropic.InternalServerError):
        ant.messages.create(model="claude-error-500", max_tokens=8, messages=opening)
    mark("anthropic_500")

    oai = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai", max_retries=0)
    oai.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    mark("openai_json")
    chunks = list(oai.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}],
                                              stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None
    mark("openai_stream")
    resp = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-responses", max_retries=0)
    events = list(resp.responses.create(model="gpt-resp", input="hello there", stream=True))
    assert events[-1].type == "response.completed"
    mark("responses_stream")

    gem = genai.Client(api_key="sk-ant-oat-ccproxy-gemini", http_options=gtypes.HttpOptions(base_url=daemon.proxy_url))
    assert gem.models.generate_content(model="gemini-test", contents="hi").text == "Hello from the fake provider."
    mark("gemini_json")
    assert "".join(c.text or "" for c in gem.models.generate_content_stream(model="gemini-test", contents="yo"))
    mark("gemini_stream")
    # No sentinel: routed by path, the client's own key and cookie go through untouched.
    res = subprocess.run(
        ["curl", "-sS", "--max-time", "20", "-H", "content-type: application/json",
         "-H", f"x-api-key: {OWN_KEY}", "-H", "cookie: session=c00kie-value",
         f"{daemon.proxy_url}/v1/messages", "-d", json.dumps({"model": "claude-own", "max_tokens": 8,
                                                              "messages": [{"role": "user", "content": "hi"}]})],
        capture_output=True, text=True, timeout=30,
    )
    assert json.loads(res.stdout)["type"] == "message", res.stdout
    mark("curl_own_key")
    # Eight quick curl calls: with 17+ flows two ids must share their first hex digit.
    for i in range(8):
        res = subprocess.run(
            ["curl", "-sS", "--max-time", "20", "-H", "x-api-key: sk-ant-oat-ccproxy-anthropic",
             f"{daemon.proxy_url}/v1/models?page={i}"],
            capture_output=True, text=True, timeout=30,
        )
        assert json.loads(res.stdout)["data"][0]["id"] == "fake-model"
        mark(f"curl_{i}")
    return marks


@pytest.fixture(scope="module")
def traffic(shared_daemon: RunningDaemon, _fake_session: FakeProvider) -> Traffic:
    _fake_session.reset()
    marks = send_traffic(shared_daemon)
    flows = wait_for(lambda: (f := list_json(shared_daemon)) and len(f) == len(marks) and f, timeout=20,
                     what=f"{len(marks)} flows in the store")
    ids = {label: flows[n - 1]["id"] for label, n in marks.items()}
    return Traffic(shared_daemon, ids, flows)


def test_every_flow_is_stored_in_order_with_its_ccproxy_facts(traffic: Traffic) -> None:
    flows = traffic.flows
    assert [f["request"]["timestamp_start"] for f in flows] == sorted(f["request"]["timestamp_start"] for f in flows)
    providers = [f["ccproxy"]["provider"] for f in flows[:9]]
    assert providers == ["anthropic"] * 4 + ["openai", "openai", "responses", "gemini", "gemini"]
    assert traffic.flow("curl_own_key")["ccproxy"]["auth_injected"] is False
    for f in flows:
        ccp = f["ccproxy"]
        assert ccp["source"] == "reverse"
        assert ccp["auth_injected"] is (f["id"] != traffic.ids["curl_own_key"])
        assert ccp["client_request"]["url"].startswith(traffic.daemon.proxy_url)
        assert ccp["duration_ms"] > 0 and 0 < ccp["ttfb_ms"] <= ccp["duration_ms"]
        assert f["request"]["pretty_host"] == "127.0.0.1"
    assert traffic.flow("anthropic_json")["ccproxy"]["session_id"] == "5e55-1011"
    assert traffic.flow("anthropic_500")["response"]["status_code"] == 500
    assert traffic.flow("anthropic_500")["ccproxy"]["error"] == "provider answered 500: fake provider error 500"
    assert traffic.flow("anthropic_json")["ccproxy"]["error"] is None
    assert traffic.flow("gemini_stream")["ccproxy"]["model"] == "gemini-test"
    assert traffic.flow("openai_stream")["ccproxy"]["streamed"] is True
    assert traffic.flow("openai_json")["ccproxy"]["streamed"] is False


def test_usage_is_recorded_for_json_and_streamed_answers_in_every_format(traffic: Traffic) -> None:
    for label in ("anthropic_json", "anthropic_stream_tool", "openai_json", "openai_stream", "responses_stream",
                  "gemini_json", "gemini_stream"):
        usage = traffic.flow(label)["ccproxy"]["usage"]
        assert usage and usage["input_tokens"] > 0 and usage["output_tokens"] > 0, label
        assert usage["cache_read_input_tokens"] == 3, label
    assert traffic.flow("anthropic_stream_tool")["ccproxy"]["stop_reason"] == "tool_use"
    assert traffic.flow("anthropic_stream_tool")["ccproxy"]["usage"]["output_tokens"] == 12


def test_turns_of_one_conversation_share_an_id(traffic: Traffic) -> None:
    first = traffic.flow("anthropic_json")["ccproxy"]["conversation_id"]
    assert first and traffic.flow("anthropic_turn2")["ccproxy"]["conversation_id"] == first
    assert traffic.flow("anthropic_stream_tool")["ccproxy"]["conversation_id"] != first


def test_credentials_never_appear_in_list_output(traffic: Traffic) -> None:
    res = traffic.daemon.cli("flows", "list", "--json")
    for secret in SECRETS.values():
        assert secret not in res.stdout
    assert "sk-ant-oat-ccproxy-anthropic" in res.stdout  # sentinels are placeholders


def test_list_table_shows_the_columns(traffic: Traffic) -> None:
    res = traffic.daemon.cli("flows", "list")
    assert res.returncode == 0, res.stderr
    header = res.stdout.splitlines()[1]
    for col in ("id", "method", "status", "host", "path", "model", "tokens", "source", "age"):
        assert col in header
    for label in ("anthropic_json", "gemini_stream"):
        assert traffic.ids[label][:8] in res.stdout
    usage = traffic.flow("openai_json")["ccproxy"]["usage"]
    assert f"{usage['input_tokens']}/{usage['output_tokens']}" in res.stdout
    assert "gemini-test" in res.stdout and "reverse" in res.stdout and "500" in res.stdout
    limited = traffic.daemon.cli("flows", "list", "--limit", "2")
    assert traffic.ids["curl_7"][:8] in limited.stdout and traffic.ids["anthropic_json"][:8] not in limited.stdout


def test_jq_filters_chain_in_order(traffic: Traffic) -> None:
    gem = list_json(traffic.daemon, 'map(select(.ccproxy.provider == "gemini"))')
    assert [f["id"] for f in gem] == [traffic.ids["gemini_json"], traffic.ids["gemini_stream"]]
    last = list_json(traffic.daemon, 'map(select(.request.method == "POST"))', ".[-1:]")
    assert [f["id"] for f in last] == [traffic.ids["curl_own_key"]]
    errors = list_json(traffic.daemon, "map(select(.response.status_code >= 400))")
    assert [f["id"] for f in errors] == [traffic.ids["anthropic_500"]]


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ("map(.[-1])", "Cannot index object with number"),
        ("map(select(.x ==", "syntax error"),
        (".[0]", "returned object instead of an array"),
        ("map(.id)", "not flows"),
    ],
)
def test_a_bad_filter_exits_2_with_jq_message_and_filter_text(traffic: Traffic, flt: str, message: str) -> None:
    commands = [("list", "--json"), ("compare",), ("dump",), ("clear",), ("show",), ("diff",)]
    for command in commands if flt == "map(.[-1])" else commands[:1]:
        res = traffic.daemon.cli("flows", *command, "--jq", flt)
        assert res.returncode == 2, (command, res.stderr)
        assert message in res.stderr and repr(flt) in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    assert len(list_json(traffic.daemon)) == len(traffic.flows), "a failed clear deletes nothing"


def test_show_by_prefix_reassembles_the_stream(traffic: Traffic) -> None:
    fid = traffic.ids["anthropic_stream_tool"]
    res = traffic.daemon.cli("flows", "show", fid[:8])
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith(f"flow {fid}")
    # The Anthropic SDK sends an `sk-ant-oat` key as a bearer token; ccproxy forwards the real key as x-api-key.
    assert "== client request (as it arrived)" in out and "Authorization: Bearer sk-ant-oat-ccproxy-anthropic" in out
    assert "- authorization: Bearer sk-ant-oat-ccproxy-anthropic" in out and "+ x-api-key: [REDACTED]" in out
    assert 'tool call: get_weather({"location": "Paris"}) id=toolu_fake01' in out
    assert "stop reason: tool_use" in out and "anthropic events over" in out
    assert "identical to the provider response" in out
    assert all(secret not in out for secret in SECRETS.values())
    raw = traffic.daemon.cli("flows", "show", fid[:10], "--raw").stdout
    assert "event: content_block_delta" in raw and "input_json_delta" in raw
    doc = json.loads(traffic.daemon.cli("flows", "show", fid, "--json").stdout)
    assert doc["id"] == fid
    assert json.loads(doc["bodies"]["client_request"])["tools"][0]["name"] == "get_weather"
    assert doc["events"]["upstream"][0]["event"] == "message_start"
    assert doc["answers"]["upstream"]["tool_calls"][0]["name"] == "get_weather"


def test_show_json_answer_and_default_newest(traffic: Traffic) -> None:
    out = traffic.daemon.cli("flows", "show", traffic.ids["responses_stream"]).stdout
    assert "text: Hello from the fake provider." in out and "openai_responses events" in out
    newest = traffic.daemon.cli("flows", "show", "--jq", 'map(select(.ccproxy.provider == "gemini"))').stdout
    assert newest.startswith(f"flow {traffic.ids['gemini_stream']}")


def test_show_ambiguous_and_unknown_prefixes(traffic: Traffic) -> None:
    ids = [f["id"] for f in traffic.flows]
    first_chars = [i[0] for i in ids]
    shared = next(c for c in first_chars if first_chars.count(c) > 1)  # 17 ids, 16 hex digits
    res = traffic.daemon.cli("flows", "show", shared)
    assert res.returncode == 2
    assert "ambiguous" in res.stderr and "give more characters" in res.stderr
    res = traffic.daemon.cli("flows", "show", "zzzz")
    assert res.returncode == 1 and "no stored flow id starts with 'zzzz'" in res.stderr
    hidden = traffic.ids["anthropic_json"]
    res = traffic.daemon.cli("flows", "show", hidden[:8], "--jq", 'map(select(.ccproxy.provider == "gemini"))')
    assert res.returncode == 1 and "leave it out" in res.stderr


def test_compare_shows_what_ccproxy_changed(traffic: Traffic) -> None:
    res = traffic.daemon.cli("flows", "compare", "--jq", 'map(select(.ccproxy.provider == "openai"))')
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.count("=== flow ") == 2
    assert f"=== flow {traffic.ids['openai_json'][:8]}" in out
    assert "~ authorization: Bearer sk-ant-oat-ccproxy-openai -> Bearer [REDACTED]" in out
    assert f"- {traffic.daemon.proxy_url}/v1/chat/completions" in out
    assert "request bodies are identical" in out and "response bodies are identical" in out
    assert all(secret not in out for secret in SECRETS.values())
    doc = json.loads(traffic.daemon.cli("flows", "compare", "--json", "--jq", ".[-1:]").stdout)
    assert doc[0]["id"] == traffic.ids["curl_7"]
    assert doc[0]["request"]["bodies_identical"] and doc[0]["response"]["bodies_identical"]


def test_diff_slides_over_request_bodies(traffic: Traffic) -> None:
    pair = f'map(select(.id == "{traffic.ids["anthropic_json"]}" or .id == "{traffic.ids["anthropic_turn2"]}"))'
    res = traffic.daemon.cli("flows", "diff", "--jq", pair)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith(f"--- flow:{traffic.ids['anthropic_json'][:8]}\n+++ flow:{traffic.ids['anthropic_turn2'][:8]}")
    assert '+      "content": "Three days",' in out and '+  "stream": true' in out
    three = traffic.daemon.cli("flows", "diff", "--jq", 'map(select(.ccproxy.provider == "gemini"))', "--jq", ".")
    assert three.stdout.count("+++ flow:") == 1
    curls = traffic.daemon.cli("flows", "diff", "--jq", 'map(select(.request.method == "GET"))', "--jq", ".[:3]")
    assert curls.stdout.count("request bodies are identical") == 2
    client_side = traffic.daemon.cli("flows", "diff", "--client", "--jq", pair)
    assert client_side.returncode == 0 and '"content": "Three days"' in client_side.stdout
    res = traffic.daemon.cli("flows", "diff", "--jq", ".[:1]")
    assert res.returncode == 2 and "at least 2 flows" in res.stderr and "got 1" in res.stderr


def validate_har(har: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(HAR_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(har)]
    assert not errors, errors[:5]


def test_dump_is_a_valid_multi_page_har_with_masked_credentials(traffic: Traffic) -> None:
    res = traffic.daemon.cli("flows", "dump")
    assert res.returncode == 0, res.stderr
    har = json.loads(res.stdout)
    validate_har(har)
    log = har["log"]
    assert [p["id"] for p in log["pages"]] == [f["id"] for f in traffic.flows]
    assert len(log["entries"]) == 2 * len(traffic.flows)
    fwd, cli = log["entries"][2], log["entries"][3]  # the streamed tool call
    assert fwd["pageref"] == cli["pageref"] == traffic.ids["anthropic_stream_tool"]
    assert fwd["request"]["url"].startswith("http://127.0.0.1:") and not fwd["request"]["url"].startswith(
        traffic.daemon.proxy_url)
    assert cli["request"]["url"] == traffic.daemon.proxy_url + "/v1/messages"
    assert {"name": "Authorization", "value": "Bearer sk-ant-oat-ccproxy-anthropic"} in cli["request"]["headers"]
    assert {"name": "x-api-key", "value": "[REDACTED]"} in fwd["request"]["headers"]
    assert fwd["response"]["content"]["mimeType"] == "text/event-stream"
    assert "input_json_delta" in fwd["response"]["content"]["text"]
    assert all(secret not in res.stdout for secret in SECRETS.values())
    one = json.loads(traffic.daemon.cli("flows", "dump", "--jq", ".[-1:]").stdout)
    assert len(one["log"]["pages"]) == 1 and len(one["log"]["entries"]) == 2


def test_dump_unredacted_keeps_the_credentials_the_flow_holds(traffic: Traffic) -> None:
    own = f'map(select(.id == "{traffic.ids["curl_own_key"]}"))'
    masked = traffic.daemon.cli("flows", "dump", "--jq", own).stdout
    assert OWN_KEY not in masked and "c00kie-value" not in masked
    res = traffic.daemon.cli("flows", "dump", "--unredacted")
    validate_har(json.loads(res.stdout))
    assert OWN_KEY in res.stdout and "session=c00kie-value" in res.stdout
    # Credentials ccproxy injected are masked on the flow itself once the request has left (AuthRefresh):
    # they are never stored, so not even an unredacted dump has them.
    assert all(secret not in res.stdout for secret in SECRETS.values())
    with FlowStore(traffic.daemon.config_dir / "flows.sqlite3") as store:
        stored = store.docs_text() + "".join(
            data.decode("latin-1") for fid in store.ids() for data in store.parts(fid).values())
    assert OWN_KEY in stored
    assert all(secret not in stored for secret in SECRETS.values())


def mitmweb(daemon: RunningDaemon, path: str) -> Any:
    req = urllib.request.Request(daemon.inspector_url + path,
                                 headers={"authorization": f"Bearer {daemon.state['web_token']}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)


def test_mitmweb_shows_the_same_flows_and_the_client_request_view(traffic: Traffic) -> None:
    web_ids = {f["id"] for f in mitmweb(traffic.daemon, "/flows")}
    assert set(traffic.ids.values()) <= web_ids
    fid = traffic.ids["openai_json"]
    view = urllib.parse.quote("Client Request")
    client = mitmweb(traffic.daemon, f"/flows/{fid}/request/content/{view}.json")
    assert client["view_name"] == "Client Request"
    assert "authorization: Bearer sk-ant-oat-ccproxy-openai" in client["text"]
    assert f"POST {traffic.daemon.proxy_url}/v1/chat/completions" in client["text"]
    provider = mitmweb(traffic.daemon, f"/flows/{traffic.ids['gemini_stream']}/response/content/"
                                       f"{urllib.parse.quote('Provider Response')}.json")
    assert "text: " in provider["text"] and "stop reason: STOP" in provider["text"]
