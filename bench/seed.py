"""A fresh benchmark database: schema, reference data, a synthetic population, institution keys.

Why set-based: going through the admin API would take a request per person, per group and
per enrolment (minutes for 100k persons) and would benchmark the seeding instead of the
settlement path. Persons and enrolments are generated in Python (the ID's check character,
birth date and gender must agree, and an employee must be of working or retirement age)
and COPYed; special groups and personal accounts are derived from them with
``INSERT … SELECT``. The schema itself comes from the project's own migrations and the
reference data from its own loader, so the benchmark runs against what production runs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text

from yibao import clock
from yibao.auth.tokens import create_institution_key
from yibao.config import REPO_ROOT, Settings
from yibao.db import admin
from yibao.db.engine import make_engine, make_sessionmaker
from yibao.people.id_number import make as complete_id
from yibao.reference.loader import load_reference

REGION = "430522"
YEAR = 2026
SUSPENDED = "H430522200"  # refuses every bill (INSTITUTION_NOT_ACTIVE); never sent traffic
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌浩宇轩然欣怡梓涵子"


@dataclass(frozen=True)
class SeedReport:
    persons: int
    employees: int
    groups: int
    accounts: int
    population_seconds: float  # generating and loading the persons and what hangs off them
    total_seconds: float = 0.0  # including drop/create, migrations and reference data

    def line(self) -> str:
        return (
            f"seeded {self.persons:,} persons ({self.employees:,} employees, {self.groups:,} "
            f"special-group tags, {self.accounts:,} personal accounts) in "
            f"{self.population_seconds:.1f} s "
            f"({self.total_seconds:.1f} s with schema and reference data)"
        )


def plain_dsn(database_url: str) -> str:
    """asyncpg wants ``postgresql://``, the project's settings carry ``postgresql+asyncpg://``."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def recreate_database(database_url: str) -> None:
    """Drop (if present), create and migrate: ``yibao db upgrade`` on an empty database."""
    asyncio.run(admin.drop_database(database_url))
    asyncio.run(admin.create_database(database_url))
    admin.upgrade(database_url)


class IdNumbers:
    """Unique GB 11643 numbers: the 3-digit order code is a per-birth-date counter whose
    last digit is odd for men and even for women, as the standard requires."""

    def __init__(self) -> None:
        self._used: Counter[tuple[date, str]] = Counter()

    def next(self, born: date, gender: str) -> str:
        n = self._used[(born, gender)]
        self._used[(born, gender)] += 1
        if n >= 500:
            raise ValueError(f"more than 500 {gender} persons born on {born}")
        digit = (1, 3, 5, 7, 9)[n % 5] if gender == "M" else (0, 2, 4, 6, 8)[n % 5]
        return complete_id(f"{REGION}{born:%Y%m%d}{n // 5:02d}{digit}")


def _birth_date(rng: random.Random, youngest: int, oldest: int) -> date:
    """A birth date giving an age between ``youngest`` and ``oldest`` on 1 Jan of the year."""
    start = date(YEAR - oldest - 1, 1, 2)
    end = date(YEAR - youngest, 1, 1)
    return start + timedelta(days=rng.randrange((end - start).days))


