"""An independent oracle for single-line bills, compared with the product's ``calculate()``.

The oracle below is a second, deliberately plain reading of DOMAIN.md §3–§4. It reads every
number from the policy *document* (the JSON, not :class:`PolicyParams`), rounds with its own
half-up helper and never calls ``yibao.benefit`` or ``yibao.money``: a changed ratio, limit,
rounding step or parse in the product makes the two disagree. Critical illness is computed
as the overlap of this bill's self-pay interval with each band (not as ``g(C + S) − g(C)``)
and assistance as the overlap with ``[T, ∞)``, so even the shape of the arithmetic differs.

It covers, per bill: class A/B/C, price caps, the minimum-level restriction, deductible
(inpatient by level and admission order, chronic and outpatient annual with the amount already
used), ratio by scheme, visit type and level, the employee retiree bonus and ``max_ratio``,
home and away care (filed: home policy; unfiled: ratio minus the policy's points), the annual
and outpatient-pooling caps with the amount already paid, critical illness (bands, poor-group
threshold and bonus, cap with continuity and zero-claim incentives, the amount already paid),
medical assistance (highest-ratio group, threshold over the year, annual limit), funds off
(waiting period, third-party injury), personal account and cash, and the accrual.

Two policies are used: the default document and a variant with every number the oracle reads
moved (so a number hard-coded in the product disagrees). The comparison runs on a fixed grid
(scheme × visit type × level × home / away filed / away unfiled × policy × four people, with and
without a poor group and with every cap nearly used or not) and on 200 random bills whose
accumulators are drawn around the policy's own thresholds, caps and limits.

Readings the oracle shares with the product, where DOMAIN.md leaves room: the retiree bonus and
``max_ratio`` apply before the unfiled cross-region reduction ("the ratio drops by 10 points" is
read as the ratio that would otherwise apply); medical assistance reaches employees in an
assistance group too (DOMAIN §4.5 names groups, not schemes).

Deliberately restricted (the generated inputs never contain them):
- one line per bill: multi-line sums and per-line rounding are covered by the identities in
  ``test_benefit_properties.py`` and the worked examples in ``test_benefit_lines.py``;
- no gender or age restrictions (the level restriction stands for "a restriction broken makes
  the line fully self-paid"), no units-per-day, days-of-supply or traceability signals (they
  only warn and never move money);
- assistance groups that tie on the highest ratio have identical terms in both policies used
  here, so the oracle does not model the product's tie-break;
- chronic-disease overrides (per-disease limits, ESRD/CANCER ratios, 两病 drugs) are decided
  by the settle path before ``calculate()`` and are not inputs of it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from helpers import AWAY, HOME, REFERENCE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao.benefit import (
    AccountState,
    Accrual,
    Bill,
    BillLine,
    CatalogueItem,
    PersonState,
    Totals,
    YearAccumulators,
    calculate,
)
from yibao.money import Fen
from yibao.policy.params import PolicyParams

DAY = date(2026, 6, 15)
VISITS = ("inpatient", "chronic_outpatient", "outpatient", "pharmacy")
WHERE = ("home", "away_filed", "away_unfiled")
DEFAULT_DOC: dict[str, Any] = json.loads((REFERENCE / "policy-2026.json").read_text("utf-8"))


def _variant_doc() -> dict[str, Any]:
    """Every number the oracle reads moved, so product code that hard-codes one disagrees."""
    doc = copy.deepcopy(DEFAULT_DOC)
    doc["version"] = "430522-2026-oracle-variant"
    # the variant moves the groups' numbers in the older sections (the oracle reads those), so it
    # drops the ``groups`` section that would otherwise be their one source (and refuse them)
    doc.pop("groups", None)
    res, emp = doc["resident"], doc["employee"]
    res["inpatient"] = {
        "deductible_by_level": {"0": "50.00", "1": "300.00", "2": "700.00", "3": "1300.00"},
        "repeat_admission_deductible_factor": "0.40",
        "ratio_by_level": {"0": "0.93", "1": "0.85", "2": "0.72", "3": "0.55"},
        "max_ratio": "0.90",
    }
    res["chronic_outpatient"] = {
        "deductible_by_level": {"0": "100.00", "1": "150.00", "2": "300.00", "3": "600.00"},
        "ratio_by_level": {"0": "0.75", "1": "0.72", "2": "0.62", "3": "0.51"},
    }
    res["outpatient_pooling"] = {
        "levels": [0, 1, 2],
        "annual_deductible": "50.00",
        "ratio": "0.55",
        "annual_cap": "600.00",
    }
    res["annual_cap"] = "150000.00"
    res["unfiled_cross_region_ratio_reduction"] = "0.15"
    res["critical_illness"] = {
        "threshold": "12000.00",
        "tiers": [
            {"upto": "40000.00", "ratio": "0.55"},
            {"upto": "90000.00", "ratio": "0.67"},
            {"upto": None, "ratio": "0.77"},
        ],
        "cap": "300000.00",
        "poor_groups": ["destitute", "min_living", "marginal"],
        "poor_threshold_factor": "0.40",
        "poor_ratio_bonus": "0.07",
        "poor_no_cap": False,
        "incentives": {
            "continuous_years_from": 3,
            "continuous_step": "2500.00",
            "zero_claim_step": "2500.00",
            "max_share_of_cap": "0.15",
        },
    }
    emp["inpatient"] = {
        "deductible_by_level": {"1": "250.00", "2": "550.00", "3": "950.00"},
        "repeat_admission_deductible_factor": "0.60",
        "ratio_by_level": {"1": "0.92", "2": "0.87", "3": "0.81"},
        "retiree_ratio_bonus": "0.06",
        "max_ratio": "0.96",
    }
    emp["chronic_outpatient"] = {
        "deductible_by_level": {"0": "80.00", "1": "80.00", "2": "160.00", "3": "240.00"},
        "ratio_by_level": {"0": "0.88", "1": "0.86", "2": "0.83", "3": "0.78"},
    }
    emp["outpatient_pooling"] = {
        "levels": [1, 2, 3],
        "annual_deductible": "150.00",
        "ratio": "0.65",
        "annual_cap": "2500.00",
    }
    emp["annual_cap"] = "250000.00"
    emp["unfiled_cross_region_ratio_reduction"] = "0.12"
    doc["medical_assistance"]["groups"] = {
        "destitute": {"threshold": "500.00", "ratio": "0.85", "annual_limit": "70000.00"},
        "orphan": {"threshold": "500.00", "ratio": "0.85", "annual_limit": "70000.00"},
        "severe_disability": {"threshold": "1500.00", "ratio": "0.75", "annual_limit": "50000.00"},
        "min_living": {"threshold": "1200.00", "ratio": "0.65", "annual_limit": "45000.00"},
        "poverty_monitoring": {"threshold": "2500.00", "ratio": "0.55", "annual_limit": "30000.00"},
        "marginal": {"threshold": "3000.00", "ratio": "0.50", "annual_limit": "20000.00"},
    }
    return doc


VARIANT_DOC = _variant_doc()
DOCS = {"default": DEFAULT_DOC, "variant": VARIANT_DOC}
PARSED = {name: PolicyParams.parse(doc) for name, doc in DOCS.items()}
GROUPS = sorted(DEFAULT_DOC["medical_assistance"]["groups"])

# ---------------------------------------------------------------- the oracle


def _fen(yuan: str) -> int:
    value = Decimal(yuan) * 100
    assert value == value.to_integral_value(), yuan
    return int(value)


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _overlap(lo: int, hi: int, band_lo: int, band_hi: int | None) -> int:
    """Length of [lo, hi) ∩ [band_lo, band_hi)."""
    top = hi if band_hi is None else min(hi, band_hi)
    return max(0, top - max(lo, band_lo))


@dataclass(frozen=True)
class Expected:
    totals: dict[str, int]
    accrual: dict[str, int]


def _line_parts(bill: Bill) -> tuple[int, int, int, int, int]:
    (line,) = bill.lines
    item = line.item
    amount = _half_up(line.quantity * line.unit_price)
    if item.item_class == "C" or (item.min_level is not None and bill.institution_level < item.min_level):
        return amount, amount, 0, 0, 0
    over = 0
    if item.price_cap is not None and line.unit_price > item.price_cap:
        over = _half_up((line.unit_price - item.price_cap) * line.quantity)
    pre = _half_up((amount - over) * (item.b_self_pay_ratio or Decimal(0))) if item.item_class == "B" else 0
    return amount, 0, over, pre, amount - over - pre


def _basic(bill: Bill, person: PersonState, sch: dict[str, Any], policy_range: int) -> tuple[int, int]:
    """(deductible, basic fund) with funds on."""
    acc, level = person.accumulators, str(bill.institution_level)
    reduction = Decimal(0)
    if bill.institution_region != person.region and not person.cross_region_filed:
        reduction = Decimal(sch.get("unfiled_cross_region_ratio_reduction", "0"))
    annual_left = max(0, _fen(sch["annual_cap"]) - acc.basic_paid)
    if bill.visit_type == "inpatient":
        ip = sch["inpatient"]
        if level not in ip["deductible_by_level"] or level not in ip["ratio_by_level"]:
            return 0, 0
        due = _fen(ip["deductible_by_level"][level])
        if acc.inpatient_admissions >= 1:
            due = _half_up(due * Decimal(ip["repeat_admission_deductible_factor"]))
        ratio = Decimal(ip["ratio_by_level"][level])
        if person.scheme == "employee" and person.retiree:
            ratio += Decimal(ip.get("retiree_ratio_bonus", "0"))
        ratio = min(ratio, Decimal(ip.get("max_ratio", "1")))
        cap_left = annual_left
    elif bill.visit_type == "chronic_outpatient":
        co = sch["chronic_outpatient"]
        if level not in co["deductible_by_level"] or level not in co["ratio_by_level"]:
            return 0, 0
        due = max(0, _fen(co["deductible_by_level"][level]) - acc.chronic_deductible_used)
        ratio, cap_left = Decimal(co["ratio_by_level"][level]), annual_left
    elif bill.visit_type == "outpatient":
        op = sch["outpatient_pooling"]
        if bill.institution_level not in op["levels"]:
            return 0, 0
        due = max(0, _fen(op["annual_deductible"]) - acc.outpatient_deductible_used)
        ratio = Decimal(op["ratio"])
        cap_left = max(0, _fen(op["annual_cap"]) - acc.outpatient_pool_paid)
    else:
        return 0, 0
    deductible = min(due, policy_range)
    ratio = max(Decimal(0), ratio - reduction)
    return deductible, min(_half_up((policy_range - deductible) * ratio), cap_left)


def _critical(person: PersonState, ci: dict[str, Any], self_pay: int) -> int:
    acc = person.accumulators
    poor = bool(person.groups & set(ci["poor_groups"]))
    threshold, bonus = _fen(ci["threshold"]), Decimal(0)
    if poor:
        threshold = _half_up(threshold * Decimal(ci["poor_threshold_factor"]))
        bonus = Decimal(ci["poor_ratio_bonus"])
    before, after = acc.policy_range_self_pay, acc.policy_range_self_pay + self_pay
    exact, lower = Decimal(0), threshold
    for tier in ci["tiers"]:
        upper = None if tier["upto"] is None else _fen(tier["upto"])
        exact += (Decimal(tier["ratio"]) + bonus) * _overlap(before, after, lower, upper)
        if upper is None:
            break
        lower = upper
    payout = _half_up(exact)
    if not (poor and ci["poor_no_cap"]):
        inc = ci["incentives"]
        years, first = person.continuous_years, int(inc["continuous_years_from"])
        continuity = _fen(inc["continuous_step"]) * (years - first + 1) if years >= first else 0
        base_cap = _fen(ci["cap"])
        cap = base_cap + min(
            _half_up(base_cap * Decimal(inc["max_share_of_cap"])), continuity + person.zero_claim_credit
        )
        payout = min(payout, max(0, cap - acc.critical_paid))
    return min(payout, self_pay)


def _assistance(person: PersonState, groups: dict[str, Any], base: int) -> int:
    mine = [groups[g] for g in person.groups if g in groups]
    if not mine:
        return 0
    best = max(mine, key=lambda g: Decimal(g["ratio"]))
    acc, threshold = person.accumulators, _fen(best["threshold"])
    above = _overlap(acc.assistance_base, acc.assistance_base + base, threshold, None)
    raw = _half_up(above * Decimal(best["ratio"]))
    return min(raw, max(0, _fen(best["annual_limit"]) - acc.assistance_paid), base)


def oracle(bill: Bill, person: PersonState, doc: dict[str, Any]) -> Expected:
    total, full, over, pre, policy_range = _line_parts(bill)
    sch = doc[person.scheme]
    second_tier = bill.visit_type in ("inpatient", "chronic_outpatient")
    funds_on = bill.service_date >= person.coverage_start and not bill.third_party_liable
    deductible = basic = critical = assistance = self_pay = base = 0
    if funds_on:
        deductible, basic = _basic(bill, person, sch, policy_range)
        self_pay = policy_range - basic
        if second_tier:
            if sch.get("critical_illness"):
                critical = _critical(person, sch["critical_illness"], self_pay)
            base = self_pay - critical
            assistance = _assistance(person, doc["medical_assistance"]["groups"], base)
    fund_total = basic + critical + assistance
    personal = total - fund_total
    account = min(max(0, person.account.balance), personal) if person.account is not None else 0
    totals = {
        "total": total,
        "full_self_pay": full,
        "over_cap_self_pay": over,
        "pre_self_pay": pre,
        "policy_range": policy_range,
        "deductible": deductible,
        "basic_fund": basic,
        "critical_illness": critical,
        "medical_assistance": assistance,
        "fund_total": fund_total,
        "personal_part": personal,
        "personal_account": account,
        "cash": personal - account,
        "maternity_fund": 0,  # the oracle's visit types never reach the maternity fund (tests/api/test_maternity.py)
    }
    accrual = {name.name: 0 for name in fields(Accrual)}
    accrual["inpatient_admissions"] = int(bill.visit_type == "inpatient")
    accrual["personal_paid"] = personal
    if funds_on:
        accrual.update(
            basic_paid=basic if second_tier else 0,
            chronic_deductible_used=deductible if bill.visit_type == "chronic_outpatient" else 0,
            outpatient_deductible_used=deductible if bill.visit_type == "outpatient" else 0,
            outpatient_pool_paid=basic if bill.visit_type == "outpatient" else 0,
            policy_range_self_pay=self_pay if second_tier else 0,
            critical_paid=critical,
            assistance_base=base,
            assistance_paid=assistance,
            fund_paid=fund_total,
        )
    return Expected(totals, accrual)


def _compare(bill: Bill, person: PersonState, policy: str) -> None:
    expected = oracle(bill, person, DOCS[policy])
    split = calculate(bill, person, PARSED[policy])
    got = {f.name: getattr(split.totals, f.name) for f in fields(Totals)}
    assert got == expected.totals, _diff(got, expected.totals)
    accrual = {f.name: getattr(split.accrual, f.name) for f in fields(Accrual)}
    assert accrual == expected.accrual, _diff(accrual, expected.accrual)


def _diff(got: dict[str, int], want: dict[str, int]) -> str:
    return "; ".join(f"{k}: product {got[k]} ≠ oracle {want[k]}" for k in want if got.get(k) != want[k])


# ---------------------------------------------------------------- builders


def _item(
    item_class: str, *, b_ratio: str | None = None, cap: int | None = None, min_level: int | None = None
) -> CatalogueItem:
    return CatalogueItem(
        code=f"T-ORACLE-{item_class}",
        name="oracle test item",
        kind="service",
        item_class=item_class,  # type: ignore[arg-type]
        b_self_pay_ratio=Decimal(b_ratio) if b_ratio is not None else None,
        price_cap=cap,
        min_level=min_level,
    )


def _bill(
    visit: str,
    level: int,
    item: CatalogueItem,
    qty: Decimal,
    price: int,
    *,
    region: str = HOME,
    third_party: bool = False,
) -> Bill:
    line = BillLine(line_no=1, item=item, quantity=qty, unit_price=price, service_date=DAY)  # type: ignore[arg-type]
    inpatient = visit == "inpatient"
    return Bill(
        visit_type=visit,  # type: ignore[arg-type]
        service_date=DAY,
        institution_level=level,
        institution_region=region,
        lines=(line,),
        admitted_on=DAY - timedelta(days=6) if inpatient else None,
        discharged_on=DAY if inpatient else None,
        third_party_liable=third_party,
    )


def _person(
    scheme: str,
    *,
    where: str = "home",
    groups: frozenset[str] = frozenset(),
    acc: YearAccumulators | None = None,
    **kw: Any,
) -> PersonState:
    return PersonState(
        scheme=scheme,  # type: ignore[arg-type]
        birth_date=date(1960, 4, 1),
        gender="F",
        region=HOME,
        groups=groups,
        coverage_start=kw.pop("coverage_start", date(2026, 1, 1)),
        cross_region_filed=where == "away_filed",
        accumulators=acc or YearAccumulators(),
        **kw,
    )


def _region(where: str) -> str:
    return HOME if where == "home" else AWAY


# ---------------------------------------------------------------- the oracle itself, by hand


def test_oracle_agrees_with_hand_computed_figures() -> None:
    # given hand-computed bills from DOMAIN §4 and the default policy
    plain = _item("A")
    # resident inpatient level 2, first admission, P = 20500.00: deductible 500, basic 20000 × 0.70 = 14000,
    # S = 6500 on top of 8000 already: CI 0.60 × (14500 − 10000) = 2700
    ip = oracle(
        _bill("inpatient", 2, plain, Decimal(1), 2_050_000),
        _person("resident", acc=YearAccumulators(policy_range_self_pay=800_000)),
        DEFAULT_DOC,
    )
    # employee retiree inpatient level 2 away without filing: 0.90 + 0.05 = 0.95 (max 0.95) − 0.10 = 0.85;
    # second admission: deductible 600 × 0.50 = 300; (10300 − 300) × 0.85 = 8500
    away = oracle(
        _bill("inpatient", 2, plain, Decimal(1), 1_030_000, region=AWAY),
        _person("employee", where="away_unfiled", retiree=True, acc=YearAccumulators(inpatient_admissions=1)),
        DEFAULT_DOC,
    )
    # class B with a price cap: 3 × 25.50, cap 25.00 → over 1.50, pre (76.50 − 1.50) × 0.10 = 7.50, P = 67.50;
    # employee outpatient, 150.00 of the 200.00 deductible used: 50.00 more, then (67.50 − 50.00) × 0.50 = 8.75
    b = oracle(
        _bill("outpatient", 3, _item("B", b_ratio="0.10", cap=2500), Decimal(3), 2550),
        _person("employee", acc=YearAccumulators(outpatient_deductible_used=15_000)),
        DEFAULT_DOC,
    )
    # destitute resident chronic level 3: P 3000 × 0.60 = 1800 basic; S 1200; poor threshold 5000 not reached;
    # assistance 0.90 × 1200 = 1080 (threshold 0)
    poor = oracle(
        _bill("chronic_outpatient", 3, plain, Decimal(1), 300_000),
        _person("resident", groups=frozenset({"destitute"})),
        DEFAULT_DOC,
    )
    # then
    assert (ip.totals["deductible"], ip.totals["basic_fund"], ip.totals["critical_illness"]) == (
        50_000,
        1_400_000,
        270_000,
    )
    assert (away.totals["deductible"], away.totals["basic_fund"]) == (30_000, 850_000)
    assert (b.totals["over_cap_self_pay"], b.totals["pre_self_pay"], b.totals["policy_range"]) == (150, 750, 6750)
    assert (b.totals["deductible"], b.totals["basic_fund"], b.totals["cash"]) == (5000, 875, 7650 - 875)
    assert (poor.totals["basic_fund"], poor.totals["critical_illness"], poor.totals["medical_assistance"]) == (
        180_000,
        0,
        108_000,
    )


# ---------------------------------------------------------------- a deterministic grid


def _year_so_far(doc: dict[str, Any], scheme: str) -> dict[str, tuple[frozenset[str], YearAccumulators, int]]:
    """Four people half-way through the year: (groups, accumulators, account balance), every cap
    figure from ``doc``. Mid-year: self-pay in the first band, an account smaller than the
    personal part; caps nearly used: self-pay below the full threshold but above the poor one,
    an account larger than the personal part."""
    sch = doc[scheme]
    ci = sch.get("critical_illness") or DEFAULT_DOC["resident"]["critical_illness"]
    ci_cap = _fen(ci["cap"])
    ci_cap_with_incentives = ci_cap + _half_up(ci_cap * Decimal(ci["incentives"]["max_share_of_cap"]))
    poor = frozenset({"min_living", "marginal"})
    min_living_limit = _fen(doc["medical_assistance"]["groups"]["min_living"]["annual_limit"])
    mid_year = YearAccumulators(
        inpatient_admissions=1,
        chronic_deductible_used=3_000,
        outpatient_deductible_used=4_000,
        outpatient_pool_paid=10_000,
        basic_paid=2_000_000,
        policy_range_self_pay=3_800_003,  # odd fen: g(C) is not a whole fen
        critical_paid=100_000,
        assistance_base=150_007,
        assistance_paid=20_000,
    )
    caps_nearly_used = replace(
        mid_year,
        basic_paid=_fen(sch["annual_cap"]) - 100_000,  # 1,000.00 left of the annual cap
        outpatient_pool_paid=_fen(sch["outpatient_pooling"]["annual_cap"]) - 1_000,  # 10.00 left
        critical_paid=ci_cap_with_incentives - 100_000,  # 1,000.00 left once incentives are counted
        assistance_paid=min_living_limit - 10_000,  # 100.00 left
        policy_range_self_pay=400_003,  # 4,000.03: below the threshold, and below the poor one until this bill
    )
    return {
        "mid-year": (frozenset(), mid_year, 123_456),
        "mid-year, poor": (poor, mid_year, 123_456),
        "caps nearly used": (frozenset(), caps_nearly_used, 10**9),
        "caps nearly used, poor": (poor, caps_nearly_used, 10**9),
    }


@pytest.mark.parametrize("policy", sorted(DOCS))
@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("visit", VISITS)
@pytest.mark.parametrize("scheme", ["resident", "employee"])
def test_every_scheme_visit_level_and_region_matches_the_oracle(
    scheme: str, visit: str, level: int, where: str, policy: str
) -> None:
    # given a class-B line above its cap on a second admission, for four people half-way through the year
    # (with and without a poor group; with every cap, limit and incentive nearly used or not):
    # every ratio, deductible, tier and cap of this (scheme, visit type, level, region) is reached
    # 1.5 × 12,345.67 = 18,518.505 → 18,518.51; over cap 1.5 × 345.63 = 518.445 → 518.45; pre 0.15 ×
    # 18,000.06 = 2,700.009 → 2,700.01: every line step rounds a half or more up
    item = _item("B", b_ratio="0.15", cap=1_200_004)
    bill = _bill(visit, level, item, Decimal("1.5"), 1_234_567, region=_region(where))
    for groups, acc, balance in _year_so_far(DOCS[policy], scheme).values():
        patient = _person(
            scheme,
            where=where,
            groups=groups,
            acc=acc,
            retiree=True,
            continuous_years=6,  # continuity 9,000.00 (default) …
            zero_claim_credit=7_500_000,  # … + 75,000.00: above the 20% limit of the incentives
            account=AccountState(holder_is_patient=True, balance=Fen(balance)),
        )
        # when / then
        _compare(bill, patient, policy)


# ---------------------------------------------------------------- random bills near every boundary


def _near(anchors: list[int], spread: int) -> st.SearchStrategy[int]:
    """Nothing yet (half the time), anywhere below the largest anchor, or within ``spread`` of one."""
    around = st.tuples(st.sampled_from(anchors), st.integers(-spread, spread)).map(lambda t: max(0, t[0] + t[1]))
    return st.sampled_from(["none", "none", "below", "near"]).flatmap(
        lambda kind: st.just(0) if kind == "none" else around if kind == "near" else st.integers(0, max(anchors))
    )


def _anchors(doc: dict[str, Any], scheme: str) -> dict[str, list[int]]:
    sch = doc[scheme]
    ci = sch.get("critical_illness") or DEFAULT_DOC["resident"]["critical_illness"]
    threshold = _fen(ci["threshold"])
    bands = [threshold, _half_up(threshold * Decimal(ci["poor_threshold_factor"]))]
    bands += [_fen(t["upto"]) for t in ci["tiers"] if t["upto"] is not None]
    cap = _fen(ci["cap"])
    groups = doc["medical_assistance"]["groups"].values()
    return {
        "annual_cap": [_fen(sch["annual_cap"])],
        "pool_cap": [_fen(sch["outpatient_pooling"]["annual_cap"])],
        "pool_deductible": [_fen(sch["outpatient_pooling"]["annual_deductible"])],
        "chronic_deductible": [_fen(v) for v in sch["chronic_outpatient"]["deductible_by_level"].values()],
        "bands": bands,
        "ci_cap": [cap, cap + _half_up(cap * Decimal(ci["incentives"]["max_share_of_cap"]))],
        "ma_threshold": [_fen(g["threshold"]) for g in groups],
        "ma_limit": [_fen(g["annual_limit"]) for g in groups],
    }


def _rarely() -> st.SearchStrategy[bool]:
    """True about one time in twenty (hypothesis favours the bounds, so the rare value sits inside)."""
    return st.integers(0, 19).map(lambda n: n == 7)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Bill, PersonState, str]:
    policy = draw(st.sampled_from(sorted(DOCS)))
    doc = DOCS[policy]
    scheme = draw(st.sampled_from(["resident", "employee"]))
    visit = draw(st.sampled_from(["inpatient"] * 3 + ["chronic_outpatient"] * 2 + ["outpatient"] * 2 + ["pharmacy"]))
    level = draw(st.integers(0, 3))
    where = draw(st.sampled_from(WHERE))
    a = _anchors(doc, scheme)

    item_class = draw(st.sampled_from("AAAABBBC"))
    qty = Decimal(draw(st.one_of(st.integers(1, 20).map(lambda n: n * 100), st.integers(1, 5000)))) / 100
    price = draw(st.one_of(st.integers(1, 10_000), st.integers(10_000, 2_000_000), st.integers(2_000_000, 30_000_000)))
    cap = draw(
        st.one_of(st.none(), st.integers(-5_000, 5_000).map(lambda d: max(1, price + d)), st.integers(1, 40_000_000))
    )
    item = _item(
        item_class,
        b_ratio=draw(st.sampled_from(["0.05", "0.10", "0.15", "0.20"])),
        cap=cap,
        min_level=draw(st.sampled_from([None] * 9 + [1, 2, 3])),
    )
    coverage = date(2026, 1, 1) if not draw(_rarely()) else draw(st.sampled_from([DAY, DAY + timedelta(days=1)]))
    bill = _bill(visit, level, item, qty, price, region=_region(where), third_party=draw(_rarely()))

    ci_cap = a["ci_cap"]
    acc = YearAccumulators(
        inpatient_admissions=draw(st.sampled_from([0, 0, 1, 2, 4])),
        basic_paid=draw(_near(a["annual_cap"], 2_000_000)),
        chronic_deductible_used=draw(_near(a["chronic_deductible"], 20_000)),
        outpatient_deductible_used=draw(_near(a["pool_deductible"], 20_000)),
        outpatient_pool_paid=draw(_near(a["pool_cap"], 20_000)),
        policy_range_self_pay=draw(_near(a["bands"], 1_000_000)),
        critical_paid=draw(_near(ci_cap, 2_000_000)),
        assistance_base=draw(_near(a["ma_threshold"], 200_000)),
        assistance_paid=draw(_near(a["ma_limit"], 500_000)),
    )
    balances = st.integers(0, 2_000_000)
    account = draw(st.one_of(st.none(), balances.map(lambda b: AccountState(holder_is_patient=True, balance=Fen(b)))))
    person = _person(
        scheme,
        where=where,
        groups=frozenset(draw(st.sets(st.sampled_from(GROUPS), max_size=3))),
        acc=acc,
        retiree=draw(st.booleans()),
        continuous_years=draw(st.integers(0, 20)),
        zero_claim_credit=draw(st.sampled_from([0, 300_000, 900_000, 6_000_000])),
        account=account,
        coverage_start=coverage,
    )
    return bill, person, policy


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_random_single_line_bills_match_the_oracle(case: tuple[Bill, PersonState, str]) -> None:
    bill, person, policy = case
    _compare(bill, person, policy)


def test_the_variant_policy_really_moves_every_number() -> None:
    # the variant is only useful if the product answers differently under it
    bill = _bill("inpatient", 2, _item("A"), Decimal(1), 5_000_000, region=AWAY)
    patient = _person(
        "resident",
        where="away_unfiled",
        groups=frozenset({"marginal"}),
        acc=YearAccumulators(policy_range_self_pay=1_000_000),
    )
    default = calculate(bill, patient, PARSED["default"]).totals
    variant = calculate(bill, patient, PARSED["variant"]).totals
    for part in ("deductible", "basic_fund", "critical_illness", "medical_assistance"):
        assert getattr(default, part) != getattr(variant, part), part
