#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian/Ubuntu machine:
# system tools for the capture jail, uv, the locked Python environment, and Node packages.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(slirp4netns wireguard-tools wireguard-go iptables iproute2 util-linux tshark curl jq nodejs chromium)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v node >/dev/null 2>&1; then
    # A Node from elsewhere (nvm, NodeSource) is fine; don't fight it with Debian's.
    missing=("${missing[@]/nodejs}")
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends ${missing[@]} >/dev/null
  else
    echo "setup: please install: ${missing[*]} (needs root and apt-get)" >&2
  fi
fi

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet uv
fi
uv sync --frozen --quiet
# ESLint for the viewer's inline script (scripts/lint_viewer_js.py), pinned by package-lock.json.
if command -v npm >/dev/null 2>&1; then
  npm ci --silent --no-audit --no-fund
else
  echo "setup: npm is missing: the viewer's JavaScript cannot be linted" >&2
fi
# Bytecode for the venv and ccproxy's own sources, once (pyproject has no `compile-bytecode`: uv
# re-ran it on every `uv run`). Where PYTHONDONTWRITEBYTECODE is set, every daemon a test starts would
# otherwise compile mitmproxy again (3.5 s -> 7.5 s of imports). Up to date, this takes about a second.
uv run --quiet python -c 'import compileall, sys, sysconfig; sys.exit(not all(compileall.compile_dir(d, quiet=1, workers=0) for d in (sysconfig.get_paths()["purelib"], "src")))' >/dev/null
# The agent CLIs tests/e2e/test_agent_clis.py runs (pinned in tests/agent_clis/package.json; the
# install is skipped when it is already there). No registry, no CLIs: those tests skip, saying why.
if command -v npm >/dev/null 2>&1; then
  (cd tests/agent_clis && npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1) \
    || echo "setup: npm could not install the agent CLIs; tests/e2e/test_agent_clis.py will skip" >&2
fi
echo "setup: ok ($(uv run python --version), $(uv run ccproxy --version))"
