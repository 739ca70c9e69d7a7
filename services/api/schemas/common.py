from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from yibao.errors import DomainError
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
    code: str = Field(examples=["PERSON_NOT_FOUND"], description="machine-readable; integrators switch on it")
    message: str = Field(examples=["参保人不存在 person not found"], description="bilingual, for people")
    request_id: str | None = Field(
        default=None, examples=["01a23c0e15417ec9b435635e37041614"], description="also in `X-Request-ID`"
    )


class ErrorResponse(BaseModel):
    error: ErrorBody


def _messages() -> dict[str, str]:
    """Each domain error code with its default (bilingual) message, from the error classes."""
    found: dict[str, str] = {}
    todo: list[type[DomainError]] = [DomainError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls.default_message)
        todo.extend(cls.__subclasses__())
    return found


_GENERIC = {
    "UNAUTHENTICATED": "缺少或无效的凭证 missing or invalid credentials",
    "FORBIDDEN": "无权操作 this caller may not do this",
    "NOT_FOUND": "不存在 not found",
    "RATE_LIMITED": "请求过于频繁 too many requests; retry after the Retry-After seconds",
    "SERVICE_UNAVAILABLE": "数据库暂不可用 database unavailable, retry later",
    "CONFLICT": "并发冲突 a concurrent request changed the same record; retry",
}


def error_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses: per status, one example per code the product
    answers with it (from ``api.errors.STATUS``), each with its real bilingual message."""
    from api.errors import STATUS

    messages = {**_messages(), **_GENERIC}
    docs: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        codes = sorted(code for code, s in STATUS.items() if s == status)
        examples = {
            code: {
                "summary": code,
                "value": {"error": {"code": code, "message": messages.get(code, code), "request_id": "01a23c0e…"}},
            }
            for code in codes
        }
        docs[status] = {
            "model": ErrorResponse,
            "description": " / ".join(codes),
            "content": {"application/json": {"examples": examples}},
        }
    return docs


ERRORS: dict[int | str, dict[str, Any]] = error_docs(400, 401, 403, 404, 409, 422, 429, 503)


def csv_file(description: str) -> dict[int | str, dict[str, Any]]:
    """``responses`` of an operation that answers a CSV file (a bank file, an export)."""
    return {**ERRORS, 200: {"description": description, "content": {"text/csv": {"schema": {"type": "string"}}}}}


#: ``Idempotency-Key``: required on every money-moving POST (a missing one is INVALID_REQUEST)
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="The caller's id for this request: the same key and body replay the first answer "
        "(`Idempotent-Replayed: true`); the same key with another body is `IDEMPOTENCY_CONFLICT` (409).",
        examples=["HIS-20260308-000123"],
    ),
]


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
