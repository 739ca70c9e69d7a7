"""A synthetic year with planted violations of every post-settlement rule, and its truth.

Why: precision and recall can only be measured against known answers. Background people
are generated clean by construction (one home institution for tests and one more for
other care, at most one visit a day, at most one admission, unique traceability codes,
institution cost levels spread uniformly so none sits 3σ above its peers); each rule then
gets planted hits (the truth) and near misses just outside its threshold (to catch false
positives). Rows go in with COPY, in the caller's transaction (``yibao monitor evaluate`` rolls
it back).

Thresholds are read from the rules in force, so the planted cases follow staff changes.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.monitoring.rules import RuleSet

REGION = "990001"  # a pooling region no real data uses
PREFIX = "EV"  # synthetic institution codes: EV<level><nn>
LEVELS = (1, 2, 3)
PER_LEVEL = 12  # 11 peers for the leave-one-out outlier test
BASE_CASE_FEN = {1: 300_000, 2: 800_000, 3: 1_500_000}
TEST_ITEM = "S-CTHD"


@dataclass
class _Bill:
    institution: str
    person: int
    visit_type: str
    day: date
    lines: list[tuple[str, int, int, list[str]]]  # item, quantity, unit price fen, trace codes
    admitted_on: date | None = None
    status: str = "settled"
    chronic_disease: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def total(self) -> int:
        return sum(q * p for _, q, p, _ in self.lines)


@dataclass
class Synthetic:
    year: int
    institutions: list[tuple[str, int]] = field(default_factory=list)  # code, level
    persons: dict[int, date | None] = field(default_factory=dict)  # id → death date
    bills: list[_Bill] = field(default_factory=list)
    truth: dict[str, set[str]] = field(default_factory=dict)
    #: maternity allowances: (allowance no, delivery bill, first contribution month at the employer,
    #: other contributors at the employer)
    allowances: list[tuple[str, _Bill, date, int]] = field(default_factory=list)
    #: approved chronic-disease recognitions valid all year: (person, disease)
    recognitions: list[tuple[int, str]] = field(default_factory=list)

    def plant(self, rule: str, key: str) -> None:
        self.truth.setdefault(rule, set()).add(key)


class _Gen:
    def __init__(self, syn: Synthetic, rng: random.Random, person_ids: list[int]) -> None:
        self.syn, self.rng, self._ids = syn, rng, iter(person_ids)
        self._codes = itertools.count(1)
        self.ordinary = [c for c, _ in syn.institutions if not c.endswith("01")]  # "…01" are the outliers

    def person(self, death: date | None = None) -> int:
        pid = next(self._ids)
        self.syn.persons[pid] = death
        return pid

    def trace(self) -> str:
        return f"EVT{self.syn.year}{next(self._codes):010d}"

    def day(self, lo: int = 0, hi: int = 330) -> date:
        return date(self.syn.year, 1, 1) + timedelta(days=self.rng.randint(lo, hi))

    def inst(self, level: int | None = None) -> str:
        pool = [c for c in self.ordinary if level is None or c[2] == str(level)]
        return self.rng.choice(pool)

    def inpatient(
        self, inst: str, person: int, admitted: date, days: int, *, bed_only: bool = False, cost: int | None = None
    ) -> _Bill:
        lines: list[tuple[str, int, int, list[str]]] = [("S-BED-2", days, 4000, []), ("S-NURS-1", days, 3000, [])]
        if not bed_only:
            level = int(inst[2])
            target = cost if cost is not None else int(BASE_CASE_FEN[level] * self.rng.uniform(0.9, 1.1))
            lines.append(("S-APPX", 1, max(10_000, target - 7000 * days), []))
        bill = _Bill(inst, person, "inpatient", admitted + timedelta(days=days), lines, admitted_on=admitted)
        self.syn.bills.append(bill)
        return bill

    def outpatient(
        self,
        inst: str,
        person: int,
        day: date,
        item: str = "S-ACUP",
        *,
        status: str = "settled",
        trace: list[str] | None = None,
    ) -> _Bill:
        lines = [(item, 1, 3000, [])] if trace is None else [("D-AMOX-250", len(trace), 1200, trace)]
        bill = _Bill(inst, person, "outpatient", day, lines, status=status)
        self.syn.bills.append(bill)
        return bill


def _institutions(syn: Synthetic) -> None:
    syn.institutions = [(f"{PREFIX}{lv}{j:02d}", lv) for lv in LEVELS for j in range(1, PER_LEVEL + 1)]


def _background(g: _Gen, persons: int, bills: int) -> None:
    """Clean people: factors spread uniformly per institution, so no outlier by chance."""
    factor = {c: g.rng.uniform(0.85, 1.15) for c in g.ordinary}
    people = [g.person() for _ in range(persons)]
    homes = {p: (g.inst(), g.inst()) for p in people}
    # every ordinary institution gets enough inpatient cases for the peer statistics
    case_people = iter(people)
    for inst in g.ordinary:
        level = int(inst[2])
        for _ in range(6):
            person = next(case_people, None)
            if person is None:
                break
            g.inpatient(
                inst,
                person,
                g.day(0, 300),
                g.rng.randint(3, 9),
                cost=int(BASE_CASE_FEN[level] * factor[inst] * g.rng.uniform(0.97, 1.03)),
            )
    per_person = max(1, bills // max(1, persons))
    for person in people:
        test_home, other_home = homes[person]
        days = sorted(set(g.day() for _ in range(per_person)))
        for i, d in enumerate(days):
            if i % 3 == 0:
                g.outpatient(test_home, person, d, TEST_ITEM)
            elif i % 3 == 1:
                g.outpatient(other_home, person, d, trace=[g.trace(), g.trace()])
            else:
                g.outpatient(other_home if other_home != test_home else test_home, person, d)


def _plant(g: _Gen, rules: RuleSet, k: int) -> None:
    syn, rng = g.syn, g.rng
    split = int(rules.params("split_admission")["days"])
    freq = rules.params("frequent_admissions")
    freq_n, freq_days = int(freq["count"]), int(freq["days"])
    per_day = int(rules.params("visits_per_day")["max_per_day"])
    week = rules.params("institutions_per_week")
    max_inst, week_days = int(week["max_institutions"]), int(week["days"])
    test_days = int(rules.params("duplicate_test")["days"])
    test_item = str(rules.params("duplicate_test")["items"][0])

    for _ in range(k):
        # split admission: readmitted within the limit (hit) / one day beyond it (miss)
        inst, p = g.inst(), g.person()
        first = g.inpatient(inst, p, g.day(0, 200), 5)
        assert first.admitted_on is not None
        second = g.inpatient(inst, p, first.day + timedelta(days=rng.randint(0, split)), 4)
        syn.plant("split_admission", str(second.id))
        inst, p = g.inst(), g.person()
        first = g.inpatient(inst, p, g.day(0, 200), 5)
        g.inpatient(inst, p, first.day + timedelta(days=split + 1), 4)

        # frequent admissions: N within the window at different institutions (hit) / spread wider (miss)
        p, start = g.person(), g.day(0, 200)
        step = (freq_days - 1) // (freq_n - 1)
        insts = rng.sample(g.ordinary, freq_n)
        last = None
        for i in range(freq_n):
            last = g.inpatient(insts[i], p, start + timedelta(days=i * step), 2)
        assert last is not None
        syn.plant("frequent_admissions", str(last.id))
        p, start = g.person(), g.day(0, 200)
        wide = -(-freq_days // (freq_n - 1))  # ceil: the Nth lands on day ≥ window
        for i in range(freq_n):
            g.inpatient(insts[i], p, start + timedelta(days=i * wide), 2)

        # bed-hogging: only bed and nursing (hit) / plus one test (miss)
        bill = g.inpatient(g.inst(), g.person(), g.day(), rng.randint(5, 20), bed_only=True)
        syn.plant("bed_hogging", str(bill.id))
        miss = g.inpatient(g.inst(), g.person(), g.day(), 6, bed_only=True)
        miss.lines.append(("S-BLRT", 1, 2000, []))

        # visits per day: limit + 1 visits (hit) / exactly the limit (miss)
        p, d, a, b = g.person(), g.day(), g.inst(), g.inst()
        for i in range(per_day + 1):
            g.outpatient(a if i % 2 else b, p, d)
        syn.plant("visits_per_day", f"{p}:{d}")
        p, d = g.person(), g.day()
        for i in range(per_day):
            g.outpatient(a if i % 2 else b, p, d)

        # institutions in a week: limit + 1 institutions on consecutive days (hit) / spread over a longer span (miss)
        p, d = g.person(), g.day(0, 300)
        insts = rng.sample(g.ordinary, max_inst + 1)
        for i, inst in enumerate(insts):
            g.outpatient(inst, p, d + timedelta(days=i))
        syn.plant("institutions_per_week", f"{p}:{d + timedelta(days=max_inst)}")
        p, d = g.person(), g.day(0, 300)
        for i, inst in enumerate(insts):  # first and last visit week_days apart: never all in one window
            g.outpatient(inst, p, d + timedelta(days=round(i * week_days / max_inst)))

        # claims after death: dated after the death (hit) / on the death day (miss)
        death = g.day(0, 300)
        bill = g.outpatient(g.inst(), g.person(death), death + timedelta(days=rng.randint(1, 30)))
        syn.plant("claims_after_death", str(bill.id))
        g.outpatient(g.inst(), g.person(death), death)

        # traceability code on two live settlements (hit) / the first one cancelled (miss)
        code, a, b = g.trace(), g.inst(), g.inst()
        g.outpatient(a, g.person(), g.day(0, 150), trace=[code])
        g.outpatient(b, g.person(), g.day(151, 300), trace=[code])
        syn.plant("trace_code_duplicate", code)
        code = g.trace()
        g.outpatient(a, g.person(), g.day(0, 150), trace=[code], status="cancelled")
        g.outpatient(b, g.person(), g.day(151, 300), trace=[code])

        # duplicate test at another institution within the window (hit) / one day later (miss)
        p, d = g.person(), g.day(0, 300)
        a, b = rng.sample(g.ordinary, 2)
        g.outpatient(a, p, d, test_item)
        later = g.outpatient(b, p, d + timedelta(days=rng.randint(0, test_days)), test_item)
        syn.plant("duplicate_test", f"{later.id}:{test_item}")
        p = g.person()
        g.outpatient(a, p, d, test_item)
        g.outpatient(b, p, d + timedelta(days=test_days + 1), test_item)

    # maternity allowance: contributions began months − 1 before delivery (hit) / months before (miss);
    # an employer with no other contributor (hit) / one other (miss)
    months = int(rules.params("maternity_allowance_suspect")["months"])
    for n in range(k):
        for tag, began, others, hit in (("R", months - 1, 2, True), ("N", months, 2, False),
                                        ("A", 20, 0, True), ("C", 20, 1, False)):  # fmt: skip
            d = g.day(0, 300)
            bill = _Bill(g.inst(), g.person(), "maternity_inpatient", d, [("S-APPX", 1, 300_000, [])], admitted_on=d)
            syn.bills.append(bill)
            index = d.year * 12 + d.month - 1 - began
            number = f"SYEV{syn.year}{tag}{n:04d}"
            syn.allowances.append((number, bill, date(index // 12, index % 12 + 1, 1), others))
            if hit:
                syn.plant("maternity_allowance_suspect", number)

    _plant_chronic_high_cost(g, rules)

    # institution outliers: every "…01" institution bills three times its level's cost
    for code, level in syn.institutions:
        if code.endswith("01"):
            for _ in range(8):
                g.inpatient(code, g.person(), g.day(0, 300), 5, cost=BASE_CASE_FEN[level] * 3)
            syn.plant("institution_outlier", f"{code}:{syn.year}")


#: recognised patients of the high-cost disease who spend an ordinary amount (the mean's bulk)
CHRONIC_PEERS = 20
CHRONIC_BASE_FEN = 100_000
CHRONIC_DISEASES = ("DM", "HTN")


def _plant_chronic_high_cost(g: _Gen, rules: RuleSet) -> None:
    """Per disease: ``CHRONIC_PEERS`` patients spending about the base, one spending just above k ×
    the group's mean (hit, in two bills) and one at k − 0.1 times it (miss). The mean includes both,
    so their amounts solve mean = (peers + (a + b) × mean) / n; the asserts check the rounding."""
    k = Decimal(str(rules.params("chronic_high_cost")["k"]))
    day = date(g.syn.year, 1, 1)
    for disease in CHRONIC_DISEASES:
        inst = g.inst(1)
        peers = [CHRONIC_BASE_FEN + 1000 * g.rng.randint(-5, 5) for _ in range(CHRONIC_PEERS)]
        a, b = k + Decimal("0.5"), k - Decimal("0.1")
        mean = Decimal(sum(peers)) / (CHRONIC_PEERS + 2 - a - b)
        hit, miss = int(a * mean), int(b * mean)
        actual = Decimal(sum(peers) + hit + miss) / (CHRONIC_PEERS + 2)
        assert hit > k * actual >= miss, (hit, miss, actual)
        for amount, planted in [(p, False) for p in peers] + [(hit, True), (miss, False)]:
            person = g.person()
            g.syn.recognitions.append((person, disease))
            parts = [amount // 2, amount - amount // 2] if planted else [amount]
            for n, part in enumerate(parts):
                when = g.day(0, 300) if not planted else day + timedelta(days=100 + 30 * n)
                bill = _Bill(inst, person, "chronic_outpatient", when, [("D-METF-500", 1, part, [])])
                bill.chronic_disease = disease
                g.syn.bills.append(bill)
            if planted:
                g.syn.plant("chronic_high_cost", f"{person}:{disease}:{g.syn.year}")


def generate(rules: RuleSet, persons: int, bills: int, *, year: int, seed: int, person_ids: list[int]) -> Synthetic:
    """The rows and the truth, in memory (pure: no I/O)."""
    syn = Synthetic(year=year)
    _institutions(syn)
    g = _Gen(syn, random.Random(seed), person_ids)
    _background(g, persons, bills)
    _plant(g, rules, max(3, persons // 500))
    return syn


def planted_people(persons: int) -> int:
    """Upper bound of person ids the generator needs (background + planted)."""
    chronic = (CHRONIC_PEERS + 2) * len(CHRONIC_DISEASES)
    return persons + 44 * max(3, persons // 500) + 8 * len(LEVELS) + chronic + 10


# ---------------------------------------------------------------- writing it


def _settlement(b: _Bill, id_number: str, year: int, n: int) -> dict[str, Any]:
    """A settled (or cancelled) bill's row: 60% paid by the basic fund, the rest in cash."""
    total = b.total
    fund = total * 6 // 10
    at = datetime.combine(b.day, time(9, 0), tzinfo=UTC) + timedelta(seconds=n % 30_000)
    return {
        "id": b.id,
        "institution_code": b.institution,
        "person_id": b.person,
        "id_number": id_number,
        "idempotency_key": f"ev-{b.id}",
        "visit_no": f"EV{n}",
        "visit_type": b.visit_type,
        "scheme": "resident",
        "year": year,
        "admitted_on": b.admitted_on,
        "discharged_on": b.day if b.visit_type == "inpatient" else None,
        "service_date": b.day,
        "diagnoses": [],
        "procedures": [],
        "status": b.status,
        "settled_at": at,
        "cancelled_at": at + timedelta(hours=1) if b.status == "cancelled" else None,
        "policy_version": "synthetic",
        "funds_off": False,
        "cross_region": False,
        "third_party_liable": False,
        "total": total,
        "full_self_pay": 0,
        "over_cap_self_pay": 0,
        "pre_self_pay": 0,
        "policy_range": total,
        "deductible": 0,
        "basic_fund": fund,
        "critical_illness": 0,
        "medical_assistance": 0,
        "fund_total": fund,
        "personal_part": total - fund,
        "personal_account": 0,
        "cash": total - fund,
        "accrual": "{}",
        "warnings": "[]",
        "explanation": "[]",
        "chronic_disease": b.chronic_disease,
    }


