"""Step 1 of a settlement: split every fee line into A/B/C parts (DOMAIN.md §4.1).

Why per line: the rules round at the line (amount, over-cap part, pre self-pay), and the
institution and the monitors need to see which line lost coverage and why. Restrictions
that are broken make the line fully self-paid and warn; limits that only signal abuse
(units per day, days of supply, missing traceability code) warn without touching money.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from yibao.benefit import explain
from yibao.benefit.inputs import (
    Bill,
    BillLine,
    Explanation,
    LineSplit,
    PersonState,
)
from yibao.money import ZERO, Fen, round_fen, share
from yibao.values import RuleWarning


@dataclass(frozen=True)
class LinesOutcome:
    """The per-line split plus the warnings and explanations it produced."""

    lines: tuple[LineSplit, ...]
    warnings: tuple[RuleWarning, ...]
    explanations: tuple[Explanation, ...]


def age_on(birth_date: date, on: date) -> int:
    """Whole years of age on a date (the birthday itself counts as the new year)."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def _age_bounds(min_age: int | None, max_age: int | None) -> str:
    if min_age is not None and max_age is not None:
        return f"{min_age}–{max_age}"
    return f"≥ {min_age}" if min_age is not None else f"≤ {max_age}"


def broken_restrictions(line: BillLine, person: PersonState, institution_level: int) -> list[tuple[str, str]]:
    """(rule, message) for every gender/age/level restriction the line breaks."""
    item = line.item
    broken: list[tuple[str, str]] = []
    if item.gender is not None and item.gender != person.gender:
        broken.append(
            (
                "gender_restriction",
                f"line {line.line_no} {item.code}: restricted to gender {item.gender}, patient is {person.gender}",
            )
        )
    if item.min_age is not None or item.max_age is not None:
        age = age_on(person.birth_date, line.service_date)
        if (item.min_age is not None and age < item.min_age) or (item.max_age is not None and age > item.max_age):
            bounds = _age_bounds(item.min_age, item.max_age)
            broken.append(
                (
                    "age_restriction",
                    f"line {line.line_no} {item.code}: age {age} on {line.service_date} allowed {bounds}",
                )
            )
    if item.min_level is not None and institution_level < item.min_level:
        broken.append(
            (
                "level_restriction",
                f"line {line.line_no} {item.code}: needs institution level ≥ {item.min_level}, "
                f"institution is level {institution_level}",
            )
        )
    return broken


def _split_one(
    line: BillLine, person: PersonState, institution_level: int
) -> tuple[LineSplit, list[RuleWarning], list[Explanation]]:
    item = line.item
    amount = round_fen(line.quantity * Decimal(line.unit_price))
    qty = explain.quantity(line.quantity)
    head = f"line {line.line_no} {item.code}"
    amount_text = f"{qty} × {explain.yuan(line.unit_price)} = {explain.yuan(amount)}"
    warnings: list[RuleWarning] = []
    notes: list[Explanation] = []
    reasons: list[str] = []

    broken = broken_restrictions(line, person, institution_level)
    for rule, message in broken:
        warnings.append(RuleWarning(rule=rule, message=message, lines=(line.line_no,)))

    if item.item_class == "C" or broken:
        if item.item_class == "C":
            reasons.append("class_c")
            notes.append(
                explain.entry(
                    "full_self_pay",
                    f"catalogue.{item.code}.class",
                    f"{head}: class C, fully self-paid {amount_text}",
                )
            )
        for rule, message in broken:
            reasons.append(rule)
            notes.append(
                explain.entry(
                    "full_self_pay",
                    f"catalogue.{item.code}.{rule.removesuffix('_restriction')}",
                    f"{message}; fully self-paid {amount_text}",
                )
            )
        split = LineSplit(
            line_no=line.line_no,
            amount=amount,
            full_self_pay=amount,
            over_cap_self_pay=ZERO,
            pre_self_pay=ZERO,
            policy_range=ZERO,
            reasons=tuple(reasons),
        )
        return split, warnings, notes

    over_cap = ZERO
    if item.price_cap is not None and line.unit_price > item.price_cap:
        over_cap = round_fen(Decimal(line.unit_price - item.price_cap) * line.quantity)
        reasons.append("price_cap")
        notes.append(
            explain.entry(
                "over_cap_self_pay",
                f"catalogue.{item.code}.price_cap",
                f"{head}: ({explain.yuan(line.unit_price)} − cap "
                f"{explain.yuan(item.price_cap)}) × {qty} = {explain.yuan(over_cap)}",
            )
        )
    eligible = Fen(amount - over_cap)

    pre = ZERO
    if item.item_class == "B":
        b_ratio = item.b_self_pay_ratio if item.b_self_pay_ratio is not None else Decimal(0)
        pre = share(eligible, b_ratio)
        reasons.append("class_b")
        notes.append(
            explain.entry(
                "pre_self_pay",
                f"catalogue.{item.code}.b_self_pay_ratio",
                f"{head}: class B, {explain.yuan(eligible)} × {explain.ratio(b_ratio)} = {explain.yuan(pre)}",
            )
        )
    split = LineSplit(
        line_no=line.line_no,
        amount=amount,
        full_self_pay=ZERO,
        over_cap_self_pay=over_cap,
        pre_self_pay=pre,
        policy_range=Fen(eligible - pre),
        reasons=tuple(reasons),
    )
    return split, warnings, notes


