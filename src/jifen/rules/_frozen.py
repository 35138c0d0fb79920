"""The base of every rule document model: frozen (a published version is never edited in place)
and refusing unknown keys (a misspelt term fails loudly)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
