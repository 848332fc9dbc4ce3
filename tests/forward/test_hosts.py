"""Which hosts the forward proxy decrypts."""

from __future__ import annotations

from ccproxy.config.model import CCProxyConfig
from ccproxy.forward.hosts import InterceptHosts


def test_providers_and_intercept_hosts_are_decrypted_nothing_else() -> None:
    config = CCProxyConfig.model_validate(
        {
            "providers": {"local": {"provider": "openai", "host": "127.0.0.2:8443"}},
            "inspector": {"forward": {"intercept_hosts": ["LLM.Internal", "*.corp.example"]}},
        }
    )
    hosts = InterceptHosts.from_config(config)
    assert hosts.matches("127.0.0.2") and hosts.matches("llm.internal.") and hosts.matches("a.b.corp.example")
    assert not hosts.matches("corp.example") and not hosts.matches("example.org")
    assert not hosts.matches("xcorp.example")
    assert hosts.names() == ["127.0.0.2", "llm.internal", "*.corp.example"]


def test_ipv6_brackets_do_not_matter() -> None:
    assert InterceptHosts.from_names(["[::1]"]).matches("::1")
