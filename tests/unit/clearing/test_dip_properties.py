"""Properties of the DIP year-end clearing maths (DOMAIN §5), against a reference written here.

The reference follows the text: case points (scaled by cost / average outside 0.5×–2× the group
average), × coefficient = weighted points, point value = budget / all weighted points, DIP
amount = weighted points × point value, surplus kept up to 15 %, overspend shared 50 % up to
10 %, capped by the institution's annual budget. Precision as the product states it: points to
4 decimals; the point value exact (a fraction), the DIP amount rounded half-up to the fen once;
money half-up to the fen.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.clearing.dip_math import Case, Group, Statement, Terms, clear
from yibao.money import Fen
from yibao.policy.params import DipParams

RULES = DipParams()
#: (main diagnosis, procedure) → group; "Z" cases match no group
GROUPS = {
    ("A", ""): Group("A-C", "A", "", 550, Fen(550_000)),
    ("B", "P1"): Group("B-S", "B", "P1", 900, Fen(900_000)),
    ("C", ""): Group("C-C", "C", "", 3_500, Fen(3_500_000)),
}


def q(x: Decimal, exp: str = "1") -> Decimal:
    return x.quantize(Decimal(exp), rounding=ROUND_HALF_UP)


def reference(cases: list[Case], terms: list[Terms], budget: int) -> dict[str, dict[str, object]]:
    by = {t.institution_code: t for t in terms}
    points = {c: Decimal(0) for c in by}
    claimed = dict.fromkeys(by, 0)
    for case in cases:
        group = GROUPS.get((case.diagnoses[0], case.procedures[0] if case.procedures else ""))
        if group is None or case.institution_code not in by:
            continue
        ratio = Decimal(case.cost) / Decimal(group.average_cost)
        outside = ratio > Decimal(2) or ratio < Decimal("0.5")
        points[case.institution_code] += q(group.points * ratio if outside else Decimal(group.points), "0.0001")
        claimed[case.institution_code] += case.claimed
    weighted = {c: q(points[c] * by[c].coefficient, "0.0001") for c in by}
    total = sum(weighted.values(), Decimal(0))
    out: dict[str, dict[str, object]] = {}
    for c, t in by.items():
        exact = Fraction(weighted[c]) * budget / Fraction(total) if total else Fraction(0)
        dip, paid = math.floor(exact + Fraction(1, 2)), claimed[c]  # half-up, once
        if paid < dip:
            before = paid + min(dip - paid, int(q(dip * Decimal("0.15"))))
        elif paid > dip:
            before = dip + min(int(q((paid - dip) * Decimal("0.50"))), int(q(dip * Decimal("0.10"))))
        else:
            before = dip
        final = min(before, t.annual_budget)
        out[c] = {
            "weighted": weighted[c],
            "dip": dip,
            "claimed": paid,
            "before_cap": before,
            "final": final,
            "difference": final - paid - t.prepaid,
        }
    return out


@st.composite
def regions(draw: st.DrawFn) -> tuple[list[Case], list[Terms], int]:
    """Up to 5 institutions and 20 cases: at most ~10⁶ weighted points (a county's year is ~3·10⁶)."""
    n = draw(st.integers(1, 5))
    terms = [
        Terms(
            f"I{i}",
            Decimal(draw(st.integers(50, 150))) / 100,
            Fen(draw(st.integers(0, 50_000_000))),
            Fen(draw(st.integers(0, 1_000_000))),
        )
        for i in range(n)
    ]
    cases = []
    for k in range(draw(st.integers(0, 20))):
        dx, proc = draw(st.sampled_from([("A", ""), ("B", "P1"), ("C", ""), ("Z", ""), ("B", "")]))
        avg = GROUPS[(dx, proc)].average_cost if (dx, proc) in GROUPS else 1_000_000
        cost = draw(st.integers(1, 6 * avg))
        cases.append(
            Case(f"c{k}", f"I{draw(st.integers(0, n - 1))}", [dx], [proc] if proc else [], Fen(cost),
                 Fen(draw(st.integers(0, cost))))
        )  # fmt: skip
    return cases, terms, draw(st.integers(0, 100_000_000))


@settings(max_examples=150, deadline=None)
@given(regions())
def test_statements_are_the_reference_clearing(region: tuple[list[Case], list[Terms], int]) -> None:
    # given a random region's cases and terms
    cases, terms, budget = region
    # when cleared
    result = clear(cases, GROUPS.values(), terms, RULES, Fen(budget))
    # then every statement is the reference's, to the fen
    ref = reference(cases, terms, budget)
    got = {
        s.institution_code: {
            "weighted": s.weighted_points,
            "dip": s.dip_amount,
            "claimed": s.claimed,
            "before_cap": s.before_cap,
            "final": s.final,
            "difference": s.difference,
        }
        for s in result.statements
    }
    assert got == ref


@settings(max_examples=150, deadline=None)
@given(regions())
def test_dip_amounts_share_the_budget_within_a_fen_per_institution(
    region: tuple[list[Case], list[Terms], int],
) -> None:
    # given a random region with something to share
    cases, terms, budget = region
    result = clear(cases, GROUPS.values(), terms, RULES, Fen(budget))
    total = Fraction(result.weighted_points)
    if total == 0:
        assert all(s.dip_amount == 0 for s in result.statements)
        return
    # then each DIP amount is its exact share of the budget within one fen, and so is their sum
    for s in result.statements:
        exact = Fraction(s.weighted_points) * budget / total
        assert abs(s.dip_amount - exact) <= 1, s
    assert abs(sum(s.dip_amount for s in result.statements) - budget) <= len(terms)


@settings(max_examples=150, deadline=None)
@given(regions())
def test_the_fund_pays_beyond_the_budget_only_its_overspend_share(
    region: tuple[list[Case], list[Terms], int],
) -> None:
    # given a random region
    cases, terms, budget = region
    by = {t.institution_code: t for t in terms}
    result = clear(cases, GROUPS.values(), terms, RULES, Fen(budget))
    shares = 0
    for s in result.statements:
        # each final stays within its institution's annual budget and between claimed and DIP
        assert s.final <= by[s.institution_code].annual_budget
        assert min(s.claimed, s.dip_amount) <= s.before_cap <= max(s.claimed, s.dip_amount)
        if s.claimed <= s.dip_amount:  # surplus kept: at most 15 % of the DIP amount
            assert s.before_cap - s.claimed <= s.dip_amount * Fraction(15, 100) + Fraction(1, 2)
        else:  # overspend: the fund pays at most 10 % of the DIP amount above it
            assert s.before_cap - s.dip_amount <= s.dip_amount * Fraction(10, 100) + Fraction(1, 2)
            shares += s.before_cap - s.dip_amount
        assert s.difference == s.final - s.claimed - by[s.institution_code].prepaid
    # then Σ final ≤ budget, but for the overspend shares the fund pays on top (DOMAIN §5)
    assert sum(s.final for s in result.statements) <= budget + len(terms) + shares


@settings(max_examples=50, deadline=None)
@given(regions(), st.randoms(use_true_random=False))
def test_clearing_does_not_depend_on_the_order_of_cases_or_institutions(
    region: tuple[list[Case], list[Terms], int], rnd: random.Random
) -> None:
    # given a random region, and the same with its cases and institutions shuffled
    cases, terms, budget = region
    shuffled_cases, shuffled_terms = list(cases), list(terms)
    rnd.shuffle(shuffled_cases)
    rnd.shuffle(shuffled_terms)
    # when both are cleared
    first = clear(cases, GROUPS.values(), terms, RULES, Fen(budget))
    again = clear(shuffled_cases, GROUPS.values(), shuffled_terms, RULES, Fen(budget))

    def money(statements: tuple[Statement, ...]) -> list[Statement]:  # the unmatched list is in case order
        return [replace(s, unmatched=tuple(sorted(s.unmatched))) for s in statements]

    # then the money is the same
    assert again.point_value == first.point_value
    assert money(again.statements) == money(first.statements)


def test_the_overspend_share_is_paid_above_the_regional_budget() -> None:
    """Σ final ≤ budget is not a DOMAIN rule: one hospital alone, DIP amount = the whole
    1,000.00 budget, claimed 1,200.00 → the fund shares 50 % of the 200.00 overspend (100.00,
    within the 10 % band), so the final 1,100.00 is above the budget."""
    case = Case("c1", "X", ["A"], [], Fen(550_000), Fen(120_000))
    result = clear([case], GROUPS.values(), [Terms("X", Decimal(1), Fen(10_000_000))], RULES, Fen(100_000))
    (s,) = result.statements
    assert (s.dip_amount, s.claimed, s.final) == (100_000, 120_000, 110_000)


def test_a_realistic_year_shares_the_budget_within_a_fen() -> None:
    # given one hospital's year: 3,461 appendectomies at the group's average cost, budget 30,000,000.00
    cases = [Case(f"c{i}", "X", ["B"], ["P1"], Fen(900_000), Fen(700_000)) for i in range(3_461)]
    budget = 3_000_000_000
    # when cleared
    result = clear(cases, GROUPS.values(), [Terms("X", Decimal(1), Fen(10**12))], RULES, Fen(budget))
    # then its DIP amount is the whole budget, within a fen
    assert result.weighted_points == Decimal(3_114_900)
    assert abs(result.statements[0].dip_amount - budget) <= 1, result.statements[0].dip_amount
