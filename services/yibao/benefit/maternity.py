"""Maternity bills (DOMAIN §10): the employees' maternity fund, and how residents' are paid.

Why its own step: an employee's prenatal checks and delivery are paid from the ``maternity``
fund (ratio of the policy range up to a limit by delivery type and level, +1 per extra baby),
never from the basic fund, so no deductible, cap or critical-illness tier applies. A resident has
no maternity fund: the delivery is an inpatient bill with the deductible waived and prenatal
checks are ordinary outpatient care (``resident_bill``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from yibao.benefit import explain
from yibao.benefit.inputs import Bill, Explanation, PersonState
from yibao.money import Fen, share
from yibao.policy.params import MaternityParams

MATERNITY_VISITS = ("maternity_outpatient", "maternity_inpatient")


@dataclass(frozen=True)
class MaternityOutcome:
    paid: Fen
    explanations: tuple[Explanation, ...]


def is_maternity(bill: Bill) -> bool:
    return bill.visit_type in MATERNITY_VISITS


def resident_bill(bill: Bill) -> Bill:
    """A resident's maternity bill as the visit the resident scheme pays it as."""
    return replace(bill, visit_type="inpatient" if bill.visit_type == "maternity_inpatient" else "outpatient")


def maternity_fund(bill: Bill, person: PersonState, params: MaternityParams, policy_range: Fen) -> MaternityOutcome:
    """An employee's maternity-fund payout on the bill's policy range."""
    if bill.visit_type == "maternity_outpatient":
        used = person.accumulators.maternity_prenatal_paid
        left = max(0, params.prenatal_limit - used)
        raw = share(policy_range, params.prenatal_ratio)
        paid = Fen(min(raw, left))
        detail = (
            f"prenatal: {explain.yuan(policy_range)} × {explain.ratio(params.prenatal_ratio)} = {explain.yuan(raw)};"
            f" limit {explain.yuan(params.prenatal_limit)} − used {explain.yuan(used)} = {explain.yuan(left)}"
        )
        if paid < raw:
            detail += f" → limited to {explain.yuan(paid)}"
        return MaternityOutcome(paid, (explain.entry("maternity_fund", "maternity.prenatal_limit", detail),))
    kind = bill.delivery_type or "vaginal"
    level = bill.institution_level
    cap = params.delivery_cap(kind, level, bill.babies)
    rule = f"maternity.delivery_limit_by_level.{kind}[{level}]"
    if cap is None:
        return MaternityOutcome(
            Fen(0), (explain.entry("maternity_fund", rule, f"{kind} delivery at level {level} is not covered: 0.00"),)
        )
    raw = share(policy_range, params.delivery_ratio)
    paid = Fen(min(raw, cap))
    extra = max(0, bill.babies - 1)
    limit_text = f"limit {explain.yuan(cap)}" + (
        f" (incl. {extra} extra bab{'y' if extra == 1 else 'ies'} × {explain.yuan(params.extra_baby_limit)})"
        if extra
        else ""
    )
    detail = (
        f"{kind} delivery at level {level}: {explain.yuan(policy_range)} × {explain.ratio(params.delivery_ratio)}"
        f" = {explain.yuan(raw)}; {limit_text}"
    )
    if paid < raw:
        detail += f" → limited to {explain.yuan(paid)}"
    return MaternityOutcome(paid, (explain.entry("maternity_fund", rule, detail),))
