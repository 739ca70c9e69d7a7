from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import SessionDep
from api.responses import JSON
from yibao.db.helpers import ping

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability")
async def health(session: SessionDep) -> Any:
    await ping(session)
    return JSON({"status": "ok"})
