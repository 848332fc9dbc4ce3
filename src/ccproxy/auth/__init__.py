"""Credential sources, the resolver the daemon shares, and sentinel-key parsing."""

from ccproxy.auth.resolver import CredentialResolver
from ccproxy.auth.sentinel import SENTINEL_PREFIX, find_sentinel, sentinel_for

__all__ = ["SENTINEL_PREFIX", "CredentialResolver", "find_sentinel", "sentinel_for"]
