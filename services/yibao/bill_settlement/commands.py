"""What an HIS or POS asks for: settle (or preview) one bill."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal

from yibao.money import Fen, to_wire

#: Bounds the domain justifies, so every amount a bill can produce fits a 64-bit fen with room
#: (accumulators add a person's bills over a year; 9.2 × 10^18 fen ÷ MAX_BILL_TOTAL_FEN leaves
#: room for ~10^9 such bills). The schema refuses beyond them (400) before anything is computed,
#: and ``service._validate`` again for any other caller, so preview and settle always agree.
#: more units than any fee line holds (tablets, millilitres, hours of oxygen, bed days)
MAX_QUANTITY = Decimal(1_000_000)
#: 10,000,000.00 yuan: above the dearest single item (a CAR-T infusion is ~1.2 million)
MAX_UNIT_PRICE_FEN = Fen(1_000_000_000)
#: 100,000,000.00 yuan: a line amount (qty × unit price) or a whole bill above this is a typo
MAX_BILL_TOTAL_FEN = Fen(10_000_000_000)


def bounds_problem(lines: Sequence[tuple[int, Decimal, int]]) -> str | None:
    """Why a bill's (line_no, quantity, unit price in fen) are beyond the bounds, or ``None``."""
    total = Decimal(0)
    for line_no, quantity, unit_price in lines:
        if not 0 < quantity <= MAX_QUANTITY:
            return f"第{line_no}行数量超出范围 line {line_no}: quantity must be more than 0 and at most {MAX_QUANTITY}"
        if not 0 < unit_price <= MAX_UNIT_PRICE_FEN:
            return (
                f"第{line_no}行单价超出范围 line {line_no}: unit_price must be more than 0.00 "
                f"and at most {to_wire(MAX_UNIT_PRICE_FEN)}"
            )
        amount = quantity * unit_price
        if amount > MAX_BILL_TOTAL_FEN:
            above = to_wire(MAX_BILL_TOTAL_FEN)
            return f"第{line_no}行金额超出上限 line {line_no}: quantity × unit_price is above {above}"
        total += amount
    if total > MAX_BILL_TOTAL_FEN:
        return f"单据总额超出上限 the bill's lines add up to more than {to_wire(MAX_BILL_TOTAL_FEN)}"
    return None


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
    chronic_disease: str | None = None  # chronic_outpatient: the recognised disease's policy code
    prescription_id: str | None = None  # pharmacy: the e-prescription dispensed
    delivery_type: str | None = None  # maternity_inpatient: vaginal / caesarean
    babies: int | None = None  # maternity_inpatient: babies delivered (default 1)

    def fingerprint(self) -> str:
        """Stable hash of the request, to tell a retry from a different bill under the same key.

        The JSON is exactly that of ``dataclasses.asdict(self)`` (so keys stored before still
        match), built without ``asdict``'s deep copy of every value, which cost more CPU than
        the rest of claiming the key."""
        plain = {f: getattr(self, f) for f in _BILL_FIELDS}
        # absent as before they existed: old keys match
        for later in ("chronic_disease", "prescription_id", "delivery_type", "babies"):
            if plain[later] is None:
                del plain[later]
        plain["lines"] = [{f: getattr(ln, f) for f in _LINE_FIELDS} for ln in self.lines]
        return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()


_BILL_FIELDS = tuple(f.name for f in fields(SettleBill))
_LINE_FIELDS = tuple(f.name for f in fields(LineCommand))
