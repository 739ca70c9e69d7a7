"""扣款 deductions: confirmed violations and penalties, procured goods paid to a supplier — what an
institution owes the fund, which daily settle took it and what carries forward."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import Reader, SessionDep
from api.responses import JSON
from api.schemas.common import ERRORS
from api.schemas.deductions import DeductionPage
from yibao.deductions import queries
from yibao.institutions.agreements import Institution

router = APIRouter(prefix="/api/v1/deductions", tags=["deductions 扣款"])


@router.get(
    "",
    response_model=DeductionPage,
    responses=ERRORS,
    summary="Deductions, newest first (keyset): amount, kind, source, due date, what took them, what carries",
    description="Staff see every institution's (filter with `institution_code`); an institution sees only its own "
    "(`institution_code` is then ignored). `status`: `open` (nothing taken yet), `partial` (the rest carries "
    "forward), `taken`, or `outstanding` (open or partial).",
)
async def list_deductions(
    reader: Reader,
    session: SessionDep,
    institution_code: Annotated[str | None, Query(max_length=20)] = None,
    kind: Annotated[str | None, Query(max_length=20, examples=["violation"])] = None,
    status: Annotated[Literal["open", "partial", "taken", "outstanding"] | None, Query()] = None,
    cursor: Annotated[int | None, Query(ge=1, le=2**62, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    scope = reader.code if isinstance(reader, Institution) else None
    page = await queries.list_page(
        session, scope=scope, institution_code=institution_code, kind=kind, status=status, cursor=cursor, limit=limit
    )
    return JSON(page)
