"""Steps 6–7 (account, cash) and the funds-off cases: waiting period, third-party injury."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import (
    acc,
    bill,
    check_identities,
    fen,
    line,
    person,
    policy,
    policy_range_bill,
    rules,
)

from yibao.benefit import AccountState, Accrual, calculate


@pytest.mark.parametrize(
    ("balance", "account", "cash"),
    [
        ("100.00", "20.00", "0.00"),  # full
        ("20.00", "20.00", "0.00"),  # exactly
        ("5.00", "5.00", "15.00"),  # partial
        ("0.00", "0.00", "20.00"),  # empty
    ],
)
def test_own_account_pays_up_to_balance(balance: str, account: str, cash: str) -> None:
    patient = person("employee", account=AccountState(holder_is_patient=True, balance=fen(balance)))
    split = calculate(
        bill("pharmacy", 0, line("D-METF-500", 2, "8.00"), line("S-BLRT", 1, "4.00")),
        patient,
        policy(),
    )
    assert split.totals.total == fen("20.00")
    assert split.totals.personal_account == fen(account)
    assert split.totals.cash == fen(cash)
    (note,) = [e for e in split.explanation if e.part == "personal_account"]
    assert note.rule == "employee.personal_account"
    check_identities(split)


def test_no_account_means_cash() -> None:
    split = calculate(bill("pharmacy", 0, line("D-METF-500", 2, "8.00")), person("employee"), policy())
    assert split.totals.personal_account == 0
    assert split.totals.cash == fen("16.00")
    assert not [e for e in split.explanation if e.part == "personal_account"]


def test_account_pays_only_the_personal_part_after_funds() -> None:
    # employee inpatient L2, P 10000.00: basic 8460.00, personal 1540.00 → all from account
    patient = person("employee", account=AccountState(True, fen("5000.00")))
    split = calculate(policy_range_bill("inpatient", 2, "10000.00"), patient, policy())
    t = split.totals
    assert (t.basic_fund, t.personal_part) == (fen("8460.00"), fen("1540.00"))
    assert (t.personal_account, t.cash) == (fen("1540.00"), 0)
    assert split.accrual.personal_paid == fen("1540.00")


def test_family_sharing_account_pays_for_a_resident_relative() -> None:
    # resident L2, P 10000.00: basic 6650.00, personal 3350.00; relative's balance 1000.00
    patient = person(account=AccountState(holder_is_patient=False, balance=fen("1000.00")))
    split = calculate(policy_range_bill("inpatient", 2, "10000.00"), patient, policy())
    t = split.totals
    assert (t.personal_part, t.personal_account, t.cash) == (
        fen("3350.00"),
        fen("1000.00"),
        fen("2350.00"),
    )
    (note,) = [e for e in split.explanation if e.part == "personal_account"]
    assert note.rule == "employee.personal_account.family_sharing_relations"
    assert "family sharing" in note.detail
    check_identities(split)


def test_waiting_period_turns_every_fund_off() -> None:
    # resident min_living with a high year self-pay: still nothing from any fund
    patient = person(
        groups={"min_living"},
        coverage_start=date(2026, 7, 1),
        acc=acc(policy_range_self_pay="200000.00", inpatient_admissions=1),
        account=AccountState(holder_is_patient=False, balance=fen("500.00")),
    )
    split = calculate(policy_range_bill("inpatient", 2, "10000.00"), patient, policy())
    t = split.totals
    assert split.funds_off is True
    assert (t.deductible, t.basic_fund, t.critical_illness, t.medical_assistance) == (0, 0, 0, 0)
    assert t.personal_part == fen("10000.00")
    assert (t.personal_account, t.cash) == (fen("500.00"), fen("9500.00"))
    assert split.accrual == Accrual(inpatient_admissions=1, personal_paid=fen("10000.00"))
    assert split.admission_order == 2
    assert rules(split) == ["waiting_period"]
    notes = [e for e in split.explanation if e.part in ("deductible", "basic_fund")]
    assert len(notes) == 2
    assert all(e.rule == "resident.waiting" and "waiting" in e.detail for e in notes)
    check_identities(split)


def test_coverage_starting_on_the_service_day_is_covered() -> None:
    split = calculate(
        policy_range_bill("outpatient", 1, "100.00"),
        person(coverage_start=date(2026, 6, 15)),
        policy(),
    )
    assert split.funds_off is False
    assert split.totals.basic_fund == fen("50.00")


def test_third_party_injury_turns_every_fund_off() -> None:
    patient = person("employee", account=AccountState(True, fen("300.00")))
    split = calculate(policy_range_bill("inpatient", 2, "10000.00", third_party_liable=True), patient, policy())
    assert split.funds_off is True
    assert split.totals.fund_total == 0
    assert split.totals.deductible == 0
    assert (split.totals.personal_account, split.totals.cash) == (fen("300.00"), fen("9700.00"))
    assert rules(split) == ["third_party_injury"]
    assert split.accrual == Accrual(inpatient_admissions=1, personal_paid=fen("10000.00"))
    check_identities(split)


def test_both_funds_off_reasons_are_reported() -> None:
    split = calculate(
        policy_range_bill("outpatient", 1, "100.00", third_party_liable=True),
        person(coverage_start=date(2026, 9, 1)),
        policy(),
    )
    assert rules(split) == ["waiting_period", "third_party_injury"]
    assert split.accrual == Accrual(personal_paid=fen("100.00"))
    assert split.admission_order is None


def test_line_warnings_still_reported_when_funds_off() -> None:
    split = calculate(
        bill("inpatient", 2, line("S-BED-2", 11, "40.00"), third_party_liable=True),
        person(),
        policy(),
    )
    assert rules(split) == ["units_per_day", "third_party_injury"]
