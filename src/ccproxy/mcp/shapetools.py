"""What the shape tools answer: `ccproxy shapes save|list` semantics, over the same library.

`capture_shape` saves exactly what `shapes save` would (same flow set, same file, mode 0600);
its answer names the file and the captured request, never a header value or a body, so no
credential can reach the agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccproxy.config.model import CCProxyConfig
from ccproxy.shapes import api


@dataclass
class ShapeTools:
    """The shape tools over one config dir's flow store and `shaping.shapes_dir`."""

    config: CCProxyConfig
    config_dir: Path

    def capture_shape(self, provider: str, jq: Sequence[str] = (), mflow: bool = False) -> dict[str, Any]:
        return api.save(self.config, self.config_dir, provider, jq, mflow).to_json()

    def list_shapes(self) -> list[dict[str, Any]]:
        return api.list_shapes(self.config, self.config_dir)