def _line(b: _Bill, line_no: int, item: str, quantity: int, price: int, codes: list[str]) -> dict[str, Any]:
    return {
        "settlement_id": b.id,
        "line_no": line_no,
        "item_code": item,
        "quantity": Decimal(quantity),
        "unit_price": price,
        "service_date": b.day,
        "days_supply": None,
        "trace_codes": codes,
        "amount": quantity * price,
        "full_self_pay": 0,
        "over_cap_self_pay": 0,
        "pre_self_pay": 0,
        "policy_range": quantity * price,
        "reasons": [],
    }


async def _copy(raw: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """COPY rows given as column → value (each name stands next to its value, so the column
    list and the records cannot drift apart)."""
    if rows:
        columns = list(rows[0])
        await raw.copy_records_to_table(table, records=[tuple(r.values()) for r in rows], columns=columns)


async def write(session: AsyncSession, syn: Synthetic, budget_fen: int = 10**12) -> Mapping[str, int]:
    """COPY the synthetic institutions, persons, settlements and lines (caller's transaction)."""
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    institutions = [
        {
            "code": c,
            "name": f"合成机构 {c}",
            "type": "hospital",
            "level": lv,
            "region": REGION,
            "agreement": "active",
            "credit_grade": "A",
            "annual_budget": budget_fen,
        }
        for c, lv in syn.institutions
    ]
    await _copy(raw, "institutions", institutions)
    id_numbers = {pid: f"990001{syn.year}{pid % 10**8:08d}"[:18] for pid in syn.persons}
    persons = [
        {
            "id": pid,
            "id_number": id_numbers[pid],
            "name": "合成",
            "region": REGION,
            "birth_date": date(1970, 1, 1),
            "gender": "M",
            "death_date": death,
        }
        for pid, death in syn.persons.items()
    ]
    await _copy(raw, "persons", persons)
    await _copy(
        raw, "settlements", [_settlement(b, id_numbers[b.person], syn.year, n) for n, b in enumerate(syn.bills)]
    )
    lines = [
        _line(b, no, item, q, p, codes) for b in syn.bills for no, (item, q, p, codes) in enumerate(b.lines, start=1)
    ]
    await _copy(raw, "settlement_lines", lines)
    employer = await raw.fetchval(
        "INSERT INTO employers (code, name, region) VALUES ($1, '合成单位', $2) "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        f"91EV{syn.year}00000000000"[:18],
        REGION,
    )
    allowances = [
        {
            "id": uuid.uuid4(),
            "allowance_no": number,
            "settlement_id": b.id,
            "institution_code": b.institution,
            "person_id": b.person,
            "employer_id": employer,
            "delivery_date": b.day,
            "delivery_type": "vaginal",
            "babies": 1,
            "days": 98,
            "months_contributed": 12,
            "first_contribution_month": first,
            "other_contributors": others,
            "average_base": 600_000,
            "daily_amount": 20_000,
            "amount": 1_960_000,
            "eligible": True,
            "flags": [],
            "status": "pending",
            "policy_version": "synthetic",
        }
        for number, b, first, others in syn.allowances
    ]
    await _copy(raw, "maternity_allowances", allowances)
    year_start = date(syn.year, 1, 1)
    recognitions = [
        {
            "id": uuid.uuid4(),
            "person_id": person,
            "id_number": id_numbers[person],
            "region": REGION,
            "disease": disease,
            "diagnosis": "E11.9" if disease == "DM" else "I10",
            "evidence": "[]",
            "status": "approved",
            "filed_by": "synthetic",
            "filed_at": datetime.combine(year_start, time(9, 0), tzinfo=UTC),
            "valid_from": year_start,
            "valid_to": date(syn.year, 12, 31),
        }
        for person, disease in syn.recognitions
    ]
    await _copy(raw, "chronic_recognitions", recognitions)
    return {
        "institutions": len(syn.institutions),
        "persons": len(syn.persons),
        "bills": len(syn.bills),
        "lines": len(lines),
    }


async def reserve_person_ids(session: AsyncSession, n: int) -> list[int]:
    rows = await session.scalars(text("SELECT nextval('persons_id_seq') FROM generate_series(1, :n)"), {"n": n})
    return [int(r) for r in rows]
