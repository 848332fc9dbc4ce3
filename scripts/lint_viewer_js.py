"""Check the session viewer's inline JavaScript the way the Python is checked: `node --check` (syntax)
and ESLint's recommended rules (`eslint.config.mjs`; ESLint from `npm ci`, which scripts/setup.sh runs).

    uv run python scripts/lint_viewer_js.py     # exit 1 with the findings, 0 when clean
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "src" / "ccproxy" / "viewer" / "index.html"
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"
SCRIPT_RE = re.compile(r"<script>(.*?)</script>", re.S)  # the code; the data blob has a type attribute


def inline_script(page: Path = PAGE) -> str:
    scripts = SCRIPT_RE.findall(page.read_text(encoding="utf-8"))
    if len(scripts) != 1:
        raise SystemExit(f"{page}: expected one inline <script> of code, found {len(scripts)}")
    # Padded with the lines before it, so a finding's line number is the page's.
    text = page.read_text(encoding="utf-8")
    before = text[: text.index(scripts[0])].count("\n")
    return "\n" * before + scripts[0]


def check(page: Path = PAGE) -> list[str]:
    """The findings (empty when clean): syntax from node, then ESLint's."""
    code = inline_script(page)
    problems: list[str] = []
    with tempfile.NamedTemporaryFile("w", suffix=".js", encoding="utf-8") as f:
        f.write(code)
        f.flush()
        syntax = subprocess.run(["node", "--check", f.name], capture_output=True, text=True, timeout=60)
    if syntax.returncode != 0:
        problems.append(f"node --check: {syntax.stderr.strip()}")
    if not ESLINT.exists():
        problems.append(f"{ESLINT} is missing; run `npm ci` (scripts/setup.sh does)")
        return problems
    lint = subprocess.run(
        [str(ESLINT), "--max-warnings", "0", "--stdin", "--stdin-filename", str(PAGE.with_suffix(".js"))],
        input=code, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    if lint.returncode != 0:
        problems.append(f"eslint: {lint.stdout.strip()} {lint.stderr.strip()}".strip())
    return problems


def main() -> int:
    problems = check()
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
