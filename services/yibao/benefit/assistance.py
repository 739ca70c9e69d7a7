"""Step 5: medical assistance for the special groups (DOMAIN.md §4.5).

Why accumulate the base A: the threshold T applies to the year, not the bill, so the
payout of one bill is r × (max(0, A + base − T) − max(0, A − T)).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from yibao.benefit import explain
from yibao.benefit.inputs import Explanation, PersonState
from yibao.money import ZERO, Fen, share
from yibao.policy.params import AssistanceGroup


@dataclass(frozen=True)
class AssistanceOutcome:
    payout: Fen
    group: str | None
    explanations: tuple[Explanation, ...]


def pick_group(groups: frozenset[str], assistance: Mapping[str, AssistanceGroup]) -> AssistanceGroup | None:
    """The person's group with the highest ratio.

    Ties (not settled by the policy) go to the more generous terms: lower threshold, then
    higher annual limit, then the name so the choice is deterministic.
    """
    eligible = [assistance[name] for name in groups if name in assistance]
    if not eligible:
        return None
    return min(eligible, key=lambda g: (-g.ratio, g.threshold, -g.annual_limit, g.group))


def medical_assistance(person: PersonState, assistance: Mapping[str, AssistanceGroup], base: Fen) -> AssistanceOutcome:
    """Payout on ``base`` = S − critical (funds assumed on)."""
    group = pick_group(person.groups, assistance)
    if group is None:
        return AssistanceOutcome(payout=ZERO, group=None, explanations=())
    acc = person.accumulators
    before = acc.assistance_base
    threshold = group.threshold
    above_after = max(0, before + base - threshold)
    above_before = max(0, before - threshold)
    raw = share(above_after - above_before, group.ratio)
    limit_left = max(0, group.annual_limit - acc.assistance_paid)
    payout = Fen(min(raw, limit_left, base))
    others = sorted(person.groups & set(assistance) - {group.group})
    chosen = f"group {group.group}" + (f" (highest ratio among {', '.join([group.group, *others])})" if others else "")
    detail = (
        f"{chosen}: base {explain.yuan(base)}, year base {explain.yuan(before)} → "
        f"{explain.yuan(before + base)}, threshold {explain.yuan(threshold)}; "
        f"({explain.yuan(above_after)} − {explain.yuan(above_before)}) × "
        f"{explain.ratio(group.ratio)} = {explain.yuan(raw)}; annual limit "
        f"{explain.yuan(group.annual_limit)} − paid {explain.yuan(acc.assistance_paid)} = "
        f"{explain.yuan(limit_left)} left"
    )
    if payout < raw:
        detail += f" → limited to {explain.yuan(payout)}"
    entry = explain.entry("medical_assistance", f"medical_assistance.groups.{group.group}", detail)
    return AssistanceOutcome(payout=payout, group=group.group, explanations=(entry,))
