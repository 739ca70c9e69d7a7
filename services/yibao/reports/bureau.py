"""The bureau's monthly figures (issue #19.5), from the settled bills of a month (by service date;
cancelled bills left out):

  per scheme and institution level   settlements (人次), amounts by tier (basic, critical illness,
                                     assistance) and in total, inpatient cases and their average
                                     cost, and the share of bills settled with the member QR code
  per institution                    the traceability-code upload rate: lines of items that need a
                                     code (``catalogue_items.trace_required``) which carried one

One grouped statement per table; JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.errors import InvalidRequest
from yibao.money import to_wire

_BY_SCHEME_LEVEL = text(
    """
    SELECT s.scheme, i.level, count(*) AS settlements,
           SUM(s.total)::bigint AS total, SUM(s.basic_fund)::bigint AS basic_fund,
           SUM(s.critical_illness)::bigint AS critical_illness,
           SUM(s.medical_assistance)::bigint AS medical_assistance, SUM(s.fund_total)::bigint AS fund_total,
           count(*) FILTER (WHERE s.visit_type = 'inpatient') AS inpatient_cases,
           COALESCE(SUM(s.total) FILTER (WHERE s.visit_type = 'inpatient'), 0)::bigint AS inpatient_total,
           count(u.jti) AS by_member_code
    FROM settlements s
    JOIN institutions i ON i.code = s.institution_code
    LEFT JOIN member_code_uses u ON u.institution_code = s.institution_code AND u.idempotency_key = s.idempotency_key
    WHERE s.status = 'settled' AND s.service_date >= :first AND s.service_date < :next
    GROUP BY 1, 2 ORDER BY 1, 2
    """
)

_TRACE = text(
    """
    SELECT s.institution_code, count(*) AS lines,
           count(*) FILTER (WHERE cardinality(l.trace_codes) > 0) AS with_code
    FROM settlements s
    JOIN settlement_lines l ON l.settlement_id = s.id
    JOIN catalogue_items c ON c.code = l.item_code AND c.trace_required
    WHERE s.status = 'settled' AND s.service_date >= :first AND s.service_date < :next
    GROUP BY 1 ORDER BY 1
    """
)

SCHEME_LEVEL_COLUMNS = [
    "scheme",
    "level",
    "settlements",
    "total",
    "basic_fund",
    "critical_illness",
    "medical_assistance",
    "fund_total",
    "inpatient_cases",
    "average_inpatient_cost",
    "member_code_share",
]
TRACE_COLUMNS = ["institution_code", "trace_lines", "with_code", "upload_rate"]


def _month(label: str) -> tuple[date, date]:
    try:
        y, m = (int(x) for x in label.split("-"))
        first = date(y, m, 1)
    except ValueError:
        raise InvalidRequest("月份格式为 YYYY-MM month must be YYYY-MM") from None
    return first, date(y + (m == 12), m % 12 + 1, 1)


def _ratio(part: int, whole: int) -> str | None:
    return None if whole == 0 else str((Decimal(part) / whole).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


async def monthly(session: AsyncSession, month: str) -> dict[str, Any]:
    first, nxt = _month(month)
    params = {"first": first, "next": nxt}
    rows = (await session.execute(_BY_SCHEME_LEVEL, params)).all()
    trace = (await session.execute(_TRACE, params)).all()
    return {
        "month": month,
        "by_scheme_and_level": [
            {
                "scheme": r.scheme,
                "level": r.level,
                "settlements": r.settlements,
                "total": to_wire(r.total),
                "basic_fund": to_wire(r.basic_fund),
                "critical_illness": to_wire(r.critical_illness),
                "medical_assistance": to_wire(r.medical_assistance),
                "fund_total": to_wire(r.fund_total),
                "inpatient_cases": r.inpatient_cases,
                "average_inpatient_cost": None
                if r.inpatient_cases == 0
                else to_wire(int((Decimal(r.inpatient_total) / r.inpatient_cases).quantize(0, ROUND_HALF_UP))),
                "member_code_share": _ratio(r.by_member_code, r.settlements),
            }
            for r in rows
        ],
        "trace_code_upload": [
            {
                "institution_code": r.institution_code,
                "trace_lines": r.lines,
                "with_code": r.with_code,
                "upload_rate": _ratio(r.with_code, r.lines),
            }
            for r in trace
        ],
    }


def to_csv(report: dict[str, Any], table: str) -> str:
    columns = SCHEME_LEVEL_COLUMNS if table == "by_scheme_and_level" else TRACE_COLUMNS
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in report[table])
    return buf.getvalue()
