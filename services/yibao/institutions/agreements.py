"""Agreement state of an institution: may it settle bills today?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from yibao.errors import InstitutionNotActive


@dataclass(frozen=True)
class Institution:
    code: str
    name: str
    type: str
    level: int
    region: str
    agreement: str  # active / suspended / terminated
    suspended_until: date | None
    credit_grade: str
    annual_budget: int
    dip_coefficient: Decimal | None


def is_active(inst: Institution, on: date) -> bool:
    """Suspended institutions come back by themselves the day after ``suspended_until``."""
    if inst.agreement == "active":
        return True
    if inst.agreement == "suspended" and inst.suspended_until is not None:
        return on > inst.suspended_until
    return False


def ensure_active(inst: Institution, on: date) -> None:
    if not is_active(inst, on):
        until = f" until {inst.suspended_until}" if inst.suspended_until else ""
        raise InstitutionNotActive(
            f"定点机构协议状态 {inst.agreement}{until}: {inst.code} may not settle bills",
            institution_code=inst.code,
        )