def population(count: int, seed: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(persons, enrolments) records: 30% employees aged 20–75 (retirees from 60), the rest
    residents aged 0–95, everyone covered from 1 January."""
    rng = random.Random(seed)
    ids = IdNumbers()
    persons: list[tuple[Any, ...]] = []
    enrolments: list[tuple[Any, ...]] = []
    for person_id in range(1, count + 1):
        employee = rng.random() < 0.30
        gender = rng.choice("MF")
        born = _birth_date(rng, 20, 75) if employee else _birth_date(rng, 0, 95)
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
        persons.append((person_id, ids.next(born, gender), name, REGION, born, gender))
        retiree = employee and YEAR - born.year > 60
        enrolments.append(
            (person_id, "employee" if employee else "resident", YEAR, date(YEAR, 1, 1), retiree, rng.randint(0, 20), 0)
        )
    return persons, enrolments


_GROUPS_SQL = """
INSERT INTO person_groups (person_id, "group", valid_from)
SELECT e.person_id,
       CASE WHEN p.birth_date > DATE '2008-01-01' AND (e.person_id * 31) % 10 = 0 THEN 'orphan'
            ELSE (ARRAY['min_living', 'min_living', 'min_living', 'poverty_monitoring',
                        'poverty_monitoring', 'marginal', 'marginal', 'severe_disability',
                        'destitute'])[1 + (e.person_id * 7919) % 9]
       END,
       DATE '2026-01-01'
FROM enrolments e JOIN persons p ON p.id = e.person_id
WHERE e.year = 2026 AND e.scheme = 'resident' AND (e.person_id * 2654435761) % 1000 < 143
"""
# 14.3% of the 70% residents ≈ 10% of everyone: low-income tags sit on resident insurance.

_ACCOUNTS_SQL = """
INSERT INTO personal_accounts (person_id, balance)
SELECT person_id, 20000 + (person_id * 40503) % 480000   -- 200.00 to 5,000.00 yuan, in fen
FROM enrolments WHERE year = 2026 AND scheme = 'employee'
"""

_CHRONIC_SQL = """
INSERT INTO chronic_recognitions (id, person_id, id_number, region, disease, diagnosis, evidence, status,
                                  filed_by, filed_at, first_reviewed_by, first_reviewed_at, approved_by,
                                  approved_at, valid_from, valid_to)
SELECT gen_random_uuid(), p.id, p.id_number, p.region, d.code, d.diagnosis, '[]', 'approved',
       'staff:bench-clerk', now(), 'staff:bench-first', now(), 'staff:bench-second', now(),
       DATE '2026-01-01', DATE '2027-12-31'
FROM persons p
CROSS JOIN (VALUES ('DM', 'E11.9'), ('HTN', 'I10'), ('ESRD', 'N18.5'), ('CHD', 'I25.1')) AS d (code, diagnosis)
"""
# a chronic bill needs an approved recognition of its disease (issue #17): every person holds one
# of each disease the bill mix diagnoses (bills.CHRONIC_DIAGNOSES), so chronic bills settle and
# the settle path's recognition check is measured on every one of them

_CREDITS_SQL = """
INSERT INTO account_movements (person_id, amount, kind, reference)
SELECT person_id, balance, 'credit', 'bench-seed-2026' FROM personal_accounts
"""
# the ledger must explain the balance, as the accounts service keeps it


async def _copy_population(dsn: str, count: int, seed: int) -> SeedReport:
    started = time.perf_counter()
    persons, enrolments = population(count, seed)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "persons",
                records=persons,
                columns=["id", "id_number", "name", "region", "birth_date", "gender"],
            )
            await conn.execute(  # explicit ids were COPYed: move the sequence past them
                "SELECT setval(pg_get_serial_sequence('persons', 'id'), (SELECT max(id) FROM persons))"
            )
            await conn.copy_records_to_table(
                "enrolments",
                records=enrolments,
                columns=[
                    "person_id",
                    "scheme",
                    "year",
                    "coverage_start",
                    "retiree",
                    "continuous_years",
                    "zero_claim_credit",
                ],
            )
            groups = int((await conn.execute(_GROUPS_SQL)).split()[-1])
            accounts = int((await conn.execute(_ACCOUNTS_SQL)).split()[-1])
            await conn.execute(_CREDITS_SQL)
            await conn.execute(_CHRONIC_SQL)
        await settle_down(conn)
    finally:
        await conn.close()
    employees = sum(1 for e in enrolments if e[1] == "employee")
    return SeedReport(count, employees, groups, accounts, time.perf_counter() - started)


_PRESCRIPTIONS_SQL = """
INSERT INTO prescriptions (rx_id, institution_code, region, doctor_code, person_id, id_number, diagnoses, items,
                           issued_at, valid_until, status, pickup_code_sha256)
SELECT r.rx_id, $6, p.region, 'D-BENCH', p.id, p.id_number, ARRAY[r.diagnosis], CAST(r.items AS jsonb),
       (r.day + time '08:00') AT TIME ZONE 'Asia/Shanghai', r.day + 2, 'issued', repeat('0', 64)
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[]) AS r (rx_id, id_number, diagnosis, items, day)
JOIN persons p ON p.id_number = r.id_number
ON CONFLICT (rx_id) DO NOTHING
"""


def prescriptions_for(
    templates: list[Any], salt: str, phase: str, sends: int, token: Any
) -> list[tuple[str, str, str, str, date]]:
    """The prescriptions the load generator's first ``sends`` requests of a phase dispense: send
    ``n`` is template ``n % len(templates)`` with the token ``token(salt, phase, n)`` (as
    ``loadgen.RequestSource`` makes them), so each of its ``pharmacy_rx`` bills names its own."""
    import orjson
    from bills import PLACEHOLDER

    rows = []
    for n in range(1, sends + 1):
        rx = templates[n % len(templates)].prescription
        if rx is None:
            continue
        rx_id = rx["rx_id"].replace(PLACEHOLDER.decode(), token(salt, phase, n).decode())
        items = orjson.dumps(rx["items"]).decode()
        rows.append((rx_id, rx["id_number"], rx["diagnoses"][0], items, date.fromisoformat(rx["service_date"])))
    return rows


async def issue_prescriptions(dsn: str, rows: list[tuple[str, str, str, str, date]], issuer: str) -> int:
    """Issue the phase's prescriptions beforehand, set-based (as a hospital would have, days before)."""
    if not rows:
        return 0
    conn = await asyncpg.connect(dsn)
    try:
        columns = [list(c) for c in zip(*rows, strict=True)]
        status = await conn.execute(_PRESCRIPTIONS_SQL, *columns, issuer)
        await conn.execute("ANALYZE prescriptions")
    finally:
        await conn.close()
    return int(status.split()[-1])


