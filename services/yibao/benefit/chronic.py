"""The recognised disease of a ``chronic_outpatient`` bill (DOMAIN §9): its covered items.

Whether the person holds a recognition is decided before the calculation (the settle path
refuses or downgrades the bill); here the disease's own terms apply: items outside its list
are fully self-paid on the bill, and ``basic._chronic`` takes its deductible, ratio and
annual limit. A prescription-backed pharmacy bill of a recognised disease (双通道) is paid
under the same chronic tier, as a ``chronic_outpatient`` bill at the level DOMAIN §9 gives
prescription-backed pharmacy bills. 两病 drugs: the lines of a disease's listed drugs may
have a ratio of their own (``DrugRatioOverride``), which ``listed_drugs`` picks out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from yibao.benefit import explain
from yibao.benefit.inputs import Bill, Explanation, LineSplit, PersonState
from yibao.money import ZERO, Fen
from yibao.policy.params import ChronicDisease, PolicyParams

#: DOMAIN §9: a pharmacy bill backed by a valid prescription is paid as at a level-1 institution
PRESCRIBED_PHARMACY_LEVEL = 1


def dual_channel(bill: Bill) -> bool:
    """A prescription-backed pharmacy bill that the settle path matched to the person's
    recognised disease (双通道)."""
    return bill.visit_type == "pharmacy" and bill.prescribed and bill.chronic_disease is not None


def tier_bill(bill: Bill) -> Bill:
    """The bill as the pooled tiers see it: a 双通道 pharmacy bill is a ``chronic_outpatient``
    bill at the prescription-backed pharmacy level; any other bill is itself."""
    if dual_channel(bill):
        return replace(bill, visit_type="chronic_outpatient", institution_level=PRESCRIBED_PHARMACY_LEVEL)
    return bill


def disease_of(bill: Bill, person: PersonState, policy: PolicyParams) -> ChronicDisease | None:
    """The policy's disease a chronic (or 双通道 pharmacy) bill is paid under, or ``None``."""
    if bill.chronic_disease is None or not (bill.visit_type == "chronic_outpatient" or dual_channel(bill)):
        return None
    return policy.chronic.diseases.get(bill.chronic_disease)


@dataclass(frozen=True)
class ListedDrugs:
    """The policy range of a bill's listed-drug lines and the ratio they are paid at instead of
    the disease's ratio of the level (两病 drugs, DOMAIN §9)."""

    ratio: Decimal
    policy_range: Fen
    lines: tuple[tuple[int, str], ...]  # (line_no, item code) of every listed line with a policy range
    rule: str


def listed_drugs(
    bill: Bill, lines: tuple[LineSplit, ...], disease: ChronicDisease, scheme: str, level: int
) -> ListedDrugs | None:
    """The disease's drug ratio override as it applies to this bill (scheme, level, lines), or
    ``None``: no override, another scheme or level, or no listed line left with a policy range."""
    override = disease.drug_override
    ratio = override.ratio(scheme, level) if override is not None else None
    if override is None or ratio is None:
        return None
    listed = tuple(
        (split.line_no, line.item.code)
        for line, split in zip(bill.lines, lines, strict=True)
        if line.item.code in override.items and split.policy_range > 0
    )
    if not listed:
        return None
    numbers = {no for no, _ in listed}
    amount = Fen(sum(split.policy_range for split in lines if split.line_no in numbers))
    return ListedDrugs(ratio, amount, listed, f"chronic_diseases[{disease.code}].drug_ratio_override")


def mark_listed(lines: tuple[LineSplit, ...], listed: ListedDrugs) -> tuple[LineSplit, ...]:
    """The listed lines with the reason ``drug ratio <ratio>`` (the answer's per-line view)."""
    numbers = {no for no, _ in listed.lines}
    reason = f"drug ratio {explain.ratio(listed.ratio)}"
    return tuple(replace(ls, reasons=(*ls.reasons, reason)) if ls.line_no in numbers else ls for ls in lines)


def dual_channel_note(bill: Bill, disease: ChronicDisease) -> Explanation:
    return explain.entry(
        "basic_fund",
        f"chronic_diseases[{disease.code}]",
        f"双通道: pharmacy bill on a prescription for recognised {disease.code} {disease.name}, paid under the "
        f"chronic tier as at level {PRESCRIBED_PHARMACY_LEVEL} (pharmacy level {bill.institution_level})",
    )


def restrict_items(
    bill: Bill, lines: tuple[LineSplit, ...], disease: ChronicDisease
) -> tuple[tuple[LineSplit, ...], list[Explanation]]:
    """Lines whose item is outside the disease's covered list become fully self-paid."""
    if disease.items is None:
        return lines, []
    out: list[LineSplit] = []
    notes: list[Explanation] = []
    for bill_line, split in zip(bill.lines, lines, strict=True):
        code = bill_line.item.code
        if code in disease.items or split.full_self_pay == split.amount:
            out.append(split)
            continue
        reason = f"not in {disease.code} items"[:40]
        out.append(
            replace(
                split,
                full_self_pay=split.amount,
                over_cap_self_pay=ZERO,
                pre_self_pay=ZERO,
                policy_range=ZERO,
                reasons=(*split.reasons, reason),
            )
        )
        notes.append(
            explain.entry(
                "full_self_pay",
                f"chronic_diseases[{disease.code}].items",
                f"line {split.line_no} {code} is not a covered item of {disease.code} {disease.name}: "
                f"{explain.yuan(split.amount)} fully self-paid",
            )
        )
    return tuple(out), notes


def recognition_note(person: PersonState, disease: ChronicDisease) -> Explanation:
    recognition = person.chronic.recognition_id if person.chronic else "?"
    return explain.entry(
        "basic_fund",
        f"chronic_diseases[{disease.code}]",
        f"recognised {disease.category} disease {disease.code} {disease.name} (recognition {recognition})",
    )
