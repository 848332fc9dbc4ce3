"""Property: however a client encodes the sentinel key as a credential, it never reaches the provider.

Hypothesis writes requests that carry the sentinel correctly in `x-api-key` (so ccproxy injects the
real key) and again, as a credential, somewhere an upstream will read it: a JSON value (random
`\\u` escapes, padding, an auth scheme word, any charset), a form or multipart field, a text body, a
query value or a header (percent-encoded, Basic), under a random content-encoding chain or a broken
one. The fake provider records every request it gets; a probe id per example says whether any of
them arrived. Each one must be refused by ccproxy with a JSON error instead.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
import zlib
from collections.abc import Callable

import brotli  # type: ignore[import-untyped]
import httpx
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.daemon import RunningDaemon
from tests.fakes.provider import FakeProvider

PREFIX = "sk-ant-oat-ccproxy-"
PROVIDERS = st.sampled_from(["anthropic", "openai", "gemini", "nobody"])
Request = tuple[dict[str, str], str, bytes]  # extra headers, query, body


def json_escaped(text: str, escape: list[bool]) -> str:
    """The text as a JSON string body, with the chosen characters written as `\\uXXXX`."""
    return "".join(f"\\u{ord(c):04x}" if e else c for c, e in zip(text, escape + [False] * len(text), strict=False))


def percent(text: str, escape: list[bool]) -> str:
    return "".join(f"%{ord(c):02X}" if e else c for c, e in zip(text, escape + [False] * len(text), strict=False))


@st.composite
def credentials(draw: st.DrawFn) -> str:
    """The sentinel as a credential value: maybe a scheme word in front, maybe whitespace around."""
    scheme = draw(st.sampled_from(["", "Bearer ", "bearer  ", "Token ", "BASIC "]))
    pad = draw(st.sampled_from(["", " ", "\t", "\n", "  \r\n"]))
    return draw(st.sampled_from(["", " "])) + scheme + PREFIX + draw(PROVIDERS) + pad


ESCAPES = st.lists(st.booleans(), max_size=40)


@st.composite
def json_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    value = json_escaped(draw(credentials()).replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"),
                         draw(ESCAPES))
    key = draw(st.sampled_from(["api_key", "refresh_token", "authorization", "key", "x"]))
    nest = draw(st.sampled_from(['{{"{k}": "{v}"}}', '{{"model": "m", "auth": {{"{k}": "{v}"}}}}',
                                 '{{"a": [1, "{v}"]}}', '"{v}"', '{{"{k}": "{v}", "messages": []}}']))
    text = nest.format(k=key, v=value)
    charset = draw(st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]))
    declared = draw(st.booleans()) or charset in ("utf-16-le", "utf-16-be")
    ctype = draw(st.sampled_from(["application/json", "text/plain", "application/octet-stream"]))
    return (f"{ctype}; charset={charset}" if declared else ctype), text.encode(charset)


@st.composite
def form_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    value = percent(draw(credentials()), draw(ESCAPES)).replace(" ", draw(st.sampled_from(["+", "%20"])))
    ctype = draw(st.sampled_from(["application/x-www-form-urlencoded", "text/plain"]))
    return ctype, f"grant_type=x&{draw(st.sampled_from(['refresh_token', 'key', 'api_key']))}={value}".encode()


@st.composite
def multipart_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    value = draw(credentials()).encode()
    cte = draw(st.sampled_from(["", "base64"]))
    if cte:
        value = base64.b64encode(value)
    head = 'content-disposition: form-data; name="api_key"\r\n' + (f"content-transfer-encoding: {cte}\r\n" if cte else "")
    body = b"--bnd\r\n" + head.encode() + b"\r\n" + value + b"\r\n--bnd--\r\n"
    return "multipart/form-data; boundary=bnd", body


@st.composite
def text_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    return "text/plain", draw(credentials()).encode()


CODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


@st.composite
def encoded(draw: st.DrawFn, body: bytes) -> tuple[str | None, bytes]:
    """A content-encoding chain (maybe doubled), or one the body does not match (unknown, lying, bad CRC)."""
    kind = draw(st.sampled_from(["none", "chain", "unknown", "lying", "badcrc"]))
    if kind == "none":
        return None, body
    if kind == "unknown":
        return draw(st.sampled_from(["x-foo", "compress", "gzip, x-foo"])), body
    if kind == "lying":
        return draw(st.sampled_from(["br", "gzip", "zstd", "gzip, gzip"])), body
    if kind == "badcrc":
        packed = gzip.compress(body)
        return "gzip", packed[:-8] + bytes(4) + packed[-4:]
    chain = draw(st.lists(st.sampled_from(sorted(CODINGS)), min_size=1, max_size=3))
    for coding in chain:
        body = CODINGS[coding](body)
    return ", ".join(chain), body


@st.composite
def requests(draw: st.DrawFn) -> Request:
    place = draw(st.sampled_from(["body", "body", "body", "query", "header"]))
    if place == "query":
        return {}, "?foo=" + percent(draw(credentials()).strip(), draw(ESCAPES)), b"{}"
    if place == "header":
        value = draw(credentials()).strip()
        how = draw(st.sampled_from(["percent", "basic"]))
        header = ("Basic " + base64.b64encode(f"user:{value}".encode()).decode() if how == "basic"
                  else percent(value, draw(ESCAPES)))
        return {draw(st.sampled_from(["cookie", "x-auth", "proxy-authorization"])): header}, "", b"{}"
    ctype, body = draw(st.one_of(json_bodies(), form_bodies(), multipart_bodies(), text_bodies()))
    coding, raw = draw(encoded(body))
    headers = {"content-type": ctype}
    if coding:
        headers["content-encoding"] = coding
    return headers, "", raw


@settings(max_examples=120, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=requests())
def test_an_encoded_sentinel_never_reaches_a_logging_provider(
    shared_daemon: RunningDaemon, _fake_session: FakeProvider, request: Request
) -> None:
    extra, query, body = request
    probe = uuid.uuid4().hex
    headers = {"x-api-key": PREFIX + "anthropic", "anthropic-version": "2023-06-01", "x-probe": probe, **extra}
    resp = httpx.post(shared_daemon.proxy_url + "/v1/messages" + query, content=body, headers=headers, timeout=30)
    arrived = [r for r in list(_fake_session.requests) if r.headers.get("x-probe") == probe]
    assert not arrived, (resp.status_code, extra, query, body[:200], arrived[0].body[:200])
    assert resp.status_code in (415, 502), (resp.status_code, resp.text[:300])
    assert json.loads(resp.content)["type"] == "error"
