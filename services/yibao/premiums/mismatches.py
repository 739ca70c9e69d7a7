"""Subsidy mismatches (issue #16 item 5): premium payments whose booked subsidy is no longer what
the person's special groups on the payment day give now (read-only).

A payment's subsidy is booked once, from the groups valid on ``paid_on`` (the day its quote is for)
under the region's policy, and stays booked when the register changes later. A feed or a clerk may
then end a tag from a day on or before ``paid_on`` (核减, e.g. a 低保 list imported late), add one
that was valid that day (a newly reported 特困), or a policy version may give a group another amount.
This list recomputes each live payment's subsidy with the very rule a quote uses
(``rules.subsidy`` with the policy's ``PremiumParams``) on the groups valid on ``paid_on`` as the
register says now, and lists those that differ, with why. Newborn payments (premium waived from
birth, not a group subsidy) and refunded ones are left out. The region is the person's now.

The payment records only the group that gave its subsidy (``subsidy_group``), so ``groups_then``
is that group (none when nothing was subsidised); ``groups_now`` are all the groups valid on
``paid_on`` today. Payments are scanned in id order in batches; pages are keyset by payment id.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.errors import InvalidRequest, UnknownGroup, UnknownRegion
from yibao.money import Fen, to_wire
from yibao.policy.params import PolicyParams, PremiumParams
from yibao.policy.repository import is_pooling_region
from yibao.premiums import rules
from yibao.premiums.service import premium_params

#: why a booked subsidy differs from the one the groups give now
REASONS = ("group_ended", "group_added", "amount_changed")
#: payments read per round trip while a page is filled
BATCH = 1000

_PAYMENTS = text(
    """
    SELECT pp.id, pp.year, pp.kind, pp.paid_on, pp.subsidy, pp.subsidy_group,
           p.id_number, p.name, p.region,
           ARRAY(SELECT DISTINCT g."group" FROM person_groups g
                 WHERE g.person_id = pp.person_id AND g.valid_from <= pp.paid_on
                   AND (g.valid_to IS NULL OR g.valid_to >= pp.paid_on)
                 ORDER BY 1) AS groups_now
    FROM premium_payments pp JOIN persons p ON p.id = pp.person_id
    WHERE pp.year = :year AND pp.status = 'paid' AND pp.kind <> 'newborn' AND pp.id > :after
      AND (CAST(:region AS text) IS NULL OR p.region = :region)
      AND (CAST(:grp AS text) IS NULL OR pp.subsidy_group = :grp OR EXISTS (
            SELECT 1 FROM person_groups g WHERE g.person_id = pp.person_id AND g."group" = :grp
              AND g.valid_from <= pp.paid_on AND (g.valid_to IS NULL OR g.valid_to >= pp.paid_on)))
    ORDER BY pp.id
    LIMIT :batch
    """
)


@dataclass(frozen=True)
class Mismatch:
    payment_id: int
    id_number: str
    name: str
    region: str
    year: int
    paid_on: date
    booked: Fen
    booked_group: str | None
    expected: Fen
    expected_group: str | None
    groups_then: list[str]
    groups_now: list[str]
    reason: str
    why: str

    @property
    def difference(self) -> Fen:
        """What the booking is short of (positive) or over (negative) the subsidy due now."""
        return Fen(self.expected - self.booked)


def _cursor(payment_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([payment_id]).encode()).decode()


def _uncursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise InvalidRequest("cursor is not one this API returned") from exc
    if not (isinstance(value, list) and len(value) == 1 and type(value[0]) is int and 0 <= value[0] < 2**63):
        raise InvalidRequest("cursor is not one this API returned")
    return value[0]


def _why(reason: str, booked: rules.Subsidy, now: rules.Subsidy) -> str:
    b, n = f"{to_wire(booked.amount)}", f"{to_wire(now.amount)}"
    if reason == "group_ended":
        return (
            f"缴费日已不属于 {booked.group}，补贴应为 {n} 元（已记 {b} 元） {booked.group} no longer held on the "
            f"payment day: the subsidy is {n} now, {b} was booked"
        )
    if reason == "group_added":
        return (
            f"缴费日另属 {now.group}，补贴应为 {n} 元（已记 {b} 元） {now.group} held on the payment day gives "
            f"{n} now, {b} was booked"
        )
    return (
        f"{booked.group} 的补贴标准现为 {n} 元（已记 {b} 元） the policy gives {booked.group} {n} now, {b} was booked"
    )


def compare(
    booked_amount: Fen, booked_group: str | None, groups_now: list[str], params: PremiumParams
) -> tuple[rules.Subsidy, str] | None:
    """(the subsidy the groups give now, why it differs) or None when the booking still holds."""
    now = rules.subsidy(groups_now, params)
    if now.amount == booked_amount:
        return None
    if booked_group is not None and booked_group not in groups_now:
        reason = "group_ended"
    elif now.group != booked_group and now.amount > booked_amount:
        reason = "group_added"  # another group held that day gives more than the booked one did
    else:
        reason = "amount_changed"  # the booked group, still held, is given another amount
    return now, reason


async def subsidy_mismatches(
    session: AsyncSession,
    policies: Mapping[tuple[str, int], PolicyParams],
    year: int,
    *,
    region: str | None = None,
    group: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[Mismatch], str | None]:
    """One keyset page of the year's mismatched payments (the module), oldest payment first."""
    after = _uncursor(cursor)
    if region is not None and not await is_pooling_region(session, region):
        raise UnknownRegion(f"统筹区 {region} 不存在 {region} is no pooling region of the reference data")
    if group is not None:
        known = {c for (r, _), p in policies.items() if region in (None, r) for c in p.groups}
        if group not in known:
            raise UnknownGroup(
                f"特殊人群类别 {group!r} 不存在 unknown group {group!r}; one of: {', '.join(sorted(known))}"
            )
    found: list[Mismatch] = []
    while len(found) <= limit:
        params: dict[str, Any] = {"year": year, "after": after, "region": region, "grp": group, "batch": BATCH}
        rows = (await session.execute(_PAYMENTS, params)).all()
        for r in rows:
            pp = premium_params(policies, r.region, r.year)
            differs = compare(Fen(r.subsidy), r.subsidy_group, list(r.groups_now), pp)
            if differs is None:
                continue
            now, reason = differs
            booked = rules.Subsidy(Fen(r.subsidy), r.subsidy_group, "booked")
            found.append(
                Mismatch(
                    payment_id=r.id,
                    id_number=r.id_number,
                    name=r.name,
                    region=r.region,
                    year=r.year,
                    paid_on=r.paid_on,
                    booked=Fen(r.subsidy),
                    booked_group=r.subsidy_group,
                    expected=now.amount,
                    expected_group=now.group,
                    groups_then=[r.subsidy_group] if r.subsidy_group else [],
                    groups_now=list(r.groups_now),
                    reason=reason,
                    why=_why(reason, booked, now),
                )
            )
            if len(found) > limit:
                break
        if len(rows) < BATCH:
            break
        after = rows[-1].id
    if len(found) > limit:
        return found[:limit], _cursor(found[limit - 1].payment_id)
    return found, None
