"""The ccproxy.yaml model, config-dir resolution and loading."""

from ccproxy.config.loader import config_dir, load_config, write_template
from ccproxy.config.model import CCProxyConfig, TransformRule
from ccproxy.config.providers import AuthSource, CommandAuth, EnvAuth, FileAuth, OAuthAuth, ProviderConfig

__all__ = [
    "AuthSource",
    "CCProxyConfig",
    "CommandAuth",
    "EnvAuth",
    "FileAuth",
    "OAuthAuth",
    "ProviderConfig",
    "TransformRule",
    "config_dir",
    "load_config",
    "write_template",
]
