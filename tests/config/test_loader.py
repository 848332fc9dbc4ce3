from __future__ import annotations

from pathlib import Path

import pytest

from ccproxy.config.loader import config_dir, load_config, write_template
from ccproxy.config.providers import CommandAuth, EnvAuth
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


# --- listener ports -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("port: 99999", "ccproxy.port: 99999 is not a port"),
        ("port: 65536", "ccproxy.port: 65536 is not a port"),
        ("port: -1", "ccproxy.port: -1 is not a port"),
        ("port: true", "ccproxy.port: True is not a port"),
        ("port: '4000'", "ccproxy.port: '4000' is not a port"),
        ("inspector: {port: 70000}", "ccproxy.inspector.port: 70000 is not a port"),
        ("mcp: {http: {port: false}}", "ccproxy.mcp.http.port: False is not a port"),
        ("inspector: {wireguard_port: 1.5}", "ccproxy.inspector.wireguard_port: 1.5 is not a port"),
        ("port: 8083", "ccproxy.inspector.port: 8083 is also ccproxy.port"),
        ("port: 5000\n  mcp: {http: {port: 5000}}", "ccproxy.mcp.http.port: 5000 is also ccproxy.port"),
        (
            "inspector: {port: 5001, wireguard_port: 5001}",
            "ccproxy.inspector.wireguard_port: 5001 is also ccproxy.inspector.port",
        ),
    ],
)
def test_bad_ports_are_config_errors(tmp_path: Path, text: str, key: str) -> None:
    write(tmp_path, f"ccproxy:\n  {text}\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(tmp_path / "ccproxy.yaml") in str(err.value)
    assert key in str(err.value)


def test_port_zero_may_repeat_and_a_disabled_mcp_port_does_not_count(tmp_path: Path) -> None:
    write(tmp_path, "ccproxy:\n  port: 0\n  inspector: {port: 0}\n  mcp: {http: {port: 8083, enabled: false}}\n")
    cfg = load_config(tmp_path)
    assert (cfg.port, cfg.inspector.port, cfg.inspector.wireguard_port) == (0, 0, 0)


def test_port_overrides_beat_the_file_and_are_validated(tmp_path: Path) -> None:
    from ccproxy.config.loader import port_overrides

    write(tmp_path, "ccproxy:\n  port: 5000\n")
    env = {"CCPROXY_PORT": "5100", "CCPROXY_INSPECTOR_PORT": "5101", "CCPROXY_MCP_PORT": "5102"}
    cfg = load_config(tmp_path, port_overrides(env))
    assert (cfg.port, cfg.inspector.port, cfg.mcp.http.port) == (5100, 5101, 5102)
    cfg = load_config(tmp_path, port_overrides(env, {"port": 5200, "inspector.port": None}))
    assert (cfg.port, cfg.inspector.port) == (5200, 5101), "a flag beats the environment"
    assert "5100" not in (tmp_path / "ccproxy.yaml").read_text(), "overrides are never written"

    with pytest.raises(ConfigError, match=r"CCPROXY_PORT: 'http' is not a port"):
        load_config(tmp_path, port_overrides({"CCPROXY_PORT": "http"}))
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, port_overrides({}, {"port": 99999}))
    assert "ccproxy.port: 99999 is not a port" in str(err.value) and "set by --port" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, port_overrides({"CCPROXY_INSPECTOR_PORT": "5000"}))
    assert "ccproxy.inspector.port: 5000 is also ccproxy.port" in str(err.value)
    assert "set by CCPROXY_INSPECTOR_PORT" in str(err.value)


# --- built-in providers ---------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["{type: env, env: MY_KEY}", "{type: env, var: MY_KEY}", "{env: MY_KEY}"])
def test_overriding_only_the_auth_of_a_builtin_provider(tmp_path: Path, auth: str) -> None:
    write(tmp_path, f"ccproxy:\n  providers:\n    anthropic: {{auth: {auth}}}\n")
    cfg = load_config(tmp_path)
    p = cfg.providers["anthropic"]
    assert (p.provider, p.host, p.path, p.scheme) == ("anthropic", "api.anthropic.com", "/v1/messages", "https")
    assert isinstance(p.auth, EnvAuth) and p.auth.var == "MY_KEY"
    assert set(cfg.providers) == {"anthropic"}, "only the providers the file names exist"


def test_builtin_override_with_another_auth_type_and_host(tmp_path: Path) -> None:
    write(tmp_path, """
ccproxy:
  providers:
    openai: {host: "127.0.0.1:9000", scheme: http, auth: {type: command, command: "echo k"}}
    mine: {provider: gemini, host: example.invalid}
""")
    cfg = load_config(tmp_path)
    p = cfg.providers["openai"]
    assert (p.provider, p.hostname, p.port, p.path) == ("openai", "127.0.0.1", 9000, "/v1/chat/completions")
    assert isinstance(p.auth, CommandAuth) and p.auth.command == "echo k"
    assert cfg.providers["mine"].auth is None, "a provider of its own inherits nothing"


def test_a_duplicate_key_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path, "ccproxy:\n  port: 4000\n  host: 127.0.0.1\n  port: 4001\n")
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    assert "duplicate key 'port'" in str(refused.value) and "line 4" in str(refused.value)
    write(tmp_path, "ccproxy:\n  inspector: &b {port: 4002}\n  mcp:\n    http:\n      <<: *b\n      port: 4001\n")
    assert load_config(tmp_path).mcp.http.port == 4001  # a merge key is no duplicate
