"""Hand-written rows for the monitoring tests: a test's own institutions, persons and bills.

Why rows and not the settle API: a model's threshold is a date gap, a count or a cost, and the
case must sit exactly on it (a bill dated 15 days after a discharge, a case costing exactly
mean + 3σ of its peers); the settle path would add a policy year, enrolment and benefit
arithmetic that the models never read. Rows go into the caller's session: a test that rolls
back leaves nothing behind, one that commits removes its rows with :meth:`Rows.delete`.

Every code, region and ID is new for each test (a per-run counter and a random run token),
so no other test's bills, and no earlier run's, can reach a test's assertions.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import new_id_number

_RUN = secrets.token_hex(2).upper()
_seq = itertools.count(1)

#: (item code, quantity, unit price in fen, traceability codes)
Line = tuple[str, int, int, list[str]]


def fresh_region() -> str:
    """A 6-digit pooling region no reference data or other test uses ("97" + a random number)."""
    return f"97{secrets.randbelow(10_000):04d}"


@dataclass
class Rows:
    session: AsyncSession
    institutions: list[str] = field(default_factory=list)
    persons: list[int] = field(default_factory=list)
    bills: list[uuid.UUID] = field(default_factory=list)
    id_numbers: dict[int, str] = field(default_factory=dict)

    async def institution(self, *, level: int = 2, region: str = "430522", annual_budget: int = 10**12) -> str:
        code = f"MT{_RUN}{next(_seq):05d}"
        await self.session.execute(
            text(
                "INSERT INTO institutions (code, name, type, level, region, agreement, credit_grade, annual_budget) "
                "VALUES (:code, :name, 'hospital', :level, :region, 'active', 'A', :budget)"
            ),
            {"code": code, "name": f"监控测试医院 {code}", "level": level, "region": region, "budget": annual_budget},
        )
        self.institutions.append(code)
        return code

    async def person(self, *, death_date: date | None = None) -> int:
        pid = int(await self.session.scalar(text("SELECT nextval('persons_id_seq')")))
        self.id_numbers[pid] = new_id_number()
        await self.session.execute(
            text(
                "INSERT INTO persons (id, id_number, name, region, birth_date, gender, death_date) "
                "VALUES (:id, :idn, :name, '430522', DATE '1970-01-01', 'M', :death)"
            ),
            {"id": pid, "idn": self.id_numbers[pid], "name": f"监控{pid}", "death": death_date},
        )
        self.persons.append(pid)
        return pid

    async def bill(
        self,
        institution: str,
        person: int,
        visit_type: str,
        service_date: date,
        lines: list[Line],
        *,
        admitted_on: date | None = None,
        status: str = "settled",
        fund_total: int | None = None,
        scheme: str = "resident",
        settled_at: datetime | None = None,
        chronic_disease: str | None = None,
    ) -> str:
        """One settlement (inpatient: ``service_date`` is the discharge date); returns its id."""
        bill_id = uuid.uuid4()
        total = sum(q * p for _, q, p, _ in lines)
        fund = total // 2 if fund_total is None else fund_total
        at = settled_at or datetime.combine(service_date, time(10, 0), tzinfo=UTC) + timedelta(seconds=len(self.bills))
        row: dict[str, Any] = {
            "id": bill_id,
            "inst": institution,
            "person": person,
            "idn": self.id_numbers[person],
            "key": f"mt-{bill_id}",
            "visit_no": f"MT{bill_id.hex[:12]}",
            "visit_type": visit_type,
            "scheme": scheme,
            "year": service_date.year,
            "admitted_on": admitted_on,
            "discharged_on": service_date if visit_type == "inpatient" else None,
            "service_date": service_date,
            "status": status,
            "settled_at": at,
            "cancelled_at": at + timedelta(hours=1) if status == "cancelled" else None,
            "total": total,
            "fund": fund,
            "personal": total - fund,
            "chronic_disease": chronic_disease,
        }
        await self.session.execute(
            text(
                """
                INSERT INTO settlements (
                    id, institution_code, person_id, id_number, idempotency_key, visit_no, visit_type, scheme, year,
                    admitted_on, discharged_on, service_date, diagnoses, procedures, status, settled_at, cancelled_at,
                    policy_version, funds_off, cross_region, third_party_liable, total, full_self_pay,
                    over_cap_self_pay, pre_self_pay, policy_range, deductible, basic_fund, critical_illness,
                    medical_assistance, fund_total, personal_part, personal_account, cash, accrual, warnings,
                    explanation, chronic_disease)
                VALUES (
                    :id, :inst, :person, :idn, :key, :visit_no, :visit_type, :scheme, :year,
                    :admitted_on, :discharged_on, :service_date, '{}', '{}', :status, :settled_at, :cancelled_at,
                    'monitoring-test', false, false, false, :total, 0,
                    0, 0, :total, 0, :fund, 0,
                    0, :fund, :personal, 0, :personal, '{}', '[]', '[]', :chronic_disease)
                """
            ),
            row,
        )
        for no, (item, qty, price, codes) in enumerate(lines, start=1):
            await self.session.execute(
                text(
                    """
                    INSERT INTO settlement_lines (settlement_id, line_no, item_code, quantity, unit_price,
                        service_date, trace_codes, amount, full_self_pay, over_cap_self_pay, pre_self_pay,
                        policy_range, reasons)
                    VALUES (:sid, :no, :item, :qty, :price, :day, :codes, :amount, 0, 0, 0, :amount, '{}')
                    """
                ),
                {
                    "sid": bill_id,
                    "no": no,
                    "item": item,
                    "qty": Decimal(qty),
                    "price": price,
                    "day": service_date,
                    "codes": codes,
                    "amount": qty * price,
                },
            )
        self.bills.append(bill_id)
        return str(bill_id)

    async def stay(
        self, institution: str, person: int, admitted_on: date, discharged_on: date, *, fund_total: int | None = None
    ) -> str:
        """An ordinary inpatient stay (an operation plus bed days)."""
        days = max(1, (discharged_on - admitted_on).days)
        lines: list[Line] = [("S-APPX", 1, 150_000, []), ("S-BED-2", days, 4_000, [])]
        return await self.bill(
            institution, person, "inpatient", discharged_on, lines, admitted_on=admitted_on, fund_total=fund_total
        )

    async def visit(self, institution: str, person: int, day: date, item: str = "S-ACUP", **kw: Any) -> str:
        """An outpatient visit with one line."""
        return await self.bill(institution, person, "outpatient", day, [(item, 1, 3_000, [])], **kw)

    async def recognition(
        self, person: int, disease: str, region: str, valid_from: date, valid_to: date, *, status: str = "approved"
    ) -> str:
        """A chronic-disease recognition (both reviews done) of the person; returns its id."""
        rid = uuid.uuid4()
        await self.session.execute(
            text(
                """
                INSERT INTO chronic_recognitions (id, person_id, id_number, region, disease, diagnosis, evidence,
                    status, filed_by, filed_at, first_reviewed_by, approved_by, valid_from, valid_to)
                VALUES (:id, :person, :idn, :region, :disease, 'X00', '[]', :status, 'test', now(), 'rev-a',
                        'rev-b', :valid_from, :valid_to)
                """
            ),
            {
                "id": rid,
                "person": person,
                "idn": self.id_numbers[person],
                "region": region,
                "disease": disease,
                "status": status,
                "valid_from": valid_from,
                "valid_to": valid_to,
            },
        )
        return str(rid)

    async def suspects(self, rule_id: str | None = None) -> set[tuple[str, str]]:
        """(rule_id, evidence_key) of every suspect at this test's institutions."""
        rows = await self.session.execute(
            text(
                "SELECT rule_id, evidence_key FROM suspects WHERE institution_code = ANY(:codes) "
                "AND (CAST(:rule AS text) IS NULL OR rule_id = :rule)"
            ),
            {"codes": self.institutions, "rule": rule_id},
        )
        return {(r.rule_id, r.evidence_key) for r in rows}

    async def suspect(self, rule_id: str, evidence_key: str) -> Any:
        return (
            await self.session.execute(
                text(
                    "SELECT institution_code, person_id, service_date, evidence, amount FROM suspects "
                    "WHERE rule_id = :rule AND evidence_key = :key"
                ),
                {"rule": rule_id, "key": evidence_key},
            )
        ).one()

    async def delete(self) -> None:
        """Remove every row this test wrote (for tests whose rows had to be committed)."""
        s, codes = self.session, self.institutions
        await s.execute(text("DELETE FROM suspects WHERE institution_code = ANY(:c)"), {"c": codes})
        await s.execute(text("DELETE FROM monitoring_alerts WHERE subject = ANY(:c)"), {"c": codes})
        await s.execute(
            text("DELETE FROM monitoring_alerts WHERE subject = ANY(:p)"), {"p": [str(p) for p in self.persons]}
        )
        await s.execute(text("DELETE FROM settlements WHERE id = ANY(:b)"), {"b": self.bills})
        await s.execute(text("DELETE FROM person_years WHERE person_id = ANY(:p)"), {"p": self.persons})
        await s.execute(text("DELETE FROM chronic_recognitions WHERE person_id = ANY(:p)"), {"p": self.persons})
        await s.execute(text("DELETE FROM persons WHERE id = ANY(:p)"), {"p": self.persons})
        await s.execute(text("DELETE FROM institutions WHERE code = ANY(:c)"), {"c": codes})


async def own_institution(
    sessionmaker: Any, client: Any, admin_headers: dict[str, str], *, level: int = 2, region: str = "430522"
) -> tuple[str, dict[str, str]]:
    """A committed hospital of this test's own (code, request headers with a fresh key), so the
    bills it settles and the suspects, deductions and credit grade they lead to are this test's."""
    async with sessionmaker() as session, session.begin():
        code = await Rows(session).institution(level=level, region=region)
    r = await client.post(f"/api/v1/institutions/{code}/keys", headers=admin_headers)
    assert r.status_code == 201, r.text
    return code, {"Authorization": f"Bearer {r.json()['key']}"}
