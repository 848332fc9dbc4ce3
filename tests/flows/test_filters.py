from __future__ import annotations

import json

import pytest

from ccproxy.errors import UsageError
from ccproxy.flows.filters import Filter, chain, run, select_ids

FLOWS = json.dumps([
    {"id": "a1", "request": {"host": "api.anthropic.com"}, "response": {"status_code": 200}},
    {"id": "b2", "request": {"host": "api.openai.com"}, "response": {"status_code": 500}},
    {"id": "c3", "request": {"host": "api.anthropic.com"}, "response": {"status_code": 429}},
])


def test_defaults_run_before_cli_filters_in_order() -> None:
    filters = chain(['map(select(.request.host == "api.anthropic.com"))'], [".[-1:]"])
    assert [f.origin for f in filters] == ["flows.default_jq_filters[0]", "--jq #1"]
    assert select_ids(filters, FLOWS) == ["c3"]
    reversed_order = chain([], [".[-1:]", 'map(select(.request.host == "api.anthropic.com"))'])
    assert select_ids(reversed_order, FLOWS) == ["c3"]
    assert select_ids(chain([], [".[:1]", 'map(select(.response.status_code >= 400))']), FLOWS) == []


def test_real_jq_language_features_work() -> None:
    flt = chain([], ['def bad: .response.status_code >= 400; map(select(bad)) | sort_by(.id) | reverse'])
    assert select_ids(flt, FLOWS) == ["c3", "b2"]
    reshaped = json.loads(run(chain([], ["map({id, code: .response.status_code})"]), FLOWS))
    assert reshaped[0] == {"id": "a1", "code": 200}


def test_a_filter_ending_in_a_comment_still_chains() -> None:
    assert select_ids(chain([], ["map(select(.id == \"a1\")) # only a1", ".[:1]"]), FLOWS) == ["a1"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("map(.[-1])", "Cannot index object with number"),
        (".[0]", "returned object instead of an array"),
        (".[]", "returned 3 results instead of one array"),
        ("map(.id)", "items are not flows"),
        ("map(select(", "syntax error"),
        ('error("boom")', "boom"),
    ],
)
def test_bad_filters_exit_2_with_jq_message_and_filter_text(text: str, needle: str) -> None:
    with pytest.raises(UsageError) as info:
        select_ids(chain([], [".", text]), FLOWS)
    message = str(info.value)
    assert needle in message
    assert repr(text) in message
    assert "--jq #2" in message
    assert info.value.exit_code == 2


def test_a_bad_default_filter_is_named_as_such() -> None:
    with pytest.raises(UsageError, match=r"flows.default_jq_filters\[0\]"):
        select_ids([Filter("length", "flows.default_jq_filters[0]")], FLOWS)


def test_the_last_element_hint_is_offered_for_map_index() -> None:
    with pytest.raises(UsageError, match=r"`\.\[-1:\]` keeps the last one"):
        select_ids(chain([], ["map(.[-1])"]), FLOWS)
