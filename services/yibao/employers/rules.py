"""Contribution arithmetic and the posting's canonical form: pure, no I/O.

Why pure: an employer-month is posted once and its figures are the basis of every account
credit that follows; the same lines and the same policy must always give the same fen, and
the request hash must not depend on the order an employer's payroll system lists people in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import orjson

from yibao.money import Fen, round_fen, share
from yibao.policy.params import ContributionParams


@dataclass(frozen=True)
class LineIn:
    """One employee in a posting request (``id_number`` already normalised)."""

    id_number: str
    base: Fen
    retiree: bool = False


@dataclass(frozen=True)
class Parts:
    employer_part: Fen
    employee_part: Fen
    account_credit: Fen


def parts(base: Fen, params: ContributionParams) -> Parts:
    """Employer and employee parts (each rounded half-up to the fen) and the account credit.

    The credit is rounded once over the sum of both shares, so a policy that routes a share of
    the employer part to the account does not round twice.
    """
    employer = share(base, params.employer_rate)
    employee = share(base, params.employee_rate)
    credit = round_fen(
        Decimal(employee) * params.account_share_of_employee + Decimal(employer) * params.account_share_of_employer
    )
    return Parts(employer, employee, credit)


def request_hash(month: date, lines: Sequence[LineIn]) -> str:
    """SHA-256 over the month and the lines sorted by ID number (order does not matter)."""
    canonical = [month.strftime("%Y-%m"), sorted([ln.id_number, int(ln.base), ln.retiree] for ln in lines)]
    return hashlib.sha256(orjson.dumps(canonical)).hexdigest()


def month_label(month: date) -> str:
    return month.strftime("%Y-%m")


def parse_month(text: str) -> date:
    """``"2026-03"`` → 2026-03-01; ``ValueError`` otherwise."""
    year, _, mm = text.partition("-")
    if len(year) != 4 or len(mm) != 2 or not (year.isdigit() and mm.isdigit()):
        raise ValueError(f"month must be YYYY-MM: {text!r}")
    return date(int(year), int(mm), 1)
