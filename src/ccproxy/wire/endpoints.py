"""Which request paths are each wire format's main (generation) endpoint."""

from __future__ import annotations

import re
from dataclasses import dataclass

_GEMINI = re.compile(
    r"^(?P<prefix>.*?)/(?P<ver>v1beta|v1alpha|v1)/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)


@dataclass(frozen=True)
class Endpoint:
    """A main endpoint hit: the format, and for Gemini the model and method from the path."""

    format: str
    model: str | None = None
    method: str | None = None

    @property
    def streaming_path(self) -> bool:
        return self.method == "streamGenerateContent"


def main_endpoint(path: str) -> Endpoint | None:
    """Classify a request path (query ignored) as a format's main endpoint, or None."""
    bare = path.split("?", 1)[0].rstrip("/")
    if bare.endswith("/v1/messages") or bare == "/messages":
        return Endpoint("anthropic")
    if bare.endswith("/chat/completions"):
        return Endpoint("openai")
    if bare.endswith("/v1/responses") or bare == "/responses":
        return Endpoint("openai_responses")
    if m := _GEMINI.match(bare):
        return Endpoint("gemini", m["model"], m["method"])
    return None


def provider_path(template: str, endpoint: Endpoint) -> str:
    """Fill a provider `path`; Gemini's carries `{model}` and `{method}` placeholders."""
    if "{" not in template:
        return template
    return template.format(model=endpoint.model or "", method=endpoint.method or "generateContent")


def path_matches(template: str, path: str) -> bool:
    """Does a request path hit a provider `path` (placeholders match one path segment)?"""
    bare = path.split("?", 1)[0]
    if "{" not in template:
        return bare == template
    pattern = re.escape(template).replace(r"\{model\}", r"[^/:]+").replace(r"\{method\}", r"[A-Za-z]+")
    return re.fullmatch(pattern, bare) is not None
