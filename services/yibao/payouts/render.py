"""Orders and lines as the API's JSON (money as yuan strings): staff see the county's order,
an institution its own share of it (``order_for_institution``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from yibao.clock import CHINA
from yibao.money import to_wire
from yibao.payouts.orm import DisbursementLineRow, DisbursementOrderRow, PrepaymentRow


def _china(at: datetime | None) -> str | None:
    """China time whichever way the row was read (just written, or from the database in UTC),
    so a retry answers byte for byte what the first call did."""
    return at.astimezone(CHINA).isoformat() if at else None


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
        "paid_at": _china(row.paid_at),
        "bank_file_sha256": row.bank_file_sha256,
    }


def order_for_institution(row: DisbursementOrderRow, institution_code: str, total: int, lines: int) -> dict[str, Any]:
    """The order as one institution sees it: its own sum and line count, no staff names, no
    county total (nor the bank file's hash, a digest of every institution's rows)."""
    return {
        "id": row.id,
        "settle_date": row.settle_date.isoformat(),
        "state": row.state,
        "paid_at": _china(row.paid_at),
        "institution_code": institution_code,
        "total": to_wire(total),
        "line_count": lines,
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
        "kind": row.kind,
        "state": row.state,
        "reason": row.reason,
        "requested_by": row.requested_by,
        "approved_by": row.approved_by,
    }
