"""Ops views (staff): enrolment rate and the unenrolled special-group ledger; JSON pages or CSV."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from starlette.responses import Response

from api.deps import SessionDep, StaffUser, sees_full_ids
from api.responses import JSON
from api.schemas.common import ERRORS, YearQuery
from yibao.enrolment import ops
from yibao.people.id_number import mask

router = APIRouter(prefix="/api/v1/ops", tags=["ops 运营"], responses=ERRORS)

Page = Callable[[str | None, int], Awaitable[tuple[list[dict[str, Any]], str | None]]]
CSV_PAGE = 1000
RATE_FIELDS = ["region", "group", "people", "enrolled", "rate", "age_band"]
UNENROLLED_FIELDS = ["id_number", "name", "region", "groups"]
_CSV_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


def _wants_csv(fmt: str | None, accept: str | None) -> bool:
    return fmt == "csv" or (fmt is None and accept is not None and "text/csv" in accept)


def _masked_unless(full_ids: bool, page: Page) -> Page:
    """The same page with ID numbers masked for staff roles that do not serve people at the counter."""
    if full_ids:
        return page

    async def masked(cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        items, nxt = await page(cursor, limit)
        return [{**item, "id_number": mask(item["id_number"])} for item in items], nxt

    return masked


async def _answer(page: Page, fields: list[str], cursor: str | None, limit: int, csv_out: bool, name: str) -> Any:
    if not csv_out:
        items, nxt = await page(cursor, limit)
        return JSON({"items": items, "next_cursor": nxt})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    cur: str | None = None
    while True:  # the export walks every keyset page
        items, cur = await page(cur, CSV_PAGE)
        writer.writerows(items)
        if cur is None:
            break
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


Fmt = Annotated[Literal["json", "csv"] | None, Query(alias="format", description="`csv` to export every row")]
Accept = Annotated[str | None, Header()]


@router.get("/enrolment-rate", summary="Enrolment rate by region and special group for a year", responses=_CSV_DOC)
async def enrolment_rate(
    year: YearQuery,
    _: StaffUser,
    session: SessionDep,
    fmt: Fmt = None,
    accept: Accept = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    by_age_band: Annotated[bool, Query(description="also split by age band on Jan 1 (else `all`)")] = False,
) -> Any:
    page = functools.partial(ops.enrolment_rate, session, year, by_age_band=by_age_band)
    return await _answer(page, RATE_FIELDS, cursor, limit, _wants_csv(fmt, accept), f"enrolment-rate-{year}")


@router.get(
    "/unenrolled-special-groups",
    responses=_CSV_DOC,
    summary="One person, one file: special-group people not yet enrolled for a year",
)
async def unenrolled(
    year: YearQuery,
    staff: StaffUser,
    session: SessionDep,
    fmt: Fmt = None,
    accept: Accept = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    page = _masked_unless(sees_full_ids(staff), functools.partial(ops.unenrolled_special, session, year, region))
    return await _answer(page, UNENROLLED_FIELDS, cursor, limit, _wants_csv(fmt, accept), f"unenrolled-special-{year}")


WHO_TO_ENROL_FIELDS = ["id_number", "name", "region", "age_band", "reason", "lapsed_since", "groups"]


@router.get(
    "/unenrolled",
    responses=_CSV_DOC,
    summary="Who to enrol: everyone registered and alive not enrolled for a year, with why",
    description=(
        "`reason`: `special_group` (a group tag valid some time in the year), `lapsed` (enrolled before; "
        "`lapsed_since` is the first year missed) or `never_enrolled`. A person with a death date on or before "
        "Jan 1 of the year (or already past) is not listed. `age_band` is the age on Jan 1: "
        + ", ".join(ops.AGE_BANDS)
        + ". Keyset pages (`next_cursor`); `?format=csv` or `Accept: text/csv` exports every row. ID numbers are "
        "whole for clerks (and admin), masked for other staff roles."
    ),
)
async def who_to_enrol(
    year: YearQuery,
    staff: StaffUser,
    session: SessionDep,
    fmt: Fmt = None,
    accept: Accept = None,
    reason: Annotated[Literal["special_group", "lapsed", "never_enrolled"] | None, Query()] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    group: Annotated[str | None, Query(max_length=30)] = None,
    age_band: Annotated[Literal["0-17", "18-59", "60-69", "70-79", "80+"] | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    async def page(cur: str | None, lim: int) -> tuple[list[dict[str, Any]], str | None]:
        return await ops.unenrolled(
            session, year, reason=reason, region=region, group=group, age_band=age_band, cursor=cur, limit=lim
        )

    listed = _masked_unless(sees_full_ids(staff), page)
    return await _answer(listed, WHO_TO_ENROL_FIELDS, cursor, limit, _wants_csv(fmt, accept), f"unenrolled-{year}")
