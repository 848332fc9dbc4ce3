"""`shapes audit`: every shape file against the invariants `shapes save` guarantees.

Invariants (the names `--json` reports):
  well_formed            the file parses as its form (JSON artifact, or exactly one HTTP flow)
  private_file           mode 0600: a shape holds a client's identity headers
  one_per_provider       no provider has both a .json and a .mflow shape
  known_provider         the file's name is a provider with a shaping profile
  request_only           no response (nor error) is stored
  no_credentials         no credential, cookie, sentinel or masked value, no x-ccproxy-* or per-connection header
  parseable_body         the body is a JSON object
  capture_pattern        the path matches the profile's capture.path_pattern
  content_fields_absent  content fields are gone (prepend/append fields keep at most their N shape items)
"""

from __future__ import annotations

import json
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.errors import CCProxyError, ShapeError
from ccproxy.shapes import mflow, paths, sanitize
from ccproxy.shapes.envelope import Shape, from_json
from ccproxy.shapes.profile import Profile, resolve
from ccproxy.shapes.store import ShapeFile, ShapeStore

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig


@dataclass
class Problem:
    invariant: str
    message: str


@dataclass
class FileReport:
    file: str
    provider: str
    form: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, invariant: str, message: str) -> None:
        self.problems.append(Problem(invariant, message))

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _read_json(path: Path, report: FileReport) -> Shape | None:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        report.add("well_formed", f"not JSON: {exc}")
        return None
    if isinstance(doc, dict) and "response" in doc:
        report.add("request_only", "the file stores a `response`; a shape is a request only")
    if isinstance(doc, dict) and isinstance(doc.get("request"), dict) and "body" in doc["request"]:
        body = doc["request"]["body"]
        if not isinstance(body, dict):
            report.add("parseable_body", f"request.body is a {type(body).__name__}, not a JSON object")
            doc["request"]["body"] = {}
    try:
        return from_json(doc, report.provider)
    except ShapeError as exc:
        report.add("well_formed", str(exc))
        return None


def _read_mflow(path: Path, report: FileReport) -> Shape | None:
    try:
        flows = mflow.read_flows(path.read_bytes())
    except (OSError, ShapeError) as exc:
        report.add("well_formed", str(exc))
        return None
    if len(flows) != 1:
        report.add("well_formed", f"holds {len(flows)} flows; a shape file holds exactly one")
        if not flows:
            return None
    flow = flows[0]
    if getattr(flow, "response", None) is not None or getattr(flow, "error", None) is not None:
        report.add("request_only", "the flow stores a response (or an error); a shape is a request only")
    try:
        return mflow.from_flow(flow, report.provider)
    except ShapeError as exc:
        invariant = "parseable_body" if "body" in str(exc) else "well_formed"
        report.add(invariant, str(exc))
        return None


def check_credentials(shape: Shape, report: FileReport) -> None:
    for name, value in shape.headers:
        why = sanitize.header_problem(name, value)
        if why:
            report.add("no_credentials", f"header {name!r} is a {why}; remove it")
    for param in sanitize.path_problems(shape.path):
        report.add("no_credentials", f"query parameter {param!r} holds a credential; remove it")
    for where in sanitize.body_problems(shape.body):
        report.add("no_credentials", f"body field {where!r} holds a credential or sentinel; remove it")


def check_content(shape: Shape, profile: Profile, report: FileReport) -> None:
    if not profile.matches(shape.path):
        report.add(
            "capture_pattern",
            f"path {shape.path.split('?')[0]!r} does not match {profile.path_pattern!r} "
            f"(shaping.providers.{profile.name}.capture.path_pattern)",
        )
    for name in profile.content_fields:
        strategy = profile.strategy(name)
        values = paths.get(shape.body, name)
        if not values:
            continue
        if not strategy.keeps_shape:
            report.add("content_fields_absent", f"content field {name!r} ({strategy}) is stored in the envelope")
        elif strategy.limit is not None and isinstance(values[0], list) and len(values[0]) > strategy.limit:
            report.add(
                "content_fields_absent",
                f"content field {name!r} keeps {len(values[0])} shape items; {strategy} allows {strategy.limit}",
            )


def audit_file(sf: ShapeFile, config: CCProxyConfig) -> FileReport:
    report = FileReport(str(sf.path), sf.provider, sf.form)
    mode = stat.S_IMODE(sf.path.stat().st_mode)
    if mode & 0o077:
        report.add("private_file", f"mode {mode:04o}; run `chmod 600 {sf.path}`")
    shape = _read_json(sf.path, report) if sf.form == "json" else _read_mflow(sf.path, report)
    profile: Profile | None = None
    try:
        profile = resolve(config, sf.provider)
    except CCProxyError as exc:
        report.add("known_provider", str(exc))
    if shape is None:
        return report
    check_credentials(shape, report)
    if profile is not None:
        check_content(shape, profile, report)
    return report


def audit(config: CCProxyConfig, directory: Path) -> list[FileReport]:
    """One report per shape file in `directory` (none when it holds no shapes)."""
    files = ShapeStore(directory).files()
    reports = [audit_file(sf, config) for sf in files]
    providers = [sf.provider for sf in files]
    for report in reports:
        if providers.count(report.provider) > 1:
            report.add("one_per_provider", f"provider {report.provider!r} has both a .json and a .mflow shape")
    return reports
