"""ccproxy: see and steer what LLM clients send over the wire."""

from ccproxy.errors import (
    AuthError,
    CCProxyError,
    ConfigError,
    DaemonError,
    FlowError,
    NamespaceError,
    RouteError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "CCProxyError",
    "ConfigError",
    "DaemonError",
    "FlowError",
    "NamespaceError",
    "RouteError",
    "UsageError",
    "__version__",
]
