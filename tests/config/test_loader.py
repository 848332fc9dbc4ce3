from __future__ import annotations

from pathlib import Path

import pytest

from ccproxy.config.loader import config_dir, load_config, write_template
from ccproxy.config.model import EnvAuth
from ccproxy.errors import ConfigError


def write(d: Path, text: str) -> Path:
    (d / "ccproxy.yaml").write_text(text)
    return d


def test_dir_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCPROXY_CONFIG_DIR", str(tmp_path / "env"))
    assert config_dir(tmp_path / "flag") == (tmp_path / "flag").resolve()
    assert config_dir(None) == (tmp_path / "env").resolve()
    monkeypatch.delenv("CCPROXY_CONFIG_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir(None) == (tmp_path / "home" / ".config" / "ccproxy").resolve()


def test_no_file_gives_useful_defaults(tmp_path: Path) -> None:
    cfg = load_config(tmp_path)
    assert (cfg.host, cfg.port, cfg.inspector.port, cfg.mcp.http.port) == ("127.0.0.1", 4000, 8083, 4030)
    assert set(cfg.providers) == {"anthropic", "openai", "gemini"}
    auth = cfg.providers["anthropic"].auth
    assert isinstance(auth, EnvAuth) and auth.var == "ANTHROPIC_API_KEY"
    assert cfg.providers["openai"].auth_header == "authorization"
    assert cfg.providers["gemini"].auth_header == "x-goog-api-key"
    assert cfg.hooks.inbound == ["ccproxy.hooks.inject_auth", "ccproxy.hooks.extract_session_id"]


def test_template_is_valid_and_init_refuses_overwrite(tmp_path: Path) -> None:
    path = write_template(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    cfg = load_config(tmp_path)
    assert cfg.providers["anthropic"].path == "/v1/messages"
    with pytest.raises(ConfigError, match="--force"):
        write_template(tmp_path)
    write_template(tmp_path, force=True)


def test_provider_host_with_port(tmp_path: Path) -> None:
    write(tmp_path, """
ccproxy:
  providers:
    local: {provider: openai, host: "127.0.0.1:9000", scheme: http, auth: {type: env, env: X}}
""")
    p = load_config(tmp_path).providers["local"]
    assert (p.hostname, p.port, p.path) == ("127.0.0.1", 9000, "/v1/chat/completions")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ccproxy: [unclosed", "not valid YAML"),
        ("ccproxy:\n  prot: 4000\n", "ccproxy.prot: unknown key"),
        ("other: 1\n", "unknown top-level key"),
        ("ccproxy:\n  port: lots\n", "ccproxy.port"),
        (
            "ccproxy:\n  providers:\n    a: {host: h, auth: {type: magic}}\n",
            "ccproxy.providers.a.auth",
        ),
        (
            "ccproxy:\n  providers:\n    a: {host: h}\n  inspector:\n    transforms:\n"
            "      - {match_host: '([', dest_provider: a}\n",
            "ccproxy.inspector.transforms[0].match_host: invalid regex",
        ),
        (
            "ccproxy:\n  providers:\n    a: {host: h}\n  inspector:\n    transforms:\n"
            "      - {dest_provider: nope}\n",
            "dest_provider 'nope' is not a key of providers",
        ),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(tmp_path / "ccproxy.yaml") in str(err.value)
    assert expected in str(err.value)
    assert err.value.exit_code == 2
