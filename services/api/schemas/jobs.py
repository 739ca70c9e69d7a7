from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import Strict


class JobRequest(Strict):
    kind: str = Field(examples=["daily_settle"], description="see GET /api/v1/jobs/kinds")
    params: dict[str, Any] = Field(
        default_factory=dict,
        examples=[{"date": "2026-11-23"}],
        description="what the kind takes (GET /api/v1/jobs/kinds): refused with INVALID_REQUEST before anything "
        "is stored when a name is unknown, a value of the wrong type or range, or any number not an integer "
        "within ±2^53",
    )
    dedup_key: str | None = Field(
        default=None,
        max_length=120,
        description="the same kind + dedup_key returns the existing run instead of starting another",
    )


class JobRead(BaseModel):
    id: str
    kind: str
    params: dict[str, Any]
    state: str = Field(description="queued / running / succeeded / failed")
    attempts: int
    processed: int
    total: int | None
    requested_by: str
    requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None
    error: str | None


class JobPage(BaseModel):
    items: list[JobRead]
    next_cursor: str | None


class JobKindRead(BaseModel):
    kind: str
    service: str
    roles: list[str]
    summary: str
    params: dict[str, str] | None = Field(
        description="the params it takes: name → type (date YYYY-MM-DD, year 2000–2100, month 1–12, id, flag, "
        "region, names, parallelism 1–8), a trailing ? when optional; null: any JSON-safe params",
        examples=[{"date": "date"}],
    )
