"""Admin enrolment (coverage start and incentives typed in until payment history derives them)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from yibao.db.helpers import add_unique
from yibao.enrolment.orm import EnrolmentRow
from yibao.errors import InvalidRequest
from yibao.money import Fen
from yibao.people.orm import PersonRow
from yibao.people.repository import get_by_id_number

SCHEMES = ("resident", "employee")


async def enrol(
    session: AsyncSession,
    raw_id: str,
    scheme: str,
    year: int,
    coverage_start: date,
    retiree: bool,
    continuous_years: int,
    zero_claim_credit: Fen,
) -> tuple[PersonRow, EnrolmentRow]:
    if scheme not in SCHEMES:
        raise InvalidRequest("scheme must be resident or employee")
    if coverage_start.year > year:
        raise InvalidRequest("coverage_start is after the coverage year")
    if retiree and scheme != "employee":
        raise InvalidRequest("only employees can be retirees")
    if continuous_years < 0 or zero_claim_credit < 0:
        raise InvalidRequest("continuous_years and zero_claim_credit cannot be negative")
    person = await get_by_id_number(session, raw_id)
    row = EnrolmentRow(
        person_id=person.id,
        scheme=scheme,
        year=year,
        coverage_start=max(coverage_start, date(year, 1, 1)),
        retiree=retiree,
        continuous_years=continuous_years,
        zero_claim_credit=zero_claim_credit,
    )
    return person, await add_unique(session, row, f"{scheme} enrolment for {year}")
