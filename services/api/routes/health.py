from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import SessionDep
from api.responses import JSON

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability")
async def health(session: SessionDep) -> Any:
    await session.execute(text("SELECT 1"))
    return JSON({"status": "ok"})
