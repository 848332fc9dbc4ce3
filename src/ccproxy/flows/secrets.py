"""Secrets inside bodies (`flows.redact_secrets: true`): found by a maintained detector, replaced before storing.

Tool results carry `.env` files, keys pasted in code, tokens in shell output. With the option on,
the recorder passes what it is about to hand to the store through `redact_body` and friends, so
neither the hand-off files nor the store ever hold the value; the provider got the original bytes.

What counts as a secret: the token-shaped detectors of Yelp's `detect-secrets` (AWS, GitHub, GitLab,
Slack, Stripe, Twilio, SendGrid, npm, PyPI, OpenAI, JWTs, private key blocks, Basic credentials in
URLs, ...), run as whole-text regex passes (its line-by-line scanner costs ~3 ms a line), plus
ccproxy's own credential shapes (`ccproxy.scrub`: `sk-...`, `AIza...`, bearer tokens and
`NAME=value` pairs whose name says key/token/secret/password, as in a `.env` file). Left out:
detect-secrets' entropy and keyword-context detectors (slow on megabytes, and noisy on prose and
code) and its public-IP detector (not a secret).

JSON is redacted value by value (a replacement never breaks an escape) and written back compact;
SSE is redacted event by event; anything else as text. Each place is reported as `(part, kind)`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

from ccproxy.scrub import MASK, mask_credentials

if TYPE_CHECKING:
    from ccproxy.store.record import Captured

#: detect-secrets detectors left out: slow context regexes, and a public IP is not a secret.
_SKIPPED = {
    "ArtifactoryDetector", "CloudantDetector", "IbmCloudIamDetector", "IbmCosHmacDetector",
    "SoftlayerDetector", "IPPublicDetector",
}


@cache
def detectors() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(kind, pattern) for every regex-based detect-secrets plugin kept (imported once, on first use)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    found: list[tuple[str, re.Pattern[str]]] = []
    plugins: dict[str, Any] = dict(get_mapping_from_secret_type_to_class())
    for kind, plugin in plugins.items():
        if issubclass(plugin, RegexBasedDetector) and plugin.__name__ not in _SKIPPED:
            denylist: Iterable[re.Pattern[str]] = plugin.denylist  # a class attribute on these plugins
            found.extend((kind, pattern) for pattern in denylist)
    return tuple(found)


def redact_text(text: str, kinds: list[str]) -> str:
    """`text` with each secret replaced by `[REDACTED]`; the kind of each replacement is appended to `kinds`."""
    for kind, pattern in detectors():
        if pattern.search(text):
            text, n = pattern.subn(MASK, text)
            kinds.extend([kind] * n)
    masked = mask_credentials(text, keep_sentinels=True)
    if masked != text:
        kinds.extend(["Credential"] * max(1, masked.count(MASK) - text.count(MASK)))
    return masked


def _redact_json(doc: Any, kinds: list[str]) -> Any:
    if isinstance(doc, str):
        return redact_text(doc, kinds)
    if isinstance(doc, list):
        return [_redact_json(v, kinds) for v in doc]
    if isinstance(doc, dict):
        return {k: _redact_json(v, kinds) for k, v in doc.items()}
    return doc


def redact_json_text(text: str, kinds: list[str]) -> str:
    """A JSON document's strings redacted; written back only when something changed, else as it was."""
    try:
        doc = json.loads(text)
    except ValueError:
        return redact_text(text, kinds)
    before = len(kinds)
    redacted = _redact_json(doc, kinds)
    return text if len(kinds) == before else json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))


def _redact_sse(text: str, kinds: list[str]) -> str:
    lines = []
    for line in text.split("\n"):
        if line.startswith("data:"):
            payload = line[5:].lstrip(" ")
            lines.append("data: " + redact_json_text(payload, kinds) if payload else line)
        else:
            lines.append(redact_text(line, kinds))
    return "\n".join(lines)


def redact_body(body: bytes, kinds: list[str]) -> bytes:
    """A body with its secrets replaced: JSON per value, SSE per event, else as UTF-8 text."""
    if not body:
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body  # binary (an image, a compressed body): not text a secret could be read from
    head = text.lstrip()[:1]
    if head in ("{", "["):
        out = redact_json_text(text, kinds)
    elif text.startswith(("event:", "data:", ":")) or "\ndata:" in text:
        out = _redact_sse(text, kinds)
    else:
        out = redact_text(text, kinds)
    return body if out == text else out.encode("utf-8")


def places(found: Iterable[tuple[str, list[str]]]) -> list[dict[str, Any]]:
    """`.ccproxy.extra.secrets_redacted`: per part, how many values and of which kinds."""
    return [{"part": part, "count": len(kinds), "kinds": sorted(set(kinds))} for part, kinds in found if kinds]


def redact_captured(cap: Captured) -> Captured:
    """The recorder's raw material with every body's secrets replaced and the places noted on its metadata.

    Bodies stored compressed (a `content-encoding`) are left as they are: they are not text here."""
    found: list[tuple[str, list[str]]] = []

    def body(part: str, data: bytes) -> bytes:
        kinds: list[str] = []
        out = redact_body(data, kinds)
        found.append((part, kinds))
        return out

    meta = cap.meta
    if meta.client_request is not None:
        meta.client_request = dataclasses.replace(meta.client_request, body=body("client_request", meta.client_request.body))
    cap.request_body = body("request", cap.request_body)
    if meta.upstream_response is not None:
        up = meta.upstream_response
        meta.upstream_response = dataclasses.replace(up, body=body("upstream_response", up.body))
    if meta.upstream_raw:
        meta.upstream_raw = bytearray(body("upstream_response", bytes(meta.upstream_raw)))
    if cap.response_body is not None:
        cap.response_body = body("response", cap.response_body)
    for part, events in (("upstream_events", meta.upstream_events), ("client_events", meta.client_events)):
        kinds: list[str] = []
        events[:] = [dataclasses.replace(e, data=redact_json_text(e.data, kinds)) for e in events]
        found.append((part, kinds))
    if cap.websocket_messages is not None:
        cap.websocket_messages = [(t, c, op, body("websocket_messages", data) if op == 1 else data)
                                  for t, c, op, data in cap.websocket_messages]
    merged: dict[str, list[str]] = {}
    for part, kinds in found:
        merged.setdefault(part, []).extend(kinds)
    meta.secrets_redacted = places(merged.items()) or None
    return cap
