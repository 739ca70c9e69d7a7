"""Manual settlements: the money of an approved reimbursement claim (``yibao.claims``).

The claim is computed and stored exactly as a bill at the counter (``service.preview`` /
``service.settle``: the same benefit calculation from the person-year row locked in the same
order, the same accumulators, ledger event and monitors), with ``source = 'manual'``, the
claim number as the visit number and ``manual:<claim id>`` as the idempotency key, so approving
the same claim twice settles it once. Care outside the register is stored under the
off-register institution (``OFF_REGISTER``), with the level and region the clerk recorded
used for the calculation.

What a counter bill does not need and a claim does: care before coverage started and care
already settled at the counter are refused here, not paid at zero."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from yibao.bill_settlement import sql
from yibao.bill_settlement.commands import SettleBill
from yibao.bill_settlement.service import SettleResult, preview, settle
from yibao.db.statements import Db, Statement
from yibao.errors import ServiceBeforeCoverage, VisitSettledInRealTime
from yibao.institutions.agreements import Institution
from yibao.people import id_number as ids
from yibao.reference import ReferenceData

#: the institutions row a settlement of care outside the register is stored under
OFF_REGISTER = "X000000000"

_SETTLED_AT_COUNTER = Statement(
    """
    SELECT s.id FROM settlements s JOIN persons p ON p.id = s.person_id
    WHERE p.id_number = :id AND s.institution_code = :inst AND s.service_date = :d
      AND s.status = 'settled' AND s.source = 'realtime'
    LIMIT 1
    """
)


@dataclass(frozen=True)
class CarePlace:
    """Where the care was given: an institution of the register, or one outside it."""

    institution_code: str | None
    name: str | None
    region: str
    level: int


def institution_for(refs: ReferenceData, place: CarePlace) -> Institution:
    """The institution the calculation sees: the register's own, or the off-register row with
    the recorded level and region (which decide the ratios and cross-region rules)."""
    if place.institution_code is not None:
        return refs.institutions[place.institution_code]
    base = refs.institutions[OFF_REGISTER]
    return Institution(
        code=OFF_REGISTER,
        name=place.name or base.name,
        type=base.type,
        level=place.level,
        region=place.region,
        agreement="active",
        suspended_until=None,
        credit_grade=base.credit_grade,
        annual_budget=0,
        dip_coefficient=None,
    )


async def _refuse(db: Db, institution: Institution, cmd: SettleBill) -> None:
    id_number = ids.parse(cmd.id_number).id_number
    row = await db.fetchrow(
        sql.PATIENT,
        {
            "id": id_number,
            "d": cmd.service_date,
            "y": cmd.service_date.year,
            "region": institution.region,
            "inst": institution.code,
            "overlap": False,
            "supply_items": [],
        },
    )
    coverage_start: date | None = None if row is None else row["coverage_start"]
    if coverage_start is not None and cmd.service_date < coverage_start:
        raise ServiceBeforeCoverage(
            f"就诊日期 {cmd.service_date} 早于待遇享受开始日 {coverage_start} "
            f"the service date is before coverage started on {coverage_start}"
        )
    if institution.code != OFF_REGISTER:
        params = {"id": id_number, "inst": institution.code, "d": cmd.service_date}
        if await db.fetchval(_SETTLED_AT_COUNTER, params) is not None:
            raise VisitSettledInRealTime(
                f"{institution.code} 已于 {cmd.service_date} 为该参保人直接结算 the visit at {institution.code} "
                f"on {cmd.service_date} was already settled in real time"
            )


async def preview_manual(db: Db, refs: ReferenceData, institution: Institution, cmd: SettleBill) -> dict[str, Any]:
    """What the claim would pay now (nothing written): decides its approval tier."""
    await _refuse(db, institution, cmd)
    return await preview(db, refs, institution, cmd)


async def settle_manual(
    db: Db, refs: ReferenceData, institution: Institution, cmd: SettleBill, claim_id: str
) -> SettleResult:
    """Settle the claim inside the caller's transaction (which must commit), once per claim."""
    await _refuse(db, institution, cmd)
    return await settle(db, refs, institution, cmd, f"manual:{claim_id}", source="manual")
