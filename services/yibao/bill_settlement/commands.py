"""What an HIS or POS asks for: settle (or preview) one bill."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal

from yibao.money import Fen


@dataclass(frozen=True)
class LineCommand:
    line_no: int
    item_code: str
    quantity: Decimal
    unit_price: Fen
    service_date: date
    days_supply: int | None = None
    trace_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SettleBill:
    id_number: str
    visit_no: str
    visit_type: str
    service_date: date
    lines: tuple[LineCommand, ...]
    admitted_on: date | None = None
    discharged_on: date | None = None
    diagnoses: tuple[str, ...] = ()
    procedures: tuple[str, ...] = ()
    third_party_liable: bool = False
    use_personal_account: bool = False
    account_payer_id_number: str | None = None

    def fingerprint(self) -> str:
        """Stable hash of the request, to tell a retry from a different bill under the same key.

        The JSON is exactly that of ``dataclasses.asdict(self)`` (so keys stored before still
        match), built without ``asdict``'s deep copy of every value, which cost more CPU than
        the rest of claiming the key."""
        plain = {f: getattr(self, f) for f in _BILL_FIELDS}
        plain["lines"] = [{f: getattr(ln, f) for f in _LINE_FIELDS} for ln in self.lines]
        return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()


_BILL_FIELDS = tuple(f.name for f in fields(SettleBill))
_LINE_FIELDS = tuple(f.name for f in fields(LineCommand))
