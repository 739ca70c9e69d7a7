"""月核算: compare an institution's own month (totals per scheme + detail list) with the fund's.

The fund's side is every bill of the institution settled in the month (China time) and not
cancelled by the month's end. The answer lists every bill missing on either side and every
amount that differs; an identical resubmission returns the stored answer (same ``digest``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.bill_settlement.orm import BILLED_BY_INSTITUTION_SQL
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidRequest, NotFound
from yibao.ledger.postings import day_bounds
from yibao.money import to_wire, yuan_to_fen
from yibao.reconcile.orm import ReconcileSubmissionRow

AMOUNTS = ("total", "fund_pay", "account_pay")


@dataclass(frozen=True)
class Detail:
    settlement_id: str
    scheme: str
    total: int
    fund_pay: int
    account_pay: int


@dataclass(frozen=True)
class SchemeTotal:
    scheme: str
    count: int
    total: int
    fund_pay: int
    account_pay: int


SCHEMES = ("resident", "employee")
#: the months a submission may name: the policy years (2000 … 2100)
FIRST_YEAR, LAST_YEAR = 2000, 2100
#: an amount below one trillion yuan (10^14 fen), the JSON upload's bound (``MoneyIn``)
MAX_AMOUNT_FEN = 10**14 - 1
#: rows of a detail list (the JSON upload's bound)
MAX_DETAILS = 200_000
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def month_bounds(month: str) -> tuple[Any, Any]:
    """The month's first instant and the next month's (China time); ``YYYY-MM`` of a policy year."""
    found = _MONTH.fullmatch(month) if month.isascii() else None
    y, m = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    if not (FIRST_YEAR <= y <= LAST_YEAR and 1 <= m <= 12):
        raise InvalidRequest(
            f"月份格式应为 YYYY-MM（{FIRST_YEAR}–{LAST_YEAR}年） month must be YYYY-MM from "
            f"{FIRST_YEAR}-01 to {LAST_YEAR}-12, got {month[:20]!r}"
        )
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return day_bounds(date(y, m, 1))[0], day_bounds(nxt)[0]


def _amount(text: str, row: int, column: str) -> int:
    try:
        value = int(yuan_to_fen(text.strip()))
    except ArithmeticError:  # decimal.Overflow: "1e999999"
        raise ValueError(f"row {row}: {column} is not an amount") from None
    if not 0 <= value <= MAX_AMOUNT_FEN:
        raise ValueError(f"row {row}: {column} must be from 0.00 to {to_wire(MAX_AMOUNT_FEN)}")
    return value


def _detail(r: dict[str, str], row: int) -> Detail:
    settlement_id, scheme = r["settlement_id"].strip(), r["scheme"].strip()
    if not 0 < len(settlement_id) <= 40:
        raise ValueError(f"row {row}: settlement_id must be 1 to 40 characters")
    if scheme not in SCHEMES:
        raise ValueError(f"row {row}: scheme must be one of {', '.join(SCHEMES)}")
    return Detail(settlement_id, scheme, *(_amount(r[a], row, a) for a in AMOUNTS))


def parse_csv(raw: bytes) -> list[Detail]:
    """CSV with header settlement_id,scheme,total,fund_pay,account_pay (amounts in yuan), held to
    the JSON upload's bounds: a known scheme, amounts from 0.00 below a trillion yuan, at most
    200,000 rows."""
    try:
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
        out: list[Detail] = []
        for row, r in enumerate(reader, start=2):  # row 1 is the header
            if len(out) >= MAX_DETAILS:
                raise ValueError(f"more than {MAX_DETAILS} rows")
            out.append(_detail(r, row))
        return out
    except (KeyError, ValueError, UnicodeDecodeError, AttributeError, csv.Error) as exc:
        raise InvalidRequest(f"明细 CSV 格式错误 detail CSV malformed: {exc}") from None


async def _fund_side(session: AsyncSession, institution_code: str, month: str) -> dict[str, Detail]:
    start, end = month_bounds(month)
    rows = await session.execute(
        text(
            f"""
            SELECT id::text, scheme, total, fund_total, personal_account FROM settlements
            WHERE institution_code = :inst AND settled_at >= :start AND settled_at < :end
              AND (cancelled_at IS NULL OR cancelled_at >= :end)
              AND {BILLED_BY_INSTITUTION_SQL}
            """
        ),
        {"inst": institution_code, "start": start, "end": end},
    )
    return {r[0]: Detail(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows}


def compare(ours: dict[str, Detail], totals: list[SchemeTotal], details: list[Detail]) -> dict[str, Any]:
    theirs = {d.settlement_id: d for d in details}
    missing_at_institution = sorted(set(ours) - set(theirs))
    missing_at_fund = sorted(set(theirs) - set(ours))
    differences = []
    for sid in sorted(set(ours) & set(theirs)):
        for field in ("scheme", *AMOUNTS):
            a, b = getattr(ours[sid], field), getattr(theirs[sid], field)
            if a != b:
                differences.append(
                    {
                        "settlement_id": sid,
                        "field": field,
                        "fund": a if field == "scheme" else to_wire(a),
                        "institution": b if field == "scheme" else to_wire(b),
                    }
                )
    sums: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, **dict.fromkeys(AMOUNTS, 0)})
    for d in ours.values():
        sums[d.scheme]["count"] += 1
        for a in AMOUNTS:
            sums[d.scheme][a] += getattr(d, a)
    total_diffs = []
    submitted = {t.scheme: t for t in totals}
    for scheme in sorted(set(sums) | set(submitted)):
        mine = sums.get(scheme, {"count": 0, **dict.fromkeys(AMOUNTS, 0)})
        t = submitted.get(scheme)
        for field in ("count", *AMOUNTS):
            b = getattr(t, field) if t else 0
            if mine[field] != b:
                a = mine[field]
                total_diffs.append(
                    {
                        "scheme": scheme,
                        "field": field,
                        "fund": a if field == "count" else to_wire(a),
                        "institution": b if field == "count" else to_wire(b),
                    }
                )
    balanced = not (missing_at_institution or missing_at_fund or differences or total_diffs)
    return {
        "status": "balanced" if balanced else "unbalanced",
        "missing_at_institution": missing_at_institution,
        "missing_at_fund": missing_at_fund,
        "differences": differences,
        "total_differences": total_diffs,
        "fund_totals": {
            s: {"count": v["count"], **{a: to_wire(v[a]) for a in AMOUNTS}} for s, v in sorted(sums.items())
        },
    }


def digest(month: str, totals: list[SchemeTotal], details: list[Detail]) -> str:
    canonical = orjson.dumps(
        [
            month,
            sorted((t.scheme, t.count, t.total, t.fund_pay, t.account_pay) for t in totals),
            sorted((d.settlement_id, d.scheme, d.total, d.fund_pay, d.account_pay) for d in details),
        ]
    )
    return hashlib.sha256(canonical).hexdigest()


async def submit(
    uow: UnitOfWork,
    actor: audit.Actor,
    institution_code: str,
    month: str,
    totals: list[SchemeTotal],
    details: list[Detail],
) -> ReconcileSubmissionRow:
    """Store and answer a submission (audited, committed); the same content again returns the
    first answer and writes nothing."""
    month_bounds(month)
    session = uow.session
    dg = digest(month, totals, details)
    found = await _stored(session, institution_code, month, dg)
    if found is not None:
        return found
    result = compare(await _fund_side(session, institution_code, month), totals, details)
    created = await session.scalar(
        insert(ReconcileSubmissionRow)
        .values(
            institution_code=institution_code,
            month=month,
            digest=dg,
            status=result["status"],
            rows=len(details),
            result=result,
        )
        .on_conflict_do_nothing(constraint="uq_reconcile_submissions_digest")
        .returning(ReconcileSubmissionRow.id)
    )
    row = await _stored(session, institution_code, month, dg)
    assert row is not None
    if created is not None:
        await audit.record(
            session,
            actor,
            "reconcile.submitted",
            ("reconcile_submission", str(row.id)),
            {"institution_code": institution_code, "month": month, "status": row.status, "rows": row.rows},
        )
    await uow.commit()
    return row


async def _stored(session: AsyncSession, institution_code: str, month: str, dg: str) -> ReconcileSubmissionRow | None:
    return await session.scalar(
        select(ReconcileSubmissionRow).where(
            ReconcileSubmissionRow.institution_code == institution_code,
            ReconcileSubmissionRow.month == month,
            ReconcileSubmissionRow.digest == dg,
        )
    )


async def find(session: AsyncSession, submission_id: int) -> ReconcileSubmissionRow | None:
    return await session.get(ReconcileSubmissionRow, submission_id)


async def get(session: AsyncSession, submission_id: int, institution_code: str | None = None) -> ReconcileSubmissionRow:
    """One submission; an institution reaches only its own (others are ``NOT_FOUND``)."""
    row = await find(session, submission_id)
    if row is None or (institution_code is not None and row.institution_code != institution_code):
        raise NotFound(f"核算提交 {submission_id} 不存在 submission not found")
    return row


def render(row: ReconcileSubmissionRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "institution_code": row.institution_code,
        "month": row.month,
        "rows": row.rows,
        "submitted_at": row.submitted_at.isoformat() if row.submitted_at else None,
        **row.result,
    }
