"""Which hosts the forward proxy decrypts."""

from __future__ import annotations

from ccproxy.config.model import CCProxyConfig
from ccproxy.forward.hosts import InterceptHosts


def test_providers_and_intercept_hosts_are_decrypted_nothing_else() -> None:
    config = CCProxyConfig.model_validate(
        {
            "providers": {"local": {"provider": "openai", "host": "127.0.0.2:8443"}},
            "inspector": {"forward": {"intercept_hosts": ["LLM.Internal", "*.corp.example", "10.0.0.9:7000"]}},
        }
    )
    hosts = InterceptHosts.from_config(config)
    assert hosts.matches("127.0.0.2", 8443) and hosts.matches("llm.internal.", 9) and hosts.matches("a.b.corp.example", 443)
    assert not hosts.matches("corp.example", 443) and not hosts.matches("example.org", 443)
    assert not hosts.matches("xcorp.example", 443)
    assert "127.0.0.2:8443" in hosts.names() and "llm.internal" in hosts.names() and "*.corp.example" in hosts.names()


def test_a_provider_at_an_address_decrypts_its_port_only() -> None:
    config = CCProxyConfig.model_validate(
        {"providers": {"local": {"provider": "openai", "host": "127.0.0.2:8443"},
                       "cloud": {"provider": "anthropic", "host": "api.example.com"}},
         "inspector": {"forward": {"intercept_hosts": ["10.0.0.9:7000"]}}})
    hosts = InterceptHosts.from_config(config)
    assert not hosts.matches("127.0.0.2", 22) and not hosts.matches("127.0.0.2", 443)
    assert hosts.matches("api.example.com", 443) and not hosts.matches("api.example.com", 8080)
    assert hosts.matches("10.0.0.9", 7000) and not hosts.matches("10.0.0.9", 7001)


def test_ipv6_brackets_do_not_matter() -> None:
    assert InterceptHosts.from_names(["[::1]"]).matches("::1", 1)
    assert InterceptHosts.from_names(["[::1]:9000"]).matches("::1", 9000)
    assert not InterceptHosts.from_names(["[::1]:9000"]).matches("::1", 9001)
