"""The shape store: `shaping.shapes_dir`, one file per provider, `<provider>.json` or `<provider>.mflow`.

One shape per provider: saving one form removes the other, so replay never has to guess. Files
are written atomically with mode 0600 (they hold a client's identity headers). Reads are cached
by (mtime, size), so the daemon picks up a `shapes save` on the next request without re-parsing
the file on every one.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ccproxy.errors import ShapeError
from ccproxy.fileio import write_private
from ccproxy.shapes import mflow
from ccproxy.shapes.envelope import Shape, from_json

Form = Literal["json", "mflow"]
SUFFIX: dict[str, Form] = {".json": "json", ".mflow": "mflow"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class ShapeFile:
    provider: str
    form: Form
    path: Path


def check_name(provider: str) -> str:
    if not _NAME.match(provider) or provider.startswith("."):
        raise ShapeError(f"provider name {provider!r} cannot name a shape file; use letters, digits, '_', '-', '.'")
    return provider


def parse_file(path: Path, form: Form, provider: str) -> Shape:
    """Read one shape file; any problem is a ShapeError naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ShapeError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        if form == "json":
            try:
                doc = json.loads(data)
            except ValueError as exc:
                raise ShapeError(f"not JSON: {exc}") from None
            return from_json(doc, provider)
        flows = mflow.read_flows(data)
        if len(flows) != 1:
            raise ShapeError(f"holds {len(flows)} flows; a shape file holds exactly one")
        return mflow.from_flow(flows[0], provider)
    except ShapeError as exc:
        raise ShapeError(f"{path}: {exc}") from None


class ShapeStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[Path, tuple[tuple[int, int], Shape]] = {}

    def path(self, provider: str, form: Form) -> Path:
        return self.directory / f"{check_name(provider)}.{form}"

    def files(self) -> list[ShapeFile]:
        """Every shape file in the directory, by provider then form."""
        if not self.directory.is_dir():
            return []
        out = [
            ShapeFile(p.stem, SUFFIX[p.suffix], p)
            for p in self.directory.iterdir()
            if p.suffix in SUFFIX and p.is_file() and not p.name.startswith(".")
        ]
        return sorted(out, key=lambda f: (f.provider, f.form))

    def find(self, provider: str) -> ShapeFile | None:
        """The provider's shape file; two forms at once is an error (replay would have to guess)."""
        hits = [ShapeFile(provider, form, p) for form in ("json", "mflow") if (p := self.path(provider, form)).is_file()]
        if len(hits) > 1:
            raise ShapeError(
                f"provider {provider!r} has two shapes ({hits[0].path.name}, {hits[1].path.name}); "
                "remove one, or save again with `ccproxy shapes save`"
            )
        return hits[0] if hits else None

    def load(self, provider: str) -> tuple[ShapeFile, Shape] | None:
        """The provider's shape, or None when none is saved; a broken file is a ShapeError."""
        found = self.find(provider)
        if found is None:
            return None
        try:
            st = found.path.stat()
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(found.path)
        if cached and cached[0] == key:
            return found, cached[1].copy()
        shape = parse_file(found.path, found.form, provider)
        self._cache[found.path] = (key, shape)
        return found, shape.copy()

    def save(self, shape: Shape, form: Form, scheme: str = "https", host: str = "", port: int = 443) -> ShapeFile:
        """Write the shape (0600, atomic) and remove the provider's other form, if any."""
        target = ShapeFile(shape.provider, form, self.path(shape.provider, form))
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if form == "json":
            data = (json.dumps(shape.to_json(), indent=2, ensure_ascii=False) + "\n").encode()
        else:
            data = mflow.dumps(mflow.to_flow(shape, scheme, host or "localhost", port))
        write_private(target.path, data)
        other = self.path(shape.provider, "mflow" if form == "json" else "json")
        with contextlib.suppress(FileNotFoundError):
            other.unlink()
        return target
