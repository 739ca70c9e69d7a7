from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from yibao.money import Fen, yuan_to_fen

#: A yuan amount on the wire: a JSON string (or number) with at most two decimals, below one
#: trillion yuan (10^14 fen: a 64-bit fen holds 92,000 times that, so sums of many stay exact).
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


#: The dates the product handles: the oldest person on the register was born after 1900 and no
#: policy year runs past 2100 (``YearPath``). A date outside them is a typo or a probe, refused
#: with INVALID_REQUEST before any date arithmetic (a day after 9999-12-31 cannot be built).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2100, 12, 31)
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY, examples=["2026-03-08"])]
#: a count of things a caller reports (bills in a month, …): at most a billion
Count = Annotated[int, Field(ge=0, le=1_000_000_000, examples=[1])]
#: a database row id in a path (BIGINT): positive and 64-bit
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, examples=[1])]
#: a calendar month of a policy year, 2000-01 … 2100-12
MONTH_PATTERN = r"^(20\d\d|2100)-(0[1-9]|1[0-2])$"
Month = Annotated[str, Field(pattern=MONTH_PATTERN, examples=["2026-03"])]
