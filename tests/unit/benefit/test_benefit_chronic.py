"""The recognised disease of a chronic bill (issue #17, DOMAIN §9): its terms, limit and items.

Whether a recognition exists is the settle path's gate (tests/api/test_chronic.py); here the
pure calculation is given the disease and what its limit has accrued.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from helpers import REFERENCE, check_identities, fen, line, person, policy, policy_range_bill
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.benefit import calculate
from yibao.benefit.inputs import ChronicState
from yibao.chronic.service import add_months, valid_to
from yibao.policy.params import PolicyParams


def _doc() -> dict:  # type: ignore[type-arg]
    return json.loads((REFERENCE / "policy-2026.json").read_text("utf-8"))


def _recognised(disease: str, paid: str = "0", scheme: str = "resident"):  # type: ignore[no-untyped-def]
    return replace(person(scheme), chronic=ChronicState(disease, "R-1", fen(paid)))  # type: ignore[arg-type]


def test_default_policy_ships_the_diseases_of_domain_9() -> None:
    chronic = policy().chronic
    assert list(chronic.diseases) == ["HTN", "DM", "CHD", "COPD", "SMI", "ESRD", "CANCER"]
    assert chronic.unrecognised == "refuse"
    limits = {
        c: (d.terms["resident"].annual_limit, d.terms["employee"].annual_limit) for c, d in chronic.diseases.items()
    }
    assert limits["HTN"] == (fen("1500.00"), fen("3000.00"))
    assert limits["SMI"] == (fen("6000.00"), fen("8000.00"))
    assert limits["ESRD"] == limits["CANCER"] == (None, None)
    assert chronic.diseases["HTN"].category == "两病" and chronic.diseases["ESRD"].category == "门特"
    assert {d.validity_months for d in chronic.diseases.values()} == {24, 12}
    # ICD-10 ranges expand; dots do not matter
    assert chronic.diseases["CANCER"].covers("C97") and not chronic.diseases["CANCER"].covers("D00")
    assert chronic.diseases["ESRD"].covers("N18.5") and not chronic.diseases["ESRD"].covers("N18.4")
    assert chronic.for_diagnoses(("J06.9", "E11.9")) is chronic.diseases["DM"]
    # ESRD/CANCER: the inpatient ratio of the level; HTN inherits the chronic ratios
    assert chronic.diseases["ESRD"].terms["resident"].ratio_by_level[1] == Decimal("0.90")
    assert (
        chronic.diseases["HTN"].terms["resident"].ratio_by_level == policy().resident.chronic_outpatient.ratio_by_level
    )


def test_bad_disease_definitions_are_refused_at_load() -> None:
    for broken in (
        {"category": "门诊"},
        {"icd10_prefixes": ["C00-D97"]},
        {"validity_months": 0},
    ):
        doc = _doc()
        doc["chronic_diseases"][0].update(broken)
        with pytest.raises(ValueError):
            PolicyParams.parse(doc)
    doc = _doc()
    doc["chronic_unrecognised"] = "pay"
    with pytest.raises(ValueError):
        PolicyParams.parse(doc)


def test_htn_annual_limit_limits_the_basic_fund_and_accrues() -> None:
    # resident level 2: 1000.00 × 0.65 = 650.00 wanted; HTN 1500.00 − 1200.00 paid = 300.00 left
    bill = replace(policy_range_bill("chronic_outpatient", 2, "1000.00"), chronic_disease="HTN")
    split = calculate(bill, _recognised("HTN", "1200.00"), policy())
    assert split.totals.basic_fund == fen("300.00")
    assert split.chronic_disease == "HTN" and split.chronic_disease_paid == fen("300.00")
    assert split.accrual.basic_paid == fen("300.00")  # the shared annual cap still accrues
    basic = [e for e in split.explanation if e.part == "basic_fund"]
    assert any("HTN 高血压" in e.detail and "R-1" in e.detail for e in basic)
    assert any("HTN annual limit 1500.00" in e.detail for e in basic)
    check_identities(split)
    # with the limit used up the fund pays nothing, the person all
    spent = calculate(bill, _recognised("HTN", "1500.00"), policy())
    assert spent.totals.basic_fund == 0 and spent.chronic_disease_paid == 0


def test_employee_limit_is_the_employee_one() -> None:
    bill = replace(policy_range_bill("chronic_outpatient", 2, "1000.00"), chronic_disease="HTN")
    split = calculate(bill, _recognised("HTN", "2900.00", scheme="employee"), policy())
    assert split.totals.basic_fund == fen("100.00")  # 3000.00 − 2900.00; 1000.00 × 0.85 wanted


def test_esrd_pays_the_inpatient_ratio_without_a_disease_limit() -> None:
    # resident level 2 inpatient ratio 0.70 (chronic would be 0.65); no limit but the annual cap
    bill = replace(policy_range_bill("chronic_outpatient", 2, "10000.00"), chronic_disease="ESRD")
    split = calculate(bill, _recognised("ESRD", "90000.00"), policy())
    assert split.totals.basic_fund == fen("7000.00")
    assert split.chronic_disease_paid == fen("7000.00")
    assert any(e.rule == "resident.inpatient.ratio_by_level[2]" for e in split.explanation)


def test_items_outside_the_disease_list_are_fully_self_paid() -> None:
    doc = _doc()
    dm = next(d for d in doc["chronic_diseases"] if d["code"] == "DM")
    dm["items"] = ["T-PLAIN"]
    custom = PolicyParams.parse(doc)
    bill = replace(
        policy_range_bill("chronic_outpatient", 2, "100.00"), chronic_disease="DM"
    )  # one covered line (T-PLAIN 100.00)
    bill = replace(bill, lines=(*bill.lines, replace(line("S-BLRT", 1, "20.00"), line_no=2)))
    split = calculate(bill, _recognised("DM"), custom)
    covered, other = split.lines
    assert covered.policy_range == fen("100.00") and other.full_self_pay == fen("20.00")
    assert other.policy_range == 0 and "not in DM items" in other.reasons
    assert split.totals.basic_fund == fen("65.00")  # 100.00 × 0.65; the blood test pays nothing
    assert any(e.rule == "chronic_diseases[DM].items" for e in split.explanation)
    check_identities(split)


def test_a_chronic_bill_without_a_disease_keeps_the_scheme_tier() -> None:
    # the gate is the settle path's; the pure function still prices an unnamed chronic bill
    split = calculate(policy_range_bill("chronic_outpatient", 2, "1000.00"), person(), policy())
    assert split.totals.basic_fund == fen("650.00") and split.chronic_disease is None
    assert split.chronic_disease_paid == 0


def test_validity_months() -> None:
    assert valid_to(date(2026, 3, 1), 24) == date(2028, 2, 29)
    assert valid_to(date(2026, 1, 1), 12) == date(2026, 12, 31)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


# ---------------------------------------------------------------- 两病 drugs and 双通道 (DOMAIN §9)


def _with_override(ratio_l1: str = "0.60", deductible_l1: str = "0.00") -> PolicyParams:
    """The shipped policy with a resident chronic ratio (and deductible) of its own at level 1,
    so the 两病 drug ratio (0.70) differs from the chronic one."""
    doc = _doc()
    doc["resident"]["chronic_outpatient"]["ratio_by_level"]["1"] = ratio_l1
    doc["resident"]["chronic_outpatient"]["deductible_by_level"]["1"] = deductible_l1
    return PolicyParams.parse(doc)


def test_the_shipped_policy_lists_the_two_disease_drugs_for_residents_at_levels_0_and_1() -> None:
    for code in ("HTN", "DM"):
        override = policy().chronic.diseases[code].drug_override
        assert override is not None
        assert override.items == {"D-METF-500", "D-ATOR-20", "D-AMLO-5"}
        assert override.ratio("resident", 0) == override.ratio("resident", 1) == Decimal("0.70")
        assert override.ratio("resident", 2) is None and override.ratio("employee", 1) is None
    assert policy().chronic.diseases["CHD"].drug_override is None
    for broken in ({"levels": []}, {"ratio_by_scheme": {"resident": "1.20"}}, {"ratio_by_scheme": {"farmer": "0.7"}}):
        doc = _doc()
        doc["chronic_diseases"][0]["drug_ratio_override"].update(broken)
        with pytest.raises(ValueError):
            PolicyParams.parse(doc)


def test_listed_drug_lines_take_their_own_ratio_and_the_deductible_comes_off_the_others_first() -> None:
    # level 1, deductible 15.00: the blood test (10.00) takes 10.00 of it, the listed drug the last 5.00
    params = _with_override(deductible_l1="15.00")
    bill = replace(
        policy_range_bill("chronic_outpatient", 1, "10.00"),
        chronic_disease="HTN",
    )
    bill = replace(bill, lines=(*bill.lines, replace(line("D-AMLO-5", 3, "10.01"), line_no=2)))
    split = calculate(bill, _recognised("HTN"), params)
    assert split.totals.policy_range == fen("40.03") and split.totals.deductible == fen("15.00")
    # other: (10.00 − 10.00) × 0.60 = 0; listed: (30.03 − 5.00) × 0.70 = 17.521 → 17.52 (half-up once)
    assert split.totals.basic_fund == fen("17.52")
    rules = {e.rule for e in split.explanation}
    assert "chronic_diseases[HTN].drug_ratio_override" in rules
    check_identities(split)
    # the same bill at level 2, or for an employee: no override
    for other, who in ((replace(bill, institution_level=2), "resident"), (bill, "employee")):
        plain = calculate(other, _recognised("HTN", scheme=who), params)
        assert "chronic_diseases[HTN].drug_ratio_override" not in {e.rule for e in plain.explanation}
        check_identities(plain)


def test_a_dual_channel_pharmacy_bill_is_a_chronic_bill_at_level_1() -> None:
    # a resident's prescription-backed pharmacy bill (level 0) of recognised DM: 100.00 of metformin
    bill = replace(
        policy_range_bill("pharmacy", 0, "0.01"),
        lines=(line("D-METF-500", 10, "8.50"),),
        prescribed=True,
        chronic_disease="DM",
    )
    split = calculate(bill, _recognised("DM", "1990.00"), policy())
    # 85.00 × 0.70 = 59.50 wanted, DM's resident limit 2000.00 leaves 10.00
    assert split.totals.basic_fund == fen("10.00")
    assert split.chronic_disease == "DM" and split.chronic_disease_paid == fen("10.00")
    assert split.chronic_recognition_id == "R-1" and split.chronic_disease_name == "糖尿病"
    # the chronic tier's accumulators, not outpatient pooling's
    assert split.accrual.basic_paid == fen("10.00") and split.accrual.outpatient_pool_paid == 0
    assert any(e.detail.startswith("双通道") for e in split.explanation)
    check_identities(split)
    # without the recognised disease it stays a pharmacy bill: no pooled fund for a resident
    plain = calculate(replace(bill, chronic_disease=None), person(), policy())
    assert plain.totals.fund_total == 0 and plain.chronic_disease is None


@given(
    specs=st.lists(
        st.tuples(
            st.sampled_from(["D-METF-500", "D-AMLO-5", "D-ATOR-20", "D-AMOX-250", "S-BLRT", "D-VITC-100"]),
            st.integers(1, 40),
            st.integers(1, 3000),
        ),
        min_size=1,
        max_size=6,
    ),
    level=st.integers(0, 3),
    scheme=st.sampled_from(["resident", "employee"]),
    dual=st.booleans(),
    deductible=st.integers(0, 20_000),
    paid=st.integers(0, 200_000),
)
@settings(max_examples=150, deadline=None)
def test_two_disease_drug_splits_keep_every_identity(
    specs: list[tuple[str, int, int]], level: int, scheme: str, dual: bool, deductible: int, paid: int
) -> None:
    params = _with_override(deductible_l1=f"{deductible // 100}.{deductible % 100:02d}")
    bill_lines = tuple(
        replace(line(code, qty, f"{price // 100}.{price % 100:02d}"), line_no=i)
        for i, (code, qty, price) in enumerate(specs, start=1)
    )
    visit = "pharmacy" if dual else "chronic_outpatient"
    bill = replace(policy_range_bill(visit, level, "1.00"), lines=bill_lines, chronic_disease="DM", prescribed=dual)
    split = calculate(bill, _recognised("DM", f"{paid // 100}.{paid % 100:02d}", scheme), params)
    check_identities(split)
    limit = params.chronic.diseases["DM"].terms[scheme].annual_limit
    assert limit is not None and split.chronic_disease_paid <= max(0, limit - paid)
    assert split.chronic_disease_paid == split.totals.basic_fund


def test_a_policy_naming_employees_gives_them_the_drug_ratio_too() -> None:
    doc = _doc()
    doc["chronic_diseases"][0]["drug_ratio_override"]["ratio_by_scheme"]["employee"] = "0.90"
    params = PolicyParams.parse(doc)
    bill = replace(
        policy_range_bill("chronic_outpatient", 0, "20.00"),
        chronic_disease="HTN",
    )
    bill = replace(bill, lines=(*bill.lines, replace(line("D-AMLO-5", 2, "15.00"), line_no=2)))
    split = calculate(bill, _recognised("HTN", scheme="employee"), params)
    # 20.00 × 0.85 (employee chronic, level 0) + 30.00 × 0.90 (the employees' drug ratio) = 17.00 + 27.00
    assert split.totals.basic_fund == fen("44.00")
    check_identities(split)
