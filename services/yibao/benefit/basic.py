"""Steps 2–3: deductible and basic (pooled) fund, per visit type (DOMAIN.md §4.2–4.3).

Why one function per visit type: each reaches a different part of the scheme (inpatient per
admission, chronic annual, outpatient pooling with its own cap, pharmacy none), and the
explanation must name exactly the policy path that produced the fen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from yibao.benefit import explain
from yibao.benefit.chronic import PRESCRIBED_PHARMACY_LEVEL, ListedDrugs
from yibao.benefit.inputs import Bill, Explanation, PersonState
from yibao.money import ZERO, Fen, share
from yibao.policy.params import ChronicDisease, SchemeParams


@dataclass(frozen=True)
class BasicOutcome:
    """Applied deductible and basic-fund payout for one bill."""

    deductible: Fen
    basic: Fen
    explanations: tuple[Explanation, ...]


@dataclass(frozen=True)
class RatioAdjustment:
    """How cross-region status changes every basic ratio (unfiled: minus a few points)."""

    reduction: Decimal
    note: str  # "" when not cross-region


def _reduce(ratio: Decimal, adjust: RatioAdjustment) -> tuple[Decimal, str]:
    """Apply the cross-region reduction (floor 0) and describe it."""
    if adjust.reduction == 0:
        return ratio, f"; {adjust.note}" if adjust.note else ""
    reduced = max(Decimal(0), ratio - adjust.reduction)
    return reduced, (
        f"; {adjust.note}: ratio {explain.ratio(ratio)} − {explain.ratio(adjust.reduction)} = {explain.ratio(reduced)}"
    )


def _pay(base: int, ratio: Decimal, cap_left: int, cap_name: str) -> tuple[Fen, str]:
    """``base × ratio`` limited by what is left of a cap, with the arithmetic."""
    raw = share(base, ratio)
    paid = Fen(min(raw, cap_left))
    text = f"{explain.yuan(raw)}; {cap_name} left {explain.yuan(cap_left)}"
    if paid < raw:
        text += f" → limited to {explain.yuan(paid)}"
    return paid, text


def _none(rule: str, detail: str) -> BasicOutcome:
    return BasicOutcome(
        deductible=ZERO,
        basic=ZERO,
        explanations=(
            explain.entry("deductible", rule, f"{detail}: no deductible"),
            explain.entry("basic_fund", rule, f"{detail}: basic fund 0.00"),
        ),
    )


def _inpatient(
    bill: Bill,
    person: PersonState,
    scheme: SchemeParams,
    policy_range: Fen,
    adjust: RatioAdjustment,
    waive_deductible: bool = False,
) -> BasicOutcome:
    params = scheme.inpatient
    level = bill.institution_level
    path = f"{scheme.scheme}.inpatient"
    if level not in params.deductible_by_level or level not in params.ratio_by_level:
        return _none(
            f"{path}.ratio_by_level",
            f"inpatient care at level {level} is not covered by the {scheme.scheme} scheme",
        )
    order = person.accumulators.inpatient_admissions + 1
    base_due = params.deductible_by_level[level]
    if order > 1:
        due = share(base_due, params.repeat_admission_deductible_factor)
        due_text = (
            f"admission {order} of the year: {explain.yuan(base_due)} × "
            f"{explain.ratio(params.repeat_admission_deductible_factor)} = {explain.yuan(due)}"
        )
        ded_rule = f"{path}.repeat_admission_deductible_factor"
    else:
        due = base_due
        due_text = f"admission 1 of the year: {explain.yuan(due)}"
        ded_rule = f"{path}.deductible_by_level[{level}]"
    if waive_deductible:  # DOMAIN §10: a resident's delivery is an inpatient bill with the deductible waived
        due, ded_rule = ZERO, "maternity.resident_deductible_waived"
        due_text = "delivery (maternity_inpatient): deductible waived, 0.00"
    applied = Fen(min(due, policy_range))
    ded_note = explain.entry(
        "deductible",
        ded_rule,
        f"{due_text} due; applied min({explain.yuan(due)}, policy range "
        f"{explain.yuan(policy_range)}) = {explain.yuan(applied)}",
    )

    ratio = params.ratio_by_level[level]
    ratio_text = f"level {level} ratio {explain.ratio(ratio)}"
    ratio_rule = f"{path}.ratio_by_level[{level}]"
    if person.scheme == "employee" and person.retiree and params.retiree_ratio_bonus:
        bonus = ratio + params.retiree_ratio_bonus
        ratio = min(bonus, params.max_ratio)
        ratio_text += (
            f" + retiree bonus {explain.ratio(params.retiree_ratio_bonus)} = "
            f"{explain.ratio(bonus)}, max {explain.ratio(params.max_ratio)} → "
            f"{explain.ratio(ratio)}"
        )
        ratio_rule = f"{path}.retiree_ratio_bonus"
    elif ratio > params.max_ratio:
        ratio = params.max_ratio
        ratio_text += f", max {explain.ratio(params.max_ratio)}"
    ratio, cross_text = _reduce(ratio, adjust)
    base = policy_range - applied
    cap_left = max(0, scheme.annual_cap - person.accumulators.basic_paid)
    basic, pay_text = _pay(base, ratio, cap_left, "annual cap")
    basic_note = explain.entry(
        "basic_fund",
        ratio_rule,
        f"{ratio_text}{cross_text}; ({explain.yuan(policy_range)} − {explain.yuan(applied)})"
        f" × {explain.ratio(ratio)} = {pay_text}",
    )
    return BasicOutcome(deductible=applied, basic=basic, explanations=(ded_note, basic_note))


def _chronic(
    bill: Bill,
    person: PersonState,
    scheme: SchemeParams,
    policy_range: Fen,
    adjust: RatioAdjustment,
    disease: ChronicDisease | None = None,
    listed: ListedDrugs | None = None,
) -> BasicOutcome:
    """The scheme's chronic tier; with a recognised disease, the disease's own deductible and
    ratio (inherited from the scheme unless the policy overrides them) and annual limit.

    ``listed``: the lines of the disease's listed drugs paid at their own ratio (两病 drugs).
    The deductible is taken from the other lines first, then from the listed ones; each part
    is rounded once (``share``), and their sum is limited by the caps as one payout."""
    params = scheme.chronic_outpatient
    terms = disease.terms[scheme.scheme] if disease is not None else None
    deductibles = terms.deductible_by_level if terms else params.deductible_by_level
    ratios = terms.ratio_by_level if terms else params.ratio_by_level
    level = bill.institution_level
    path = f"{scheme.scheme}.chronic_outpatient"
    ratio_path = terms.ratio_rule if terms else f"{path}.ratio_by_level"
    if level not in deductibles or level not in ratios:
        return _none(
            f"{ratio_path}",
            f"chronic outpatient care at level {level} is not covered by the {scheme.scheme} scheme",
        )
    annual = deductibles[level]
    used = person.accumulators.chronic_deductible_used
    due = Fen(max(0, annual - used))
    applied = Fen(min(due, policy_range))
    ded_rule = (
        f"chronic_diseases[{disease.code}].deductible_by_level[{level}]"
        if terms is not None and deductibles is not params.deductible_by_level and disease is not None
        else f"{path}.deductible_by_level[{level}]"
    )
    ded_note = explain.entry(
        "deductible",
        ded_rule,
        f"annual {explain.yuan(annual)} − used {explain.yuan(used)} = {explain.yuan(due)} due;"
        f" applied min({explain.yuan(due)}, policy range {explain.yuan(policy_range)}) = "
        f"{explain.yuan(applied)}",
    )
    ratio, cross_text = _reduce(ratios[level], adjust)
    cap_left = max(0, scheme.annual_cap - person.accumulators.basic_paid)
    cap_name = "annual cap"
    if terms is not None and disease is not None and terms.annual_limit is not None:
        paid = person.chronic.disease_paid if person.chronic is not None else 0
        limit_left = max(0, terms.annual_limit - paid)
        if limit_left < cap_left:
            cap_left, cap_name = limit_left, f"{disease.code} annual limit {explain.yuan(terms.annual_limit)}"
    if listed is None:
        basic, pay_text = _pay(policy_range - applied, ratio, cap_left, cap_name)
        basic_note = explain.entry(
            "basic_fund",
            f"{ratio_path}[{level}]",
            f"level {level} ratio {explain.ratio(ratios[level])}{cross_text}; "
            f"({explain.yuan(policy_range)} − {explain.yuan(applied)}) × {explain.ratio(ratio)}"
            f" = {pay_text}",
        )
        return BasicOutcome(deductible=applied, basic=basic, explanations=(ded_note, basic_note))

    other = Fen(policy_range - listed.policy_range)
    other_ded = Fen(min(applied, other))
    listed_ded = Fen(applied - other_ded)
    other_paid = share(other - other_ded, ratio)
    listed_ratio, listed_cross = _reduce(listed.ratio, adjust)
    listed_paid = share(listed.policy_range - listed_ded, listed_ratio)
    raw = Fen(other_paid + listed_paid)
    basic = Fen(min(raw, cap_left))
    names = ", ".join(f"line {no} {code}" for no, code in listed.lines)
    limited = f" → limited to {explain.yuan(basic)}" if basic < raw else ""
    notes = (
        ded_note,
        explain.entry(
            "basic_fund",
            f"{ratio_path}[{level}]",
            f"other lines: level {level} ratio {explain.ratio(ratios[level])}{cross_text}; "
            f"({explain.yuan(other)} − {explain.yuan(other_ded)}) × {explain.ratio(ratio)} = "
            f"{explain.yuan(other_paid)}",
        ),
        explain.entry(
            "basic_fund",
            listed.rule,
            f"listed drugs ({names}): ratio {explain.ratio(listed.ratio)} instead of the level {level} ratio "
            f"{explain.ratio(ratios[level])}{listed_cross}; ({explain.yuan(listed.policy_range)} − "
            f"{explain.yuan(listed_ded)}) × {explain.ratio(listed_ratio)} = {explain.yuan(listed_paid)}",
        ),
        explain.entry(
            "basic_fund",
            f"{ratio_path}[{level}]",
            f"{explain.yuan(other_paid)} + {explain.yuan(listed_paid)} = {explain.yuan(raw)}; {cap_name} left "
            f"{explain.yuan(cap_left)}{limited}",
        ),
    )
    return BasicOutcome(deductible=applied, basic=basic, explanations=notes)


def _outpatient(
    bill: Bill,
    person: PersonState,
    scheme: SchemeParams,
    policy_range: Fen,
    adjust: RatioAdjustment,
) -> BasicOutcome:
    params = scheme.outpatient_pooling
    level = bill.institution_level
    path = f"{scheme.scheme}.outpatient_pooling"
    if level not in params.levels:
        levels = ", ".join(str(v) for v in sorted(params.levels))
        return _none(
            f"{path}.levels",
            f"level {level} is not in the outpatient pooling levels [{levels}]",
        )
    used = person.accumulators.outpatient_deductible_used
    due = Fen(max(0, params.annual_deductible - used))
    applied = Fen(min(due, policy_range))
    ded_note = explain.entry(
        "deductible",
        f"{path}.annual_deductible",
        f"annual {explain.yuan(params.annual_deductible)} − used {explain.yuan(used)} = "
        f"{explain.yuan(due)} due; applied min({explain.yuan(due)}, policy range "
        f"{explain.yuan(policy_range)}) = {explain.yuan(applied)}",
    )
    ratio, cross_text = _reduce(params.ratio, adjust)
    cap_left = max(0, params.annual_cap - person.accumulators.outpatient_pool_paid)
    basic, pay_text = _pay(policy_range - applied, ratio, cap_left, "outpatient pooling cap")
    basic_note = explain.entry(
        "basic_fund",
        f"{path}.ratio",
        f"ratio {explain.ratio(params.ratio)}{cross_text}; ({explain.yuan(policy_range)} − "
        f"{explain.yuan(applied)}) × {explain.ratio(ratio)} = {pay_text}",
    )
    return BasicOutcome(deductible=applied, basic=basic, explanations=(ded_note, basic_note))


def basic_fund(
    bill: Bill,
    person: PersonState,
    scheme: SchemeParams,
    policy_range: Fen,
    adjust: RatioAdjustment,
    disease: ChronicDisease | None = None,
    waive_deductible: bool = False,
    listed: ListedDrugs | None = None,
) -> BasicOutcome:
    """Deductible and basic fund for the bill's visit type (funds assumed on); ``disease``: the
    recognised disease of a chronic bill; ``waive_deductible``: a resident's delivery;
    ``listed``: a chronic bill's listed drugs at their own ratio."""
    if bill.visit_type == "inpatient":
        return _inpatient(bill, person, scheme, policy_range, adjust, waive_deductible)
    if bill.visit_type == "chronic_outpatient":
        return _chronic(bill, person, scheme, policy_range, adjust, disease, listed)
    if bill.visit_type == "outpatient":
        return _outpatient(bill, person, scheme, policy_range, adjust)
    if prescribed_pooling(bill, person):
        # DOMAIN §9: an employee's prescription-backed pharmacy bill is pooled as at a level-1 institution
        return _outpatient(
            replace(bill, institution_level=PRESCRIBED_PHARMACY_LEVEL), person, scheme, policy_range, adjust
        )
    if bill.prescribed:
        return _none("visit_types.pharmacy", "a prescription-backed pharmacy bill reaches no resident pooled fund")
    return _none("visit_types.pharmacy", "pharmacy purchases reach no pooled fund")


def prescribed_pooling(bill: Bill, person: PersonState) -> bool:
    """Whether the bill is an employee's pharmacy bill backed by an e-prescription (门诊共济)."""
    return bill.visit_type == "pharmacy" and bill.prescribed and person.scheme == "employee"
