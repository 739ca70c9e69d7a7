"""The request fingerprint stored with an Idempotency-Key must not change between versions:
a HIS retry across a deploy would otherwise be refused as IDEMPOTENCY_CONFLICT.

The digests below are golden values, written down once. A new field on ``SettleBill`` or
``LineCommand`` changes them: such a change must keep the old canonical form for requests
that do not use the field (e.g. leave a field at its default out of the hash), not re-pin."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from datetime import date
from decimal import Decimal

import pytest

from yibao.bill_settlement.commands import LineCommand, SettleBill
from yibao.money import Fen

LINES = (
    LineCommand(1, "XA01", Decimal("7"), Fen(1234), date(2026, 3, 8), 7, ("8" * 20, "9" * 20)),
    LineCommand(2, "F001", Decimal("1.5E+1"), Fen(5), date(2026, 3, 9)),
)
OUTPATIENT = SettleBill("430522199001011234", "V1", "outpatient", date(2026, 3, 8), LINES)
INPATIENT = SettleBill(
    "430522199001011234", "V2", "inpatient", date(2026, 3, 9), LINES, date(2026, 3, 1), date(2026, 3, 9),
    ("I10",), ("P1",), True, True, "430522196001011234",
)  # fmt: skip

#: the canonical JSON of OUTPATIENT, as stored fingerprints were computed since the first release
OUTPATIENT_CANONICAL = (
    '{"account_payer_id_number": null, "admitted_on": null, "diagnoses": [], "discharged_on": null, '
    '"id_number": "430522199001011234", "lines": [{"days_supply": 7, "item_code": "XA01", "line_no": 1, '
    '"quantity": "7", "service_date": "2026-03-08", "trace_codes": ["88888888888888888888", '
    '"99999999999999999999"], "unit_price": 1234}, {"days_supply": null, "item_code": "F001", "line_no": 2, '
    '"quantity": "15", "service_date": "2026-03-09", "trace_codes": [], "unit_price": 5}], '
    '"procedures": [], "service_date": "2026-03-08", "third_party_liable": false, '
    '"use_personal_account": false, "visit_no": "V1", "visit_type": "outpatient"}'
)


@pytest.mark.parametrize(
    ("cmd", "golden"),
    [
        (OUTPATIENT, "9e2f52827f12997270c60dfc59f2c3590473295ea3c0fc9898c7e4f3ccd8d2de"),
        (INPATIENT, "2e88732eb15abfc8e5a941714acce58a0a8d635ffcb813f08290b41326919e64"),
    ],
)
def test_fingerprint_is_the_golden_digest(cmd: SettleBill, golden: str) -> None:
    assert cmd.fingerprint() == golden


def test_the_golden_digest_is_the_sha256_of_the_canonical_json() -> None:
    assert hashlib.sha256(OUTPATIENT_CANONICAL.encode()).hexdigest() == OUTPATIENT.fingerprint()


#: fields added since the first release, left out of the hash while at their default
_LATER_FIELDS = {"chronic_disease": None, "prescription_id": None, "delivery_type": None, "babies": None}


def test_fingerprint_is_that_of_asdict() -> None:
    """The original definition (``asdict``, without later fields at their default), which the
    faster code must keep matching."""
    for cmd in (OUTPATIENT, INPATIENT, replace(OUTPATIENT, visit_type="chronic_outpatient", chronic_disease="HTN")):
        plain = asdict(cmd)
        for name, default in _LATER_FIELDS.items():
            if plain[name] == default:
                del plain[name]
        reference = hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()
        assert cmd.fingerprint() == reference


def test_the_chronic_disease_is_part_of_the_request() -> None:
    chronic = replace(OUTPATIENT, visit_type="chronic_outpatient")
    assert replace(chronic, chronic_disease="HTN").fingerprint() != replace(chronic, chronic_disease="DM").fingerprint()
    assert replace(chronic, chronic_disease="HTN").fingerprint() != chronic.fingerprint()
