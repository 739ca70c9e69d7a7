"""The recognised disease of a ``chronic_outpatient`` bill (DOMAIN §9): its covered items.

Whether the person holds a recognition is decided before the calculation (the settle path
refuses or downgrades the bill); here the disease's own terms apply: items outside its list
are fully self-paid on the bill, and ``basic._chronic`` takes its deductible, ratio and
annual limit.
"""

from __future__ import annotations

from dataclasses import replace

from yibao.benefit import explain
from yibao.benefit.inputs import Bill, Explanation, LineSplit, PersonState
from yibao.money import ZERO
from yibao.policy.params import ChronicDisease, PolicyParams


def disease_of(bill: Bill, person: PersonState, policy: PolicyParams) -> ChronicDisease | None:
    """The policy's disease a chronic bill is paid under, or ``None`` (not a disease bill)."""
    if bill.visit_type != "chronic_outpatient" or bill.chronic_disease is None:
        return None
    return policy.chronic.diseases.get(bill.chronic_disease)


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
