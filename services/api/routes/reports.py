"""Fund reports from the ledger: per day or month and fund, claims, recoveries, paid out, balance;
and the fund's position per scheme (balance, income and spending by kind, months of balance)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import HTMLResponse

from api.deps import SessionDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS, FIRST_DAY, LAST_DAY, MONTH_PATTERN
from api.schemas.ledger import FundPositionRead
from yibao import clock
from yibao.auth.tokens import StaffPrincipal
from yibao.ledger import position, reports
from yibao.ledger.reports import Period
from yibao.reports import bureau, charts

router = APIRouter(prefix="/api/v1/reports", tags=["reports 报表"])
Staff = Annotated[StaffPrincipal, Depends(require_staff("finance", "inspector"))]


@router.get("/funds", responses=ERRORS, summary="Per period and fund: spending, income (recoveries), paid out, payable")
async def funds(
    _: Staff,
    session: SessionDep,
    date_from: Annotated[date, Query(alias="from", ge=FIRST_DAY, le=LAST_DAY)],
    date_to: Annotated[date, Query(alias="to", ge=FIRST_DAY, le=LAST_DAY)],
    period: Period = "day",
) -> Any:
    return JSON(await reports.funds(session, date_from, date_to, period))


@router.get(
    "/fund-position",
    response_model=FundPositionRead,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
    summary="The fund's position per scheme: balance, income and spending by kind, months of balance",
    description="Opening balance (policy data `fund.opening`, plus everything posted since) at the start of "
    "`as_of`'s year, income and spending by kind up to `as_of`, closing balance, average monthly spending of "
    "the last 12 months, months of balance (closing ÷ that average) and deficit flags, with one row per month. "
    "`format=csv` (or `Accept: text/csv`) returns the monthly series as CSV.",
)
async def fund_position(
    _: Staff,
    session: SessionDep,
    scheme: Annotated[Literal["resident", "employee"], Query()],
    as_of: Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="default: today (China time)")] = None,
    fund: Annotated[
        Literal["pooled", "basic", "critical_illness", "assistance", "personal_account", "maternity"],
        Query(description="pooled (default) = basic + critical_illness"),
    ] = "pooled",
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    p = await position.fund_position(session, scheme, as_of or clock.today(), fund)
    if fmt == "csv" or (fmt is None and accept is not None and "text/csv" in accept):
        return Response(
            position.series_csv(p),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="fund-position-{scheme}-{p.as_of}.csv"'},
        )
    return JSON(position.render(p))


@router.get(
    "/bureau",
    responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
    summary="The bureau's monthly figures: settlements and amounts by tier, scheme and level; QR share; trace codes",
    description="From the month's settled bills (by service date): per scheme and institution level the "
    "settlements (人次), amounts by tier, inpatient cases and their average cost, the share settled with the "
    "member QR code; per institution the traceability-code upload rate. `format=csv` with "
    "`table=by_scheme_and_level` (default) or `table=trace_code_upload`.",
)
async def bureau_month(
    _: Staff,
    session: SessionDep,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, examples=["2026-11"])],
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    table: Literal["by_scheme_and_level", "trace_code_upload"] = "by_scheme_and_level",
) -> Any:
    report = await bureau.monthly(session, month)
    if fmt == "csv":
        return Response(
            bureau.to_csv(report, table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="bureau-{month}-{table}.csv"'},
        )
    return JSON(report)


@router.get(
    "/bureau/page",
    response_class=HTMLResponse,
    responses={**ERRORS, 200: {"content": {"text/html": {}}}},
    summary="The bureau's monthly figures as a read-only page with charts",
    description="The figures of `GET /api/v1/reports/bureau` for `month` as an HTML page: settlements (人次) per "
    "scheme and institution level, fund payments by tier (stacked), and the traceability-code upload rate per "
    "institution, drawn as inline SVG by pygal (nothing loaded from outside: isolated networks), then the "
    "figures as tables.",
)
async def bureau_page(
    _: Staff,
    session: SessionDep,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, examples=["2026-11"])],
) -> HTMLResponse:
    return HTMLResponse(charts.page(await bureau.monthly(session, month)))