async def settle_down(conn: asyncpg.Connection) -> None:
    """Leave the freshly loaded database as a long-running one is: tuples frozen with their
    hint bits set and the visibility map built (VACUUM), statistics current (ANALYZE), dirty
    pages written (CHECKPOINT). Without it the first minutes of load pay for the bulk load:
    measured here, PostgreSQL spent 5.1 ms of CPU per settlement in phase A on a fresh seed
    against 1.7 ms in steady state, autovacuum and hint-bit writes competing with the bills."""
    await conn.execute("VACUUM (FREEZE, ANALYZE)")
    await conn.execute("CHECKPOINT")


async def _load_reference(settings: Settings) -> list[str]:
    engine = make_engine(settings, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            report = await load_reference(session, REPO_ROOT / "data" / "reference")
    finally:
        await engine.dispose()
    return report.lines()


def seed(database_url: str, persons: int, seed_value: int) -> SeedReport:
    """Fresh database with reference data and ``persons`` synthetic insured persons."""
    started = time.perf_counter()
    recreate_database(database_url)
    asyncio.run(_load_reference(Settings(database_url=database_url)))
    report = asyncio.run(_copy_population(plain_dsn(database_url), persons, seed_value))
    return SeedReport(
        report.persons,
        report.employees,
        report.groups,
        report.accounts,
        report.population_seconds,
        time.perf_counter() - started,
    )


async def _issue_keys(settings: Settings) -> list[dict[str, Any]]:
    engine = make_engine(settings, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            rows = (
                await session.execute(
                    text(
                        "SELECT code, type, level, region FROM institutions "
                        "WHERE agreement = 'active' AND code <> :suspended ORDER BY code"
                    ),
                    {"suspended": SUSPENDED},
                )
            ).all()
            return [
                {
                    "code": r.code,
                    "type": r.type,
                    "level": r.level,
                    "region": r.region,
                    "key": await create_institution_key(session, r.code),
                }
                for r in rows
            ]
    finally:
        await engine.dispose()


async def _sample_persons(dsn: str, count: int) -> list[dict[str, Any]]:
    """A fixed pseudo-random sample (same every run) of insured persons to bill."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """
            SELECT p.id_number, p.gender, p.birth_date, e.scheme,
                   a.person_id IS NOT NULL AS has_account
            FROM persons p
            JOIN enrolments e ON e.person_id = p.id AND e.year = $1
            LEFT JOIN personal_accounts a ON a.person_id = p.id
            WHERE p.death_date IS NULL
            ORDER BY md5(p.id::text)
            LIMIT $2
            """,
            YEAR,
            count,
        )
    finally:
        await conn.close()
    return [{**dict(r), "birth_date": r["birth_date"].isoformat()} for r in rows]


def workload(database_url: str, sample: int) -> dict[str, Any]:
    """What the load generator needs: persons to bill and a fresh key per active institution.

    Keys are issued every run (the database stores only their hashes, so an earlier run's
    keys cannot be recovered); that also makes ``--reuse-db`` work.
    """
    institutions = asyncio.run(_issue_keys(Settings(database_url=database_url)))
    persons = asyncio.run(_sample_persons(plain_dsn(database_url), sample))
    return {"today": clock.today().isoformat(), "institutions": institutions, "persons": persons}
