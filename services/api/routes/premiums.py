"""Staff and channel API for resident premiums: quote, record a payment, refund it, subsidy totals."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from starlette.responses import Response

from api.deps import RefsDep, SessionDep, UowDep, require_staff, sees_full_ids
from api.schemas.common import ERRORS, FIRST_DAY, LAST_DAY, YearQuery, fen
from api.schemas.members import PaymentRead, PremiumDue
from api.schemas.premiums import (
    GroupRef,
    PaymentCreate,
    SubsidyMismatch,
    SubsidyMismatchPage,
    SubsidyTotal,
    SubsidyTotals,
)
from yibao.auth.tokens import StaffPrincipal
from yibao.money import to_wire
from yibao.people.id_number import mask
from yibao.policy.params import PolicyParams
from yibao.premiums import mismatches
from yibao.premiums import service as premiums

router = APIRouter(prefix="/api/v1/premiums", tags=["premiums 缴费"], responses=ERRORS)
Cashier = Annotated[StaffPrincipal, Depends(require_staff("clerk", "finance"))]


@router.get(
    "/due",
    response_model=PremiumDue,
    summary="Quote a premium: what is due, when coverage would start, and why a payment would be refused",
    description="For a payment made on `paid_on` (default today). `payable: false` lists in `warnings` the "
    "codes `POST /payments` would answer with (e.g. `ALREADY_ENROLLED`, `COVERAGE_CANNOT_START`).",
)
async def quote(
    id_number: Annotated[str, Query(max_length=18)],
    year: YearQuery,
    _: Cashier,
    session: SessionDep,
    refs: RefsDep,
    paid_on: Annotated[
        date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="the day the channel took the money; default today")
    ] = None,
) -> PremiumDue:
    return PremiumDue.of(await premiums.due(session, id_number, year, paid_on, refs.policies))


@router.post(
    "/payments",
    status_code=201,
    response_model=PaymentRead,
    summary="Record a premium payment from a channel (idempotent on channel + reference)",
    description="Creates the year's resident enrolment with the derived coverage start and its reason; a pay-back "
    "shortens the wait of a later enrolment whose coverage has not begun. The amount must equal premium − "
    "subsidy for the groups valid on `paid_on`. Refused, with nothing written: `PAID_ON_IN_FUTURE`, "
    "`PERSON_DECEASED`, `PREMIUM_ALREADY_PAID`, `ALREADY_ENROLLED` (an enrolment is never rewritten), "
    "`PAYBACK_BEFORE_FIRST_ENROLMENT`, `COVERAGE_CANNOT_START` (the wait would end after the year), "
    "`IDEMPOTENCY_CONFLICT` (the channel's reference was used for another request).",
)
async def record_payment(body: PaymentCreate, staff: Cashier, uow: UowDep, refs: RefsDep) -> PaymentRead:
    paid = await premiums.pay(
        uow,
        staff.actor,
        body.id_number,
        body.year,
        channel=body.channel,
        reference=body.reference,
        amount=fen(body.amount),
        policies=refs.policies,
        paid_on=body.paid_on,
        agent=body.agent,
    )
    return PaymentRead.of(paid.payment, paid.person.id_number, paid.created, paid.enrolment)


@router.post(
    "/payments/{payment_id}/refund",
    response_model=PaymentRead,
    summary="Refund a payment before its coverage year starts (or one whose coverage could never start in its year)",
)
async def refund(payment_id: int, staff: Cashier, uow: UowDep) -> PaymentRead:
    refunded = await premiums.refund(uow, staff.actor, payment_id)
    return PaymentRead.of(refunded.payment, refunded.person.id_number)


@router.get("/subsidies", response_model=SubsidyTotals, summary="Subsidies booked to the assistance fund, per group")
async def subsidies(year: YearQuery, _: Cashier, session: SessionDep) -> SubsidyTotals:
    rows = await premiums.subsidy_totals(session, year)
    return SubsidyTotals(year=year, items=[SubsidyTotal(group=g, people=n, amount=to_wire(a)) for g, n, a in rows])


MISMATCH_FIELDS = [
    "payment_id",
    "id_number",
    "name",
    "region",
    "year",
    "paid_on",
    "booked_subsidy",
    "booked_group",
    "expected_subsidy",
    "expected_group",
    "difference",
    "groups_then",
    "groups_now",
    "reason",
    "why",
]
CSV_PAGE = 1000


def _group(policies: Mapping[tuple[str, int], PolicyParams], region: str, year: int, code: str) -> GroupRef:
    policy = policies.get((region, year))
    found = policy.groups.get(code) if policy is not None else None
    if found is None:  # a year without its own policy loaded: the region's nearest that names it
        named = [
            (abs(y - year), p.groups[code].name) for (r, y), p in policies.items() if r == region and code in p.groups
        ]
        return GroupRef(code=code, name=min(named)[1] if named else code)
    return GroupRef(code=code, name=found.name)


def _mismatch(
    m: mismatches.Mismatch, full_ids: bool, policies: Mapping[tuple[str, int], PolicyParams]
) -> SubsidyMismatch:
    def ref(code: str | None) -> GroupRef | None:
        return None if code is None else _group(policies, m.region, m.year, code)

    return SubsidyMismatch(
        payment_id=m.payment_id,
        id_number=m.id_number if full_ids else mask(m.id_number),
        name=m.name,
        region=m.region,
        year=m.year,
        paid_on=m.paid_on,
        booked_subsidy=to_wire(m.booked),
        booked_group=ref(m.booked_group),
        expected_subsidy=to_wire(m.expected),
        expected_group=ref(m.expected_group),
        difference=to_wire(m.difference),
        groups_then=[_group(policies, m.region, m.year, g) for g in m.groups_then],
        groups_now=[_group(policies, m.region, m.year, g) for g in m.groups_now],
        reason=m.reason,  # type: ignore[arg-type]
        why=m.why,
    )


def _csv_row(item: SubsidyMismatch) -> dict[str, Any]:
    row = item.model_dump()
    for k in ("booked_group", "expected_group"):
        row[k] = row[k]["code"] if row[k] else ""
    for k in ("groups_then", "groups_now"):
        row[k] = ";".join(g["code"] for g in row[k])
    return row


@router.get(
    "/subsidy-mismatches",
    response_model=SubsidyMismatchPage,
    responses={200: {"content": {"text/csv": {}}}},
    summary="Payments whose booked subsidy no longer matches the person's groups on the payment day",
    description="Read-only. Each live (not refunded, not newborn) premium payment of `year` is quoted again "
    "with the subsidy rule a quote uses, on the groups valid on its `paid_on` as the register says now and the "
    "policy of the person's region: those whose subsidy differs from the one booked are listed, with the groups "
    "then (the booked group) and now and why (`group_ended` after a 核减 back to or before the payment day, "
    "`group_added`, `amount_changed`). Staff roles clerk and finance; ID numbers whole for clerks, masked for "
    "finance. Keyset pages by payment id (`next_cursor`); `?format=csv` or `Accept: text/csv` exports every row "
    "(groups as `;`-separated codes). Errors: `INVALID_REQUEST` (400: a cursor this API did not return, a year "
    "out of 2000–2100), `UNKNOWN_REGION` (422), `UNKNOWN_GROUP` (422: not a group of any policy of the year "
    "and region), `FORBIDDEN` (403: another role, an institution or a member).",
)
async def subsidy_mismatches(
    year: YearQuery,
    staff: Cashier,
    session: SessionDep,
    refs: RefsDep,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", description="the person's pooling region")] = None,
    group: Annotated[
        str | None, Query(max_length=30, description="a group booked, or held on the payment day now")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format", description="`csv`: every row")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    full = sees_full_ids(staff)
    policies = refs.policies

    async def page(cur: str | None, lim: int) -> tuple[list[SubsidyMismatch], str | None]:
        found, nxt = await mismatches.subsidy_mismatches(
            session, policies, year, region=region, group=group, cursor=cur, limit=lim
        )
        return [_mismatch(m, full, policies) for m in found], nxt

    if not (fmt == "csv" or (fmt is None and accept is not None and "text/csv" in accept)):
        items, nxt = await page(cursor, limit)
        return SubsidyMismatchPage(items=items, next_cursor=nxt)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MISMATCH_FIELDS, lineterminator="\n")
    writer.writeheader()
    cur: str | None = None
    while True:  # the export walks every keyset page
        items, cur = await page(cur, CSV_PAGE)
        writer.writerows(_csv_row(i) for i in items)
        if cur is None:
            break
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="subsidy-mismatches-{year}.csv"'},
    )
