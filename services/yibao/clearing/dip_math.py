"""DIP year-end clearing maths (DOMAIN §5), pure: the same cases and terms give the same fen.

Steps: each inpatient case is grouped by main diagnosis + procedure; cases whose cost is above
``high_multiple`` or below ``low_multiple`` × the group's average cost have their points scaled
by cost / average; institution points × coefficient = weighted points; point value = regional
DIP budget / all weighted points; DIP amount = weighted points × point value. Surplus (claimed
below the DIP amount) is kept up to 15 % of the DIP amount; overspend is shared 50 % up to 10 %
of it; the result is capped by the institution's annual budget. Unmatched cases are listed and
stay paid item by item (their claims are outside the DIP pool). Difference = final − claimed
(already paid by daily settles) − outstanding prepayment.

Precision: case and weighted points are kept to 4 decimals (what a statement shows and the
table stores). The point value is an exact quotient: the DIP amount is computed as
weighted points × budget / all weighted points in exact rational arithmetic and rounded half-up
to the fen once, at the DIP amount, the money step DOMAIN §5 names. ``Clearing.point_value``
(fen per point, 6 decimals) is that quotient rounded for display only: multiplying by a rounded
point value drifts by weighted points × 5·10⁻⁷ fen, two fen over a county's ~3·10⁶ points,
so an institution alone in its pool got more than the whole budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from yibao.money import ZERO, Fen, share
from yibao.policy.params import DipParams

POINTS_Q = Decimal("0.0001")
POINT_VALUE_Q = Decimal("0.000001")  # fen per point, as shown (never multiplied: see above)
RATIO_Q = Decimal("0.0001")


@dataclass(frozen=True)
class Group:
    code: str
    main_diagnosis: str
    procedure: str  # "" = conservative care
    points: int
    average_cost: Fen


@dataclass(frozen=True)
class Case:
    case_id: str
    institution_code: str
    diagnoses: Sequence[str]
    procedures: Sequence[str]
    cost: Fen  # total fees of the bill
    claimed: Fen  # what the fund paid for it (basic fund)


@dataclass(frozen=True)
class Terms:
    institution_code: str
    coefficient: Decimal
    annual_budget: Fen
    prepaid: Fen = ZERO  # outstanding prepayment, recovered at clearing


@dataclass(frozen=True)
class CasePoints:
    case_id: str
    group: str | None
    points: Decimal
    scaled: bool


@dataclass(frozen=True)
class Statement:
    institution_code: str
    cases: int
    points: Decimal
    weighted_points: Decimal
    dip_amount: Fen
    claimed: Fen
    before_cap: Fen
    final: Fen
    clearing_ratio: Decimal | None
    prepaid: Fen
    difference: Fen  # > 0 pay the institution, < 0 recover
    unmatched: tuple[str, ...] = ()
    unmatched_claimed: Fen = ZERO


@dataclass(frozen=True)
class Clearing:
    budget: Fen
    weighted_points: Decimal
    point_value: Decimal  # fen per weighted point, rounded for display (DIP amounts use the exact quotient)
    statements: tuple[Statement, ...]
    cases: tuple[CasePoints, ...] = field(default=())


def match(case: Case, groups: Mapping[tuple[str, str], Group]) -> Group | None:
    """Main diagnosis (the first) with each procedure in order; conservative group if none."""
    if not case.diagnoses:
        return None
    dx = case.diagnoses[0]
    for proc in case.procedures:
        if (dx, proc) in groups:
            return groups[(dx, proc)]
    return groups.get((dx, "")) if not case.procedures else None


def case_points(case: Case, group: Group, params: DipParams) -> CasePoints:
    avg = Decimal(group.average_cost)
    ratio = Decimal(case.cost) / avg
    scaled = ratio > params.high_multiple or ratio < params.low_multiple
    pts = Decimal(group.points) * ratio if scaled else Decimal(group.points)
    return CasePoints(case.case_id, group.code, pts.quantize(POINTS_Q, rounding=ROUND_HALF_UP), scaled)


def half_up(value: Fraction) -> Fen:
    """An exact (rational, ≥ 0) number of fen rounded half-up to a whole fen."""
    return Fen((2 * value.numerator + value.denominator) // (2 * value.denominator))


def dip_amount(weighted_points: Decimal, total_weighted: Decimal, budget: Fen) -> Fen:
    """weighted points × point value, with the point value budget / all weighted points kept
    exact: rounded once, to the fen (0 when nothing is weighted)."""
    if total_weighted <= 0:
        return Fen(0)
    return half_up(Fraction(weighted_points) * budget / Fraction(total_weighted))


def settle_amount(dip_amount: Fen, claimed: Fen, params: DipParams) -> Fen:
    """Surplus retention / overspend sharing around the DIP amount (before the budget cap)."""
    if claimed < dip_amount:
        return Fen(claimed + min(dip_amount - claimed, share(dip_amount, params.surplus_retain_max_ratio)))
    if claimed > dip_amount:
        shared = min(
            share(claimed - dip_amount, params.overspend_share_ratio),
            share(dip_amount, params.overspend_share_band_ratio),
        )
        return Fen(dip_amount + shared)
    return dip_amount


def clear(
    cases: Iterable[Case], groups: Iterable[Group], terms: Iterable[Terms], params: DipParams, budget: Fen
) -> Clearing:
    by_key = {(g.main_diagnosis, g.procedure): g for g in groups}
    terms_by = {t.institution_code: t for t in terms}
    points: dict[str, Decimal] = {code: Decimal(0) for code in terms_by}
    claimed: dict[str, int] = dict.fromkeys(terms_by, 0)
    counted: dict[str, int] = dict.fromkeys(terms_by, 0)
    unmatched: dict[str, list[str]] = {code: [] for code in terms_by}
    unmatched_claimed: dict[str, int] = dict.fromkeys(terms_by, 0)
    detail: list[CasePoints] = []
    for case in cases:
        if case.institution_code not in terms_by:
            continue
        group = match(case, by_key)
        if group is None:
            unmatched[case.institution_code].append(case.case_id)
            unmatched_claimed[case.institution_code] += case.claimed
            detail.append(CasePoints(case.case_id, None, Decimal(0), False))
            continue
        cp = case_points(case, group, params)
        detail.append(cp)
        points[case.institution_code] += cp.points
        claimed[case.institution_code] += case.claimed
        counted[case.institution_code] += 1
    weighted = {
        code: (points[code] * terms_by[code].coefficient).quantize(POINTS_Q, rounding=ROUND_HALF_UP)
        for code in terms_by
    }
    total_weighted = sum(weighted.values(), Decimal(0))
    point_value = (
        (Decimal(budget) / total_weighted).quantize(POINT_VALUE_Q, rounding=ROUND_HALF_UP)
        if total_weighted > 0
        else Decimal(0)
    )
    statements = []
    for code in sorted(terms_by):
        t = terms_by[code]
        dip = dip_amount(weighted[code], total_weighted, budget)
        paid = Fen(claimed[code])
        before_cap = settle_amount(dip, paid, params)
        final = Fen(min(before_cap, t.annual_budget))
        statements.append(
            Statement(
                institution_code=code,
                cases=counted[code],
                points=points[code],
                weighted_points=weighted[code],
                dip_amount=dip,
                claimed=paid,
                before_cap=before_cap,
                final=final,
                clearing_ratio=(Decimal(final) / Decimal(paid)).quantize(RATIO_Q, rounding=ROUND_HALF_UP)
                if paid
                else None,
                prepaid=t.prepaid,
                difference=Fen(final - paid - t.prepaid),
                unmatched=tuple(unmatched[code]),
                unmatched_claimed=Fen(unmatched_claimed[code]),
            )
        )
    return Clearing(budget, total_weighted, point_value, tuple(statements), tuple(detail))
