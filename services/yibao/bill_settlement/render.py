"""The contract's JSON body of a settlement, from a fresh split or from stored rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from yibao.benefit.inputs import BenefitSplit, Totals
from yibao.bill_settlement.orm import SettlementLineRow, SettlementRow
from yibao.money import to_wire
from yibao.people.id_number import mask

TOTAL_FIELDS = tuple(f.name for f in fields(Totals))
LINE_MONEY = ("amount", "full_self_pay", "over_cap_self_pay", "pre_self_pay", "policy_range")


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts else None


def body(
    *,
    settlement_id: str,
    status: str,
    policy_version: str,
    institution_code: str,
    id_number: str,
    visit_no: str,
    visit_type: str,
    service_date: str,
    settled_at: datetime | None,
    cancelled_at: datetime | None,
    admission_order: int | None,
    chronic: dict[str, str | None] | None,
    totals: dict[str, int],
    lines: Iterable[Mapping[str, Any]],
    warnings: Sequence[dict[str, str]],
    explanation: Sequence[dict[str, str]],
) -> dict[str, Any]:
    return {
        "settlement_id": settlement_id,
        "status": status,
        "policy_version": policy_version,
        "institution_code": institution_code,
        "id_number": mask(id_number),
        "visit_no": visit_no,
        "visit_type": visit_type,
        "service_date": service_date,
        "admission_order": admission_order,
        "settled_at": _iso(settled_at),
        "cancelled_at": _iso(cancelled_at),
        "chronic_disease": chronic,
        "totals": {k: to_wire(totals[k]) for k in TOTAL_FIELDS},
        "lines": [
            {
                "line_no": ln["line_no"],
                "item_code": ln["item_code"],
                **{k: to_wire(ln[k]) for k in LINE_MONEY},
                "reasons": list(ln["reasons"]),
            }
            for ln in lines
        ],
        "warnings": list(warnings),
        "explanation": list(explanation),
    }


def chronic(code: str | None, name: str | None, recognition_id: object | None) -> dict[str, str | None] | None:
    """The recognised disease a bill was paid under (chronic or 双通道 pharmacy bill), or ``None``."""
    if code is None:
        return None
    return {"code": code, "name": name, "recognition_id": str(recognition_id) if recognition_id else None}


def split_totals(split: BenefitSplit) -> dict[str, int]:
    return {k: int(getattr(split.totals, k)) for k in TOTAL_FIELDS}


def split_lines(split: BenefitSplit, item_codes: dict[int, str]) -> list[dict[str, Any]]:
    return [
        {
            "line_no": ln.line_no,
            "item_code": item_codes[ln.line_no],
            **{k: int(getattr(ln, k)) for k in LINE_MONEY},
            "reasons": ln.reasons,
        }
        for ln in split.lines
    ]


def from_rows(row: SettlementRow, lines: Sequence[SettlementLineRow]) -> dict[str, Any]:
    return body(
        settlement_id=str(row.id),
        status=row.status,
        policy_version=row.policy_version,
        institution_code=row.institution_code,
        id_number=row.id_number,
        visit_no=row.visit_no,
        visit_type=row.visit_type,
        service_date=row.service_date.isoformat(),
        settled_at=row.settled_at,
        cancelled_at=row.cancelled_at,
        admission_order=row.admission_order,
        chronic=chronic(row.chronic_disease, row.chronic_disease_name, row.chronic_recognition_id),
        totals={k: getattr(row, k) for k in TOTAL_FIELDS},
        lines=[
            {
                "line_no": ln.line_no,
                "item_code": ln.item_code,
                **{k: getattr(ln, k) for k in LINE_MONEY},
                "reasons": ln.reasons,
            }
            for ln in sorted(lines, key=lambda x: x.line_no)
        ],
        warnings=row.warnings,
        explanation=row.explanation,
    )


def from_record(row: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The same body from a settlement read as a mapping (a statement's row, JSON columns
    decoded) and its lines in line order."""
    return body(
        settlement_id=str(row["id"]),
        status=row["status"],
        policy_version=row["policy_version"],
        institution_code=row["institution_code"],
        id_number=row["id_number"],
        visit_no=row["visit_no"],
        visit_type=row["visit_type"],
        service_date=row["service_date"].isoformat(),
        settled_at=row["settled_at"],
        cancelled_at=row["cancelled_at"],
        admission_order=row["admission_order"],
        chronic=chronic(row["chronic_disease"], row["chronic_disease_name"], row["chronic_recognition_id"]),
        totals={k: row[k] for k in TOTAL_FIELDS},
        lines=lines,
        warnings=row["warnings"],
        explanation=row["explanation"],
    )
