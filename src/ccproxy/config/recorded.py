"""A `provider: recorded` entry's own keys: recorded flows answer instead of a network (ccproxy.addons.recorded)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RecordedKeys(BaseModel):
    """Mixed into `ProviderConfig`; only a `provider: recorded` entry may set them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(
        default=None, alias="from",
        description="where the recorded flows come from: a file `ccproxy flows export --recording` wrote, "
        "or a jq filter over this config dir's flow store (e.g. 'map(select(.ccproxy.session_id == \"s1\"))')",
    )
    fast: bool = Field(default=False, description="send a recorded stream at once instead of at its recorded pace")
    unmatched: str = Field(
        default="error",
        description="a request no recorded flow matches: `error` (answered with what was closest), or the name "
        "of a provider to pass it through to",
    )
