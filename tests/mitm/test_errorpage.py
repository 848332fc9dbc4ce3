from __future__ import annotations

import asyncio
import json

from ccproxy.mitm.answers import error_page
from ccproxy.mitm.errorpage import answer_with, json_error_response


def _parse(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def test_an_upstream_failure_is_a_json_502() -> None:
    status, body = _parse(json_error_response(502, "connection refused"))
    assert status == 502
    error = body["error"]
    assert isinstance(error, dict) and error["type"] == "upstream_unreachable"
    assert "connection refused" in str(error["message"]) and "ccproxy.yaml" in str(error["message"])


def test_a_decided_page_goes_out_once_from_its_task_and_other_tasks_do_not_get_it() -> None:
    async def marked() -> list[tuple[int, dict[str, object]]]:
        answer_with(error_page(502, timeout="no response headers within 2 s (ccproxy.inspector.upstream_timeout)"))
        other = await asyncio.create_task(unmarked())
        return [_parse(json_error_response(502, "server closed connection")), other,
                _parse(json_error_response(502, "server closed connection"))]

    async def unmarked() -> tuple[int, dict[str, object]]:
        return _parse(json_error_response(502, "server closed connection"))

    (first, body), (other, _), (again, _) = asyncio.run(marked())
    assert (first, other, again) == (504, 502, 502)
    error = body["error"]
    assert isinstance(error, dict) and error["type"] == "upstream_timeout"
    assert "ccproxy.inspector.upstream_timeout" in str(error["message"])


def test_an_oversized_head_is_a_json_431_that_says_what_to_do() -> None:
    from ccproxy.mitm.headerlimit import too_large_message

    status, body = _parse(json_error_response(431, too_large_message(256 * 1024)))
    assert status == 431
    error = body["error"]
    assert isinstance(error, dict) and error["type"] == "request_header_fields_too_large"
    assert "256 KiB" in str(error["message"]) and "body" in str(error["message"])
