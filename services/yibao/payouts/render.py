"""Orders and lines as the API's JSON (money as yuan strings)."""

from __future__ import annotations

from typing import Any

from yibao.money import to_wire
from yibao.payouts.orm import DisbursementLineRow, DisbursementOrderRow, PrepaymentRow


def order(row: DisbursementOrderRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "settle_date": row.settle_date.isoformat(),
        "state": row.state,
        "total": to_wire(row.total),
        "line_count": row.line_count,
        "prepared_by": row.prepared_by,
        "approved_by": row.approved_by,
        "paid_by": row.paid_by,
        "paid_at": row.paid_at.isoformat() if row.paid_at else None,
        "bank_file_sha256": row.bank_file_sha256,
    }


def line(row: DisbursementLineRow) -> dict[str, Any]:
    return {
        "institution_code": row.institution_code,
        "fund": row.fund,
        "settled": to_wire(row.settled),
        "cancelled": to_wire(row.cancelled),
        "adjusted": to_wire(row.adjusted),
        "deducted": to_wire(row.deducted),
        "net": to_wire(row.net),
    }


def prepayment(row: PrepaymentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "institution_code": row.institution_code,
        "year": row.year,
        "amount": to_wire(row.amount),
        "state": row.state,
        "reason": row.reason,
        "requested_by": row.requested_by,
        "approved_by": row.approved_by,
    }
