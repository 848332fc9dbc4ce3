"""Which request paths are each wire format's main (generation) endpoint."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CODE_ASSIST = re.compile(r"^(?P<prefix>.*?)/(?P<ver>v1internal):(?P<method>generateContent|streamGenerateContent)$")
_GEMINI = re.compile(
    r"^(?P<prefix>.*?)/(?P<ver>v1beta|v1alpha|v1)/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)


@dataclass(frozen=True)
class Endpoint:
    """A main endpoint hit: the format, and for Gemini the model and method from the path."""

    format: str
    model: str | None = None
    method: str | None = None
    version: str | None = field(default=None, compare=False)  # Gemini API version the client called

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
        return Endpoint("gemini", m["model"], m["method"], m["ver"])
    if m := _CODE_ASSIST.match(bare):  # gemini-cli's Code Assist envelope; the model is in the body
        return Endpoint("code_assist", None, m["method"], m["ver"])
    return None


#: A Gemini path's API version, where a `{model}` placeholder follows it.
_VERSION = re.compile(r"/(?:v1beta|v1alpha|v1)(?=/models/\{model\})")


def provider_path(template: str, endpoint: Endpoint) -> str:
    """Fill a provider `path`; Gemini's carries `{model}` and `{method}` placeholders.

    A Gemini client keeps the API version it called (`/v1/...` stays `/v1/...` whatever version
    the template names): v1 and v1beta accept different fields, and the client chose. A template
    may also say `{version}` outright (v1beta when the client's is unknown).
    """
    if "{" not in template:
        return template
    version = endpoint.version if endpoint.format == "gemini" else None
    if version:
        template = _VERSION.sub("/{version}", template)
    return template.format(
        model=endpoint.model or "", method=endpoint.method or "generateContent", version=version or "v1beta"
    )


def path_matches(template: str, path: str) -> bool:
    """Does a request path hit a provider `path` (placeholders match one path segment)?

    A Gemini template's API version matches any of them, as `provider_path` keeps the client's.
    """
    bare = path.split("?", 1)[0]
    if "{" not in template:
        return bare == template
    pattern = (
        re.escape(_VERSION.sub("/{version}", template))
        .replace(r"\{model\}", r"[^/:]+")
        .replace(r"\{method\}", r"[A-Za-z]+")
        .replace(r"\{version\}", r"(?:v1beta|v1alpha|v1)")
    )
    return re.fullmatch(pattern, bare) is not None
