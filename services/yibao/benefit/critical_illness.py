"""Step 4: critical-illness insurance on the year's policy-range self-pay (DOMAIN.md §4.4).

Why a banded function g: the payout of one bill is g(C + S) − g(C), with C the self-pay
accumulated before it, so a year's payouts do not depend on how the bills were split.
g is evaluated exactly in Decimal and only the difference is rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from yibao.benefit import explain
from yibao.benefit.inputs import Explanation, PersonState
from yibao.money import ZERO, Fen, round_fen, share
from yibao.policy.params import CriticalIllnessParams


@dataclass(frozen=True)
class Band:
    """Self-pay in [lower, upper) is paid at ``ratio``; ``upper`` None: unbounded."""

    lower: Fen
    upper: Fen | None
    ratio: Decimal


@dataclass(frozen=True)
class CriticalOutcome:
    payout: Fen
    cap_left: Fen | None  # None: no cap (poor groups)
    explanations: tuple[Explanation, ...]


def is_poor(person: PersonState, ci: CriticalIllnessParams) -> bool:
    """Poor groups get a lower threshold, higher ratios and (by default) no cap."""
    return bool(person.groups & ci.poor_groups)


def bands(ci: CriticalIllnessParams, poor: bool) -> tuple[Fen, tuple[Band, ...]]:
    """Threshold and bands; for the poor only the first band starts lower, ratios rise."""
    threshold = share(ci.threshold, ci.poor_threshold_factor) if poor else ci.threshold
    bonus = ci.poor_ratio_bonus if poor else Decimal(0)
    result: list[Band] = []
    lower: Fen | None = threshold
    for tier in ci.tiers:
        if lower is None:  # an unbounded tier before the last: later tiers are unreachable
            break
        result.append(Band(lower=lower, upper=tier.upto, ratio=tier.ratio + bonus))
        lower = tier.upto
    return threshold, tuple(result)


def g(x: int, bands_: tuple[Band, ...]) -> Decimal:
    """Σ ratio × (clamp(x, lower, upper) − lower), exact."""
    total = Decimal(0)
    for band in bands_:
        if band.upper is not None and band.upper <= band.lower:
            continue
        clamped = max(x, band.lower)
        if band.upper is not None:
            clamped = min(clamped, band.upper)
        total += band.ratio * Decimal(clamped - band.lower)
    return total


def incentive(person: PersonState, ci: CriticalIllnessParams) -> tuple[Fen, str]:
    """Cap increase from continuity and zero-claim credit, limited to a share of the cap."""
    inc = ci.incentives
    years = person.continuous_years
    continuity = (
        Fen(inc.continuous_step * (years - (inc.continuous_years_from - 1)))
        if years >= inc.continuous_years_from
        else ZERO
    )
    limit = share(ci.cap, inc.max_share_of_cap)
    raw = continuity + person.zero_claim_credit
    amount = Fen(min(limit, raw))
    text = (
        f"incentives min({explain.ratio(inc.max_share_of_cap)} × cap = {explain.yuan(limit)}, "
        f"continuity {explain.yuan(continuity)} ({years} continuous years) + zero-claim "
        f"{explain.yuan(person.zero_claim_credit)}) = {explain.yuan(amount)}"
    )
    return amount, text


def critical_illness(person: PersonState, ci: CriticalIllnessParams, scheme: str, self_pay: Fen) -> CriticalOutcome:
    """Payout on this bill's policy-range self-pay S (funds assumed on)."""
    path = f"{scheme}.critical_illness"
    poor = is_poor(person, ci)
    threshold, bands_ = bands(ci, poor)
    before = person.accumulators.policy_range_self_pay
    after = before + self_pay
    g_before = g(before, bands_)
    g_after = g(after, bands_)
    raw = round_fen(g_after - g_before)

    tiers_text = ", ".join(
        f"{explain.ratio(b.ratio)} from {explain.yuan(b.lower)}"
        + (f" to {explain.yuan(b.upper)}" if b.upper is not None else " up")
        for b in bands_
    )
    poor_text = (
        f"poor group: threshold {explain.yuan(ci.threshold)} × "
        f"{explain.ratio(ci.poor_threshold_factor)} = {explain.yuan(threshold)}, ratios + "
        f"{explain.ratio(ci.poor_ratio_bonus)}; "
        if poor
        else f"threshold {explain.yuan(threshold)}; "
    )
    detail = (
        f"{poor_text}bands {tiers_text}; year self-pay {explain.yuan(before)} → "
        f"{explain.yuan(after)}; g({explain.yuan(after)}) − g({explain.yuan(before)}) = "
        f"{explain.yuan_exact(g_after)} − {explain.yuan_exact(g_before)} = {explain.yuan(raw)}"
    )

    cap_left: Fen | None
    if poor and ci.poor_no_cap:
        cap_left = None
        payout = raw
        detail += "; poor group: no cap"
    else:
        bonus, bonus_text = incentive(person, ci)
        cap = ci.cap + bonus
        cap_left = Fen(max(0, cap - person.accumulators.critical_paid))
        payout = Fen(min(raw, cap_left))
        detail += (
            f"; cap {explain.yuan(ci.cap)} + {bonus_text} = {explain.yuan(cap)}, paid "
            f"{explain.yuan(person.accumulators.critical_paid)}, left {explain.yuan(cap_left)}"
        )
        if payout < raw:
            detail += f" → limited to {explain.yuan(payout)}"
    if payout > self_pay:
        payout = self_pay
        detail += f"; limited to the bill's self-pay {explain.yuan(self_pay)}"
    rule = f"{path}.poor_groups" if poor else f"{path}.tiers"
    entry = explain.entry("critical_illness", rule, detail)
    return CriticalOutcome(payout=payout, cap_left=cap_left, explanations=(entry,))
