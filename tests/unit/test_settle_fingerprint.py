"""The request fingerprint stored with an Idempotency-Key must not change between versions:
a HIS retry across a deploy would otherwise be refused as IDEMPOTENCY_CONFLICT."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import date
from decimal import Decimal

from yibao.bill_settlement.commands import LineCommand, SettleBill
from yibao.money import Fen


def _reference(cmd: SettleBill) -> str:
    """The original definition (``asdict``), kept here as the specification."""
    return hashlib.sha256(json.dumps(asdict(cmd), sort_keys=True, default=str).encode()).hexdigest()


def test_fingerprint_is_that_of_asdict() -> None:
    lines = (
        LineCommand(1, "XA01", Decimal("7"), Fen(1234), date(2026, 3, 8), 7, ("8" * 20, "9" * 20)),
        LineCommand(2, "F001", Decimal("1.5E+1"), Fen(5), date(2026, 3, 9)),
    )
    for cmd in (
        SettleBill("430522199001011234", "V1", "outpatient", date(2026, 3, 8), lines),
        SettleBill(
            "430522199001011234", "V2", "inpatient", date(2026, 3, 9), lines, date(2026, 3, 1), date(2026, 3, 9),
            ("I10",), ("P1",), True, True, "430522196001011234",
        ),
    ):
        assert cmd.fingerprint() == _reference(cmd)
