"""Which parameter an upstream 400 refuses, among the ones a translation added."""

from __future__ import annotations

import json

from ccproxy.wire.refusal import RefusedParams, added_parameters, refused_parameter, without

SENT = ("reasoning_effort", "stream_options")


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_openai_names_the_param() -> None:
    raw = body({"error": {"message": "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
                          "type": "invalid_request_error", "param": "reasoning_effort"}})
    assert refused_parameter(400, raw, SENT) == "reasoning_effort"


def test_nested_param_maps_to_its_top_level_key() -> None:
    raw = body({"error": {"message": "Unsupported parameter: 'reasoning.effort'", "param": None}})
    assert refused_parameter(400, raw, ("reasoning",)) == "reasoning"


def test_compatible_servers_phrasings() -> None:
    for text in (
        "Unrecognized request argument supplied: reasoning_effort",
        "unknown field `stream_options`, expected one of ...",
        "1 validation error: extra fields not permitted ('body', 'reasoning_effort')",
    ):
        assert refused_parameter(400, body({"error": {"message": text}}), SENT) is not None, text
    assert refused_parameter(422, b"unknown field 'reasoning_effort'", SENT) == "reasoning_effort"


def test_unrelated_errors_and_params_the_client_sent_are_left_alone() -> None:
    raw = body({"error": {"message": "Unsupported parameter: 'temperature'", "param": "temperature"}})
    assert refused_parameter(400, raw, SENT) is None
    refusal = body({"error": {"message": "x", "param": "reasoning_effort"}})
    assert refused_parameter(500, refusal, SENT) is None
    assert refused_parameter(400, refusal, ()) is None


def test_added_parameters_and_memory() -> None:
    doc = {"model": "m", "reasoning_effort": "high", "stream_options": {"include_usage": True}}
    assert added_parameters("openai", doc) == SENT and added_parameters("anthropic", doc) == ()
    assert "reasoning_effort" not in json.loads(without(json.dumps(doc).encode(), "reasoning_effort"))
    refused = RefusedParams()
    refused.learn("openai", "gpt-4.1", "reasoning_effort")
    other = dict(doc)
    assert refused.strip("openai", "gpt-4o", other) == [] and other == doc
    warnings = refused.strip("openai", "gpt-4.1", doc)
    assert "reasoning_effort" not in doc and "reasoning_effort not sent" in warnings[0]
