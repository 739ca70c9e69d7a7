"""Pure parts of monitoring: rule overlay, in-settlement decisions, overlap, grades, seeding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from yibao.benefit.inputs import Bill, BillLine, PersonState
from yibao.benefit.lines import split_lines
from yibao.errors import RuleBlocked
from yibao.ledger.position import months_of_balance
from yibao.money import Fen
from yibao.monitoring import rules as r
from yibao.monitoring.workflow import grade_for
from yibao.values import CatalogueItem, RuleWarning

UNITS = RuleWarning("units_per_day", "S-BED-2: 2 units over 1 day(s) exceeds 1 per day")
CROSS = RuleWarning("cross_region_unfiled", "not filed")


def _with(rule_id: str, **changes: object) -> r.RuleSet:
    base = r.RuleSet.defaults().get(rule_id)
    fields = {**base.__dict__, **changes, "version": 2}
    return r.build([r.RuleConfig(**fields)], [])  # type: ignore[arg-type]


def test_warn_mode_keeps_the_signal_and_foreign_warnings_pass() -> None:
    assert r.apply_in_settlement(r.RuleSet.defaults(), "430522", [UNITS, CROSS]) == (UNITS, CROSS)


def test_block_mode_refuses_with_rule_blocked() -> None:
    with pytest.raises(RuleBlocked) as exc:
        r.apply_in_settlement(_with("units_per_day", mode="block"), "430522", [UNITS])
    assert exc.value.code == "RULE_BLOCKED" and "units_per_day" in str(exc.value)


def test_region_switch_drops_the_signal_only_there() -> None:
    rules = r.build([], [("units_per_day", "430522", False)])
    assert r.apply_in_settlement(rules, "430522", [UNITS]) == ()
    assert r.apply_in_settlement(rules, "430100", [UNITS]) == (UNITS,)


def test_latest_version_wins() -> None:
    old = r.RuleConfig("split_admission", "x", "post", "post", False, True, {"days": 30}, 1)
    new = r.RuleConfig("split_admission", "x", "post", "post", False, True, {"days": 10}, 2)
    assert r.build([new, old], []).params("split_admission") == {"days": 10}


def test_overlap_hit_and_near_misses() -> None:
    stay = r.StayOverlap("s1", "H430522101", date(2026, 3, 1), date(2026, 3, 10))
    hit = r.overlap_warning("outpatient", date(2026, 3, 5), stay)
    assert hit is not None and hit.rule == "inpatient_overlap"
    assert r.overlap_warning("outpatient", date(2026, 3, 10), stay) is None  # discharge day
    assert r.overlap_warning("inpatient", date(2026, 3, 5), stay) is None
    assert r.overlap_warning("outpatient", date(2026, 3, 5), None) is None


def test_seed_params_follow_the_policy_document() -> None:
    p = r.seed_params(
        {
            "split_admission_days": 12,
            "abnormal_visits": {"per_day": 5, "institutions_per_week": 6},
            "penalty_multiple": {"min": 1, "max": 3},
        }
    )
    assert p["split_admission"]["days"] == 12
    assert p["visits_per_day"]["max_per_day"] == 5 and p["institutions_per_week"]["max_institutions"] == 6
    assert p["penalty"] == {"min_multiple": 1, "max_multiple": 3}
    assert p["frequent_admissions"] == {"count": 3, "days": 90}  # default kept


def test_credit_grade_from_thresholds() -> None:
    t = {"B": 1, "C": 3, "D": 5}
    assert [grade_for(n, t) for n in (0, 1, 2, 3, 5, 9)] == ["A", "B", "B", "C", "D", "D"]


def test_months_of_balance() -> None:
    assert months_of_balance(600_000, Decimal(100_000)) == Decimal("6.00")
    assert months_of_balance(100, Decimal(0)) is None


# ---------------------------------------------------------------- in-settlement signals at their exact limits

BED = CatalogueItem("T-BED", "bed day", "service", "A", None, None, max_units_per_day=Decimal(1))
DRUG = CatalogueItem("T-DRUG", "a drug", "drug", "A", None, None, max_days_supply=7)
PATIENT = PersonState("resident", date(1970, 1, 1), "M", "430522", frozenset(), date(2026, 1, 1))


def _signals(visit_type: str, lines: list[tuple[CatalogueItem, str, date, int | None]], **bill: object) -> list[str]:
    bill_lines = tuple(
        BillLine(no, item, Decimal(qty), Fen(4_000), day, days_supply=supply)
        for no, (item, qty, day, supply) in enumerate(lines, start=1)
    )
    b = Bill(visit_type, max(line.service_date for line in bill_lines), 2, "430522", bill_lines, **bill)  # type: ignore[arg-type]
    return [w.rule for w in r.apply_in_settlement(r.RuleSet.defaults(), "430522", split_lines(b, PATIENT).warnings)]


def test_units_per_day_at_the_limit_times_the_days_of_the_stay() -> None:
    # given a 5-day stay (03-01 to 03-06) and a bed fee limited to 1 a day: 5 units are at the limit, 5.5 above
    stay = {"admitted_on": date(2026, 3, 1), "discharged_on": date(2026, 3, 6)}
    day = date(2026, 3, 6)
    assert _signals("inpatient", [(BED, "5", day, None)], **stay) == []
    assert _signals("inpatient", [(BED, "3", day, None), (BED, "2.5", day, None)], **stay) == ["units_per_day"]
    # and outside a stay the days are the distinct service dates: 2 units over 2 days at the limit, 3 above
    two_days = [(BED, "1", date(2026, 3, 2), None), (BED, "1", date(2026, 3, 3), None)]
    assert _signals("outpatient", two_days) == []
    assert _signals("outpatient", [*two_days, (BED, "1", date(2026, 3, 3), None)]) == ["units_per_day"]


def test_days_of_supply_at_the_limit() -> None:
    # given a drug limited to 7 days of supply: 7 is at the limit, 8 above
    day = date(2026, 3, 2)
    assert _signals("outpatient", [(DRUG, "1", day, 7)]) == []
    assert _signals("outpatient", [(DRUG, "1", day, 8)]) == ["days_supply"]


def test_block_mode_refuses_only_above_the_limit() -> None:
    # given units per day switched to block: the bill at the limit passes, one unit more is refused
    rules = _with("units_per_day", mode="block")
    stay = {"admitted_on": date(2026, 3, 1), "discharged_on": date(2026, 3, 3)}
    for qty, refused in (("2", False), ("3", True)):
        line = BillLine(1, BED, Decimal(qty), Fen(4_000), date(2026, 3, 3))
        b = Bill("inpatient", date(2026, 3, 3), 2, "430522", (line,), **stay)  # type: ignore[arg-type]
        warnings = split_lines(b, PATIENT).warnings
        if refused:
            with pytest.raises(RuleBlocked):
                r.apply_in_settlement(rules, "430522", warnings)
        else:
            assert r.apply_in_settlement(rules, "430522", warnings) == ()


def test_overlap_is_strictly_inside_the_stay() -> None:
    stay = r.StayOverlap("s1", "H430522101", date(2026, 3, 1), date(2026, 3, 10))
    assert r.overlap_warning("outpatient", date(2026, 3, 1), stay) is None  # admission day
    assert r.overlap_warning("outpatient", date(2026, 3, 2), stay) is not None  # the day after
    assert r.overlap_warning("pharmacy", date(2026, 3, 9), stay) is not None  # the day before discharge
    assert r.overlap_warning("chronic_outpatient", date(2026, 3, 9), stay) is not None


def test_oversupply_warns_above_the_days_left_and_only_for_supplied_items() -> None:
    # given 30 days of metformin from 03-01 (the supply ends before 03-31)
    supplies = {"D-METF-500": r.Supply("D-METF-500", date(2026, 3, 1), date(2026, 3, 31), "s1")}
    params = {"days": 7}
    # then 8 days left warns, 7 (the near miss) does not, nor an item with no running supply
    hit = r.oversupply_warnings(date(2026, 3, 23), ["D-METF-500"], supplies, params)
    assert [w.rule for w in hit] == ["oversupply"] and "8 days" in hit[0].message
    assert r.oversupply_warnings(date(2026, 3, 24), ["D-METF-500"], supplies, params) == ()
    assert r.oversupply_warnings(date(2026, 3, 23), ["D-ATOR-20"], supplies, params) == ()
    # a supply starting after the bill's date (a back-dated bill) is not an earlier one
    assert r.oversupply_warnings(date(2026, 2, 20), ["D-METF-500"], supplies, params) == ()
    # and the signal obeys the rule like any other: switched off for a region, it is dropped
    off = r.build([], [("oversupply", "430522", False)])
    assert r.apply_in_settlement(off, "430522", [], hit) == ()
    assert r.apply_in_settlement(off, "430100", [], hit) == hit


def test_supplied_items_are_take_home_lines_of_outpatient_type_bills() -> None:
    lines = [("D-METF-500", 30), ("S-BLRT", None), ("D-ATOR-20", 28)]
    assert r.supplied_items("outpatient", False, lines) == ["D-ATOR-20", "D-METF-500"]
    assert r.supplied_items("chronic_outpatient", False, lines) == ["D-ATOR-20", "D-METF-500"]
    # a prescription-backed pharmacy bill: every line (its days are the prescription's)
    assert r.supplied_items("pharmacy", True, [("D-METF-500", None)]) == ["D-METF-500"]
    assert r.supplied_items("pharmacy", False, [("D-METF-500", None)]) == []
    assert r.supplied_items("inpatient", False, lines) == []
