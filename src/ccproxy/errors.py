"""One small error hierarchy: every error carries a message the user can act on."""

from __future__ import annotations

from ccproxy.scrub import mask_credentials


class CCProxyError(Exception):
    """Base of every error ccproxy raises on purpose; the CLI prints it as one line."""

    exit_code = 1


class ConfigError(CCProxyError):
    """The config (or a command-line usage of it) is wrong; exit code 2."""

    exit_code = 2


class UsageError(CCProxyError):
    """The command line asked for something impossible (bad filter, ambiguous id); exit code 2."""

    exit_code = 2


class AuthError(CCProxyError):
    """A provider credential could not be resolved or refreshed.

    Its message often quotes text ccproxy does not control (a command's stderr, an OAuth endpoint's
    error), and it travels far: `status --json`, `/ccproxy/auth`, the 502 body, the stored flow. So
    it is scrubbed once, here, by the same scrubber as the log."""

    def __init__(self, message: str = "") -> None:
        super().__init__(mask_credentials(str(message), keep_sentinels=True))


class RouteError(CCProxyError):
    """A request could not be routed to any provider."""


class DaemonError(CCProxyError):
    """The daemon is not running, already running, or cannot bind its ports."""


class NamespaceError(CCProxyError):
    """The capture jail cannot be set up (missing tool, unsupported OS, failed step)."""


class FlowError(CCProxyError):
    """A flow could not be found, stored or rendered."""


class ShapeError(CCProxyError):
    """A shape could not be captured, read or applied."""
