"""Narrow the flow set with jq filters (the real jq language, through the `jq` bindings).

Every filter takes the JSON array of flows and must return exactly one JSON array of flow
objects. All filters run as one jq program, so the flow JSON is parsed once however many
filters are chained; each stage checks its own result, so an error names the filter at fault.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ccproxy.errors import UsageError

_STAGE = """def __ccproxy_stage($i; f):
  [try f catch error({"ccproxy_stage": $i, "error": .})]
  | if length != 1 then error({"ccproxy_stage": $i, "error": "returned \\(length) results instead of one array"})
    elif (.[0] | type) != "array" then error({"ccproxy_stage": $i, "error": "returned \\(.[0] | type) instead of an array"})
    elif (.[0] | all(.[]; type == "object" and (.id | type) == "string") | not)
      then error({"ccproxy_stage": $i, "error": "returned an array whose items are not flows (objects with a string .id)"})
    else .[0] end;
"""


@dataclass(frozen=True)
class Filter:
    """One jq filter and where it came from, for error messages."""

    text: str
    origin: str  # "flows.default_jq_filters[0]" or "--jq #1"


def chain(defaults: Sequence[str], cli: Sequence[str]) -> list[Filter]:
    """Config defaults first, then each `--jq` in the order given."""
    return [Filter(t, f"flows.default_jq_filters[{i}]") for i, t in enumerate(defaults)] + [
        Filter(t, f"--jq #{i + 1}") for i, t in enumerate(cli)
    ]


def _hint(message: str) -> str:
    if "Cannot index object with number" in message:
        return " (the filter gets the array of flows: `.[-1:]` keeps the last one, `.[:5]` the first five)"
    if "Cannot iterate over" in message or "instead of an array" in message:
        return " (wrap a per-flow expression as `map(select(...))` so the result stays an array)"
    return ""


def _fail(flt: Filter, message: str) -> UsageError:
    return UsageError(f"jq filter {flt.origin} {flt.text!r} failed: {message}{_hint(message)}")


def program(filters: Sequence[Filter], tail: str = "") -> str:
    """The one jq program that runs every stage in order, then `tail` (e.g. `map(.id)`)."""
    stages = " | ".join(f"__ccproxy_stage({i}; (\n{f.text}\n))" for i, f in enumerate(filters))
    return _STAGE + stages + (f" | {tail}" if tail else "")


def compile_all(filters: Sequence[Filter]) -> None:
    """Compile each filter alone first, so a syntax error names its filter."""
    import jq

    for flt in filters:
        try:
            jq.compile(flt.text)
        except ValueError as exc:
            raise _fail(flt, str(exc).strip()) from None


def run(filters: Sequence[Filter], flows_json: str, tail: str = "") -> str:
    """Run the chain (then `tail`) over a JSON array text; jq writes the result text itself."""
    import jq

    compile_all(filters)
    try:
        return str(jq.compile(program(filters, tail)).input_text(flows_json).text())
    except ValueError as exc:
        raise _stage_error(filters, str(exc)) from None


def _stage_error(filters: Sequence[Filter], message: str) -> UsageError:
    try:
        doc = json.loads(message)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("ccproxy_stage"), int):
        err = doc.get("error")
        text = err if isinstance(err, str) else json.dumps(err)
        return _fail(filters[doc["ccproxy_stage"]], text)
    return UsageError(f"jq filters failed: {message}")


def select_ids(filters: Sequence[Filter], flows_json: str) -> list[str]:
    """The ids of the flows the chain keeps, in the order the last filter left them."""
    ids = json.loads(run(filters, flows_json, tail="map(.id)"))
    return [str(i) for i in ids]