def _stay_days(bill: Bill) -> int | None:
    """Inpatient days for the units-per-day limit (min 1); None when dates are missing."""
    if bill.visit_type != "inpatient" or bill.admitted_on is None or bill.discharged_on is None:
        return None
    return max(1, (bill.discharged_on - bill.admitted_on).days)


def _units_per_day_warnings(bill: Bill) -> list[RuleWarning]:
    """Bill-level check per item: total quantity above max_units_per_day × days."""
    by_code: dict[str, list[BillLine]] = defaultdict(list)
    for line in bill.lines:
        if line.item.max_units_per_day is not None:
            by_code[line.item.code].append(line)
    stay = _stay_days(bill)
    warnings: list[RuleWarning] = []
    for code, lines in by_code.items():
        limit = lines[0].item.max_units_per_day
        assert limit is not None
        days = stay if stay is not None else len({line.service_date for line in lines})
        total = sum((line.quantity for line in lines), Decimal(0))
        if total > limit * days:
            warnings.append(
                RuleWarning(
                    rule="units_per_day",
                    message=(
                        f"{code}: {explain.quantity(total)} units over {days} day(s) exceeds "
                        f"{explain.quantity(limit)} per day "
                        f"(lines {', '.join(str(line.line_no) for line in lines)})"
                    ),
                    lines=tuple(line.line_no for line in lines),
                )
            )
    return warnings


def _line_signal_warnings(line: BillLine) -> list[RuleWarning]:
    """Per-line checks that warn without changing money."""
    item = line.item
    warnings: list[RuleWarning] = []
    if line.days_supply is not None and item.max_days_supply is not None and line.days_supply > item.max_days_supply:
        warnings.append(
            RuleWarning(
                rule="days_supply",
                message=(
                    f"line {line.line_no} {item.code}: {line.days_supply} days of supply exceeds {item.max_days_supply}"
                ),
                lines=(line.line_no,),
            )
        )
    if item.trace_required and not line.trace_codes:
        warnings.append(
            RuleWarning(
                rule="trace_code_missing",
                message=f"line {line.line_no} {item.code}: traceability code required",
                lines=(line.line_no,),
            )
        )
    return warnings


def split_lines(bill: Bill, person: PersonState) -> LinesOutcome:
    """Split all lines; identity per line: amount = full + over_cap + pre + policy_range."""
    splits: list[LineSplit] = []
    warnings: list[RuleWarning] = []
    notes: list[Explanation] = []
    for line in bill.lines:
        split, line_warnings, line_notes = _split_one(line, person, bill.institution_level)
        splits.append(split)
        warnings.extend(line_warnings)
        warnings.extend(_line_signal_warnings(line))
        notes.extend(line_notes)
    warnings.extend(_units_per_day_warnings(bill))
    return LinesOutcome(lines=tuple(splits), warnings=tuple(warnings), explanations=tuple(notes))
