from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from yibao.money import Fen, yuan_to_fen

#: A yuan amount on the wire: a JSON string (or number) with at most two decimals.
MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, examples=["40.00"])]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2, examples=["40.00"])]
#: Out: always a string with exactly two decimals.
MoneyOut = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["1925.00"])]


def fen(value: Decimal) -> Fen:
    return yuan_to_fen(value)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorBody(BaseModel):
    code: str = Field(examples=["PERSON_NOT_FOUND"])
    message: str = Field(examples=["参保人不存在 person not found"])


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "INVALID_REQUEST / INVALID_ID_NUMBER"},
    401: {"model": ErrorResponse, "description": "UNAUTHENTICATED"},
    403: {"model": ErrorResponse, "description": "FORBIDDEN / INSTITUTION_NOT_ACTIVE"},
    404: {"model": ErrorResponse, "description": "NOT_FOUND / PERSON_NOT_FOUND"},
    409: {"model": ErrorResponse, "description": "conflict (duplicate, already cancelled, …)"},
    422: {"model": ErrorResponse, "description": "refused by the rules (not enrolled, …)"},
}


#: a coverage / fund year in a path or a query string (bounded: dates outside it cannot be built)
YearPath = Annotated[int, Path(ge=2000, le=2100, examples=[2026])]
YearQuery = Annotated[int, Query(ge=2000, le=2100, examples=[2026])]
