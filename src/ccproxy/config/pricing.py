"""`prices:` in ccproxy.yaml: USD per million tokens for models the bundled price table lacks (or priced otherwise)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModelPrice(BaseModel):
    """One model's price; keys of `prices:` are model names or globs (`my-finetune-*`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_mtok: float = Field(ge=0, description="USD per million input tokens")
    output_mtok: float = Field(ge=0, description="USD per million output tokens")
    cache_read_mtok: float | None = Field(default=None, ge=0, description="cache reads (default: the input price)")
    cache_write_mtok: float | None = Field(default=None, ge=0, description="cache writes (default: the input price)")
