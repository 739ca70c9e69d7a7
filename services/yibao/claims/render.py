"""The wire form of a claim (money as "0.00" strings) and of its steps."""

from __future__ import annotations

from datetime import date
from typing import Any

from yibao.claims.orm import ReimbursementClaimRow, ReimbursementStepRow
from yibao.money import to_wire

OPEN = ("received", "in_review")


def _overdue(claim: ReimbursementClaimRow, today: date) -> bool:
    return claim.status in OPEN and claim.due_date < today


def summary(claim: ReimbursementClaimRow, today: date) -> dict[str, Any]:
    return {
        "id": str(claim.id),
        "claim_no": claim.claim_no,
        "id_number": claim.id_number,
        "kind": claim.kind,
        "status": claim.status,
        "service_date": claim.service_date.isoformat(),
        "fund_estimate": to_wire(claim.fund_estimate),
        "approvals_needed": claim.approvals_needed,
        "approvals": claim.approvals,
        "received_on": claim.received_on.isoformat(),
        "due_date": claim.due_date.isoformat(),
        "overdue": _overdue(claim, today),
        "settlement_id": str(claim.settlement_id) if claim.settlement_id else None,
    }


def step(s: ReimbursementStepRow) -> dict[str, Any]:
    return {
        "step": s.step,
        "actor": s.actor,
        "role": s.role,
        "reason": s.reason,
        "fund_estimate": to_wire(s.fund_estimate) if s.fund_estimate is not None else None,
        "at": s.at.isoformat(),
    }


def claim(row: ReimbursementClaimRow, steps: list[ReimbursementStepRow], today: date) -> dict[str, Any]:
    return {
        **summary(row, today),
        "care": {
            "institution_code": row.institution_code,
            "name": row.care_name,
            "region": row.care_region,
            "level": row.care_level,
        },
        "visit_type": row.visit_type,
        "admitted_on": row.admitted_on.isoformat() if row.admitted_on else None,
        "discharged_on": row.discharged_on.isoformat() if row.discharged_on else None,
        "diagnoses": list(row.diagnoses),
        "procedures": list(row.procedures),
        "invoice_numbers": list(row.invoice_numbers),
        "lines": [{**ln, "unit_price": to_wire(int(ln["unit_price"]))} for ln in row.lines],
        "channel": row.channel,
        "attachments": list(row.attachments),
        "payee": dict(row.payee),
        "reason": row.reason,
        "steps": [step(s) for s in steps],
    }
