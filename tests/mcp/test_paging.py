from __future__ import annotations

import re

import pytest

from ccproxy.errors import UsageError
from ccproxy.mcp.paging import MAX_PAGE, cut, page


def test_short_text_comes_back_whole() -> None:
    assert cut("hello", 0, 100, "t(") == ("hello", None)


def test_pages_join_back_to_the_text_following_the_markers() -> None:
    text = "".join(f"line {i}\n" for i in range(500))
    pieces, offset, calls = [], 0, 0
    while True:
        calls += 1
        assert calls < 100
        chunk, nxt = cut(text, offset, 700, 'get_request_body(id="x"')
        if offset:
            header, _, chunk = chunk.partition("\n")
            assert header == f"[ccproxy: chars {offset}-{min(offset + 700, len(text))} of {len(text)}]"
        if nxt is None:
            pieces.append(chunk)
            break
        body, _, mark = chunk.rpartition("\n…[ccproxy: truncated")
        found = re.search(r"offset=(\d+)\)", mark)
        assert found and int(found.group(1)) == nxt
        assert 'get_request_body(id="x", offset=' in mark
        pieces.append(body)
        offset = nxt
    assert "".join(pieces) == text


def test_page_size_is_capped_and_bad_offsets_say_so() -> None:
    text = "x" * (MAX_PAGE + 10)
    assert len(cut(text, 0, MAX_PAGE * 5, "t(")[0].split("\n…[")[0]) == MAX_PAGE
    with pytest.raises(UsageError, match="past the end"):
        page("abc", 3, 10, "t(")
    with pytest.raises(UsageError, match="0 or more"):
        page("abc", -1, 10, "t(")


def test_a_page_of_wide_characters_stays_within_the_byte_limit_and_joins_back() -> None:
    from ccproxy.mcp.paging import PAGE_BYTES

    text = "€𝄞" * 60_000  # 3 and 4 bytes each: MAX_PAGE characters would be ~350 KB
    pieces, offset = [], 0
    for _ in range(50):
        chunk, nxt = cut(text, offset, MAX_PAGE, "t(")
        body = chunk.partition("\n")[2] if offset else chunk
        body = body.rpartition("\n…[ccproxy: truncated")[0] if nxt is not None else body
        assert len(body.encode("utf-8", "surrogatepass")) <= PAGE_BYTES
        pieces.append(body)
        if nxt is None:
            break
        offset = nxt
    assert "".join(pieces) == text


def test_long_fields_and_long_answers_are_cut_with_a_marker() -> None:
    from ccproxy.mcp.paging import ANSWER_CAP, cap_answer, shorten_fields

    doc = shorten_fields({"a": ["x" * 10, "y" * 5000], "n": 3}, "call more()", limit=100)
    assert doc["a"][0] == "x" * 10 and doc["n"] == 3
    assert doc["a"][1] == "y" * 100 + "…[ccproxy: field cut at char 100 of 5000; call more()]"
    assert cap_answer("short") == "short"
    capped = cap_answer("z" * (ANSWER_CAP * 2))
    assert len(capped.encode()) <= ANSWER_CAP and "answer cut at char" in capped
