"""Pure contribution rules: credit codes, the parts to the fen, the canonical hash, employee coverage."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.employers import credit_code
from yibao.employers.rules import LineIn, parse_month, parts, request_hash
from yibao.enrolment.coverage import EMPLOYEE_CONTRIBUTION, EMPLOYEE_WAITING, employee_coverage
from yibao.errors import InvalidRequest
from yibao.money import Fen
from yibao.policy.params import ContributionParams

DEFAULT = ContributionParams()


def test_standard_example_code_validates_and_a_wrong_check_character_does_not() -> None:
    assert credit_code.parse("91350100m000100y43") == "91350100M000100Y43"
    with pytest.raises(InvalidRequest):
        credit_code.parse("91350100M000100Y44")
    with pytest.raises(InvalidRequest):
        credit_code.parse("91350100M000100YI3")  # I is not in the charset


def test_worked_example_5000() -> None:
    p = parts(Fen(500_000), DEFAULT)
    assert (p.employer_part, p.employee_part, p.account_credit) == (40_000, 10_000, 10_000)


def test_half_up_and_employer_share_rounded_once() -> None:
    # 0.25 fen → 0, 0.5 fen → 1 (half up), on a base of 6.25 fen × 0.08 = 0.5
    assert parts(Fen(625), DEFAULT).employer_part == 50
    params = ContributionParams(account_share_of_employee=Decimal("0.5"), account_share_of_employer=Decimal("0.25"))
    p = parts(Fen(333_333), params)  # employee 6667, employer 26667 → 3333.5 + 6666.75 = 10000.25 → 10000
    assert p.account_credit == 10_000


@given(st.lists(st.tuples(st.integers(0, 10**9), st.booleans()), min_size=1, max_size=8, unique_by=lambda t: t[0]))
def test_hash_ignores_line_order(rows: list[tuple[int, bool]]) -> None:
    lines = [LineIn(f"{i:018d}", Fen(i), r) for i, r in rows]
    month = date(2026, 3, 1)
    assert request_hash(month, lines) == request_hash(month, list(reversed(lines)))
    assert request_hash(month, lines) != request_hash(date(2026, 4, 1), lines)


#: A posting of three lines, listed out of order: a retiree (base 0), an ID with a check character X,
#: and a base with fen (3,333.33). The canonical form is the month and the lines sorted by ID number.
GOLDEN_LINES = (
    LineIn("430522199912310033", Fen(333_333)),
    LineIn("43052219800517001X", Fen(500_000)),
    LineIn("430522196001010028", Fen(0), retiree=True),
)
GOLDEN_CANONICAL = (
    '["2026-03",[["430522196001010028",0,true],["43052219800517001X",500000,false],'
    '["430522199912310033",333333,false]]]'
)
#: written down once: every stored posting's request_hash was computed this way. A change here makes
#: every employer's retry of an already-posted month a 409 IDEMPOTENCY_CONFLICT after the deploy.
GOLDEN_DIGEST = "7551e4d21f2d925d4523ce3070d04fde4e17d8f8192ff63c99c64e488e6f689a"


def test_request_hash_is_the_golden_digest() -> None:
    assert request_hash(date(2026, 3, 1), GOLDEN_LINES) == GOLDEN_DIGEST


def test_golden_digest_is_the_sha256_of_the_canonical_form() -> None:
    assert hashlib.sha256(GOLDEN_CANONICAL.encode()).hexdigest() == GOLDEN_DIGEST


def test_employee_coverage_honours_waiting_for_new_contributors_only() -> None:
    m = date(2026, 3, 1)
    assert employee_coverage(month=m, waiting_months=0, run_start=m).reason == EMPLOYEE_CONTRIBUTION
    new = employee_coverage(month=m, waiting_months=2, run_start=m)
    assert (new.start, new.reason, new.waiting_months) == (date(2026, 5, 1), EMPLOYEE_WAITING, 2)
    # the second month of a new run still waits until May; a run from last year does not wait
    assert employee_coverage(month=date(2026, 4, 1), waiting_months=2, run_start=m).start == date(2026, 5, 1)
    assert employee_coverage(month=date(2026, 1, 1), waiting_months=2, run_start=date(2025, 6, 1)).start == date(
        2026, 1, 1
    )


def test_parse_month() -> None:
    assert parse_month("2026-03") == date(2026, 3, 1)
    with pytest.raises(ValueError):
        parse_month("2026-3")
