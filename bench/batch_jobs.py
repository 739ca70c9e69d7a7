"""Batch jobs against their targets (issue 4), with pgbench measured in the same run.

    .venv/bin/python bench/batch_jobs.py            # 1,000,000 settlements, 100k reconcile rows, 100k cases
    .venv/bin/python bench/batch_jobs.py --scale 0.1  # a tenth of everything (~1 min)

A fresh database ``yibao_batch`` is built by the project's migrations and reference loader, then
seeded set-based (``INSERT … SELECT generate_series``): 1,000 hospitals, 20,000 persons,
1,000,000 bills on one business day (5% cancelled the same day), a 100,000-bill month at one
hospital for the reconcile upload, and 100,000 inpatient cases over the year for clearing.
Then it times, each in its own transaction, exactly the core functions the jobs call:

* ledger catch-up of the day (what the settlement worker does bill by bill during the day),
* daily settle of the day (target ≤ 10 s for 1,000,000 bills over 1,000 institutions),
* reconcile of a 100,000-row CSV upload: parse + compare + store (target ≤ 5 s),
* DIP clearing preview of 100,000 inpatient cases (target ≤ 10 s).

Figures are printed and appended to ``bench/RESULTS.md`` beside that run's pgbench TPC-B rate,
so a slow machine shows as a slow baseline too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "services"))
sys.path.insert(0, str(HERE))

from baseline import run_pgbench  # noqa: E402
from results import environment  # noqa: E402
from sqlalchemy import text  # noqa: E402

from yibao.config import REPO_ROOT, Settings  # noqa: E402
from yibao.db import admin  # noqa: E402
from yibao.db.engine import make_engine, make_sessionmaker  # noqa: E402

DAY = date(2026, 6, 15)
RECONCILE_MONTH = "2026-05"
BASE = "postgresql+asyncpg://postgres@localhost:5432"

_INSTITUTIONS = """
INSERT INTO institutions (code, name, type, level, region, agreement, credit_grade, annual_budget, dip_coefficient)
SELECT 'B' || lpad(i::text, 9, '0'), '基准医院' || i, 'hospital', 1 + i % 3, '430522', 'active', 'A',
       5000000000, 0.9 + (i % 3) * 0.05
FROM generate_series(0, :n - 1) AS i
"""
_PERSONS = """
INSERT INTO persons (id_number, name, region, birth_date, gender)
SELECT 'B' || lpad(i::text, 17, '0'), '基准' || i, '430522', date '1960-01-01' + (i % 15000), CASE WHEN i % 2 = 0
       THEN 'M' ELSE 'F' END
FROM generate_series(0, :n - 1) AS i
"""
# one statement per bill shape; every money identity holds (total = fund_total + personal_part …)
_BILLS = """
INSERT INTO settlements (id, institution_code, person_id, id_number, idempotency_key, visit_no, visit_type, scheme,
  year, admitted_on, discharged_on, service_date, diagnoses, procedures, status, settled_at, cancelled_at,
  policy_version,
  admission_order, funds_off, cross_region, third_party_liable, total, full_self_pay, over_cap_self_pay, pre_self_pay,
  policy_range, deductible, basic_fund, critical_illness, medical_assistance, fund_total, personal_part,
  personal_account, cash, accrual, warnings, explanation)
SELECT gen_random_uuid(), 'B' || lpad((:inst_offset + i % :insts)::text, 9, '0'), p.id, p.id_number,
       CAST(:tag AS text) || i, CAST(:tag AS text) || i, CAST(:visit_type AS text), 'resident', 2026,
       CASE WHEN CAST(:visit_type AS text) = 'inpatient' THEN d - 5 END,
       CASE WHEN CAST(:visit_type AS text) = 'inpatient' THEN d END, d,
       ARRAY[g.main_diagnosis]::varchar[], CASE WHEN g.procedure IS NULL THEN ARRAY[]::varchar[]
                                             ELSE ARRAY[g.procedure]::varchar[] END,
       CASE WHEN i % 20 = 0 AND CAST(:cancel AS boolean) THEN 'cancelled' ELSE 'settled' END,
       (d + time '08:00' + (i % 36000) * interval '1 second') AT TIME ZONE 'Asia/Shanghai',
       CASE WHEN i % 20 = 0 AND CAST(:cancel AS boolean)
            THEN (d + time '19:00' + (i % 3600) * interval '1 second') AT TIME ZONE 'Asia/Shanghai' END,
       '430522-2026-v3', NULL, false, false, false,
       t.total, 0, 0, 0, t.total, 0, t.basic, t.ci, 0, t.basic + t.ci, t.total - t.basic - t.ci,
       t.acct, t.total - t.basic - t.ci - t.acct, '{}'::jsonb, '[]'::jsonb, '[]'::jsonb
FROM generate_series(0, :n - 1) AS i
JOIN persons p ON p.id = (SELECT min(id) FROM persons) + i % :persons
CROSS JOIN LATERAL (SELECT (CAST(:first AS date) + (i % :days))::date AS d) AS dd
CROSS JOIN LATERAL (SELECT * FROM dip_groups ORDER BY code OFFSET i % (SELECT count(*) FROM dip_groups) LIMIT 1) g
CROSS JOIN LATERAL (SELECT (1000 + (i::bigint * 7919) % 900000) AS total) AS t0
CROSS JOIN LATERAL (SELECT t0.total, t0.total * 6 / 10 AS basic, CASE WHEN i % 10 = 0 THEN t0.total / 10 ELSE 0 END
                    AS ci, CASE WHEN i % 4 = 0 THEN t0.total / 20 ELSE 0 END AS acct) AS t
"""


def _timed(label: str, results: dict[str, float]):  # type: ignore[no-untyped-def]
    class _T:
        def __enter__(self) -> None:
            self.t = time.perf_counter()
            print(f"  {label} …", end="", flush=True)

        def __exit__(self, *exc: object) -> None:
            results[label] = time.perf_counter() - self.t
            print(f" {results[label]:.2f} s", flush=True)

    return _T()


async def seed(url: str, n_bills: int, n_rec: int, n_cases: int, insts: int, persons: int) -> dict[str, float]:
    seeded: dict[str, float] = {}
    engine = make_engine(Settings(database_url=url), pool_size=1)
    sm = make_sessionmaker(engine)
    async with sm() as s, s.begin():
        with _timed(f"seed {insts} institutions + {persons} persons", seeded):
            await s.execute(text(_INSTITUTIONS), {"n": insts})
            await s.execute(text(_PERSONS), {"n": persons})
        common = {"persons": persons, "cancel": True}
        with _timed(f"seed {n_bills:,} bills on {DAY}", seeded):
            await s.execute(
                text(_BILLS),
                {
                    **common,
                    "n": n_bills,
                    "insts": insts,
                    "inst_offset": 0,
                    "tag": "D",
                    "visit_type": "outpatient",
                    "first": DAY,
                    "days": 1,
                },
            )
        with _timed(f"seed {n_rec:,} bills in {RECONCILE_MONTH} at one hospital", seeded):
            await s.execute(
                text(_BILLS),
                {
                    **common,
                    "n": n_rec,
                    "insts": 1,
                    "inst_offset": 0,
                    "tag": "R",
                    "visit_type": "outpatient",
                    "first": date(2026, 5, 1),
                    "days": 31,
                    "cancel": False,
                },
            )
        with _timed(f"seed {n_cases:,} inpatient cases over 2026", seeded):
            await s.execute(
                text(_BILLS),
                {
                    **common,
                    "n": n_cases,
                    "insts": min(insts, 200),
                    "inst_offset": 0,
                    "tag": "C",
                    "visit_type": "inpatient",
                    "first": date(2026, 1, 10),
                    "days": 300,
                    "cancel": False,
                },
            )
    async with engine.connect() as c:
        await c.execution_options(isolation_level="AUTOCOMMIT")
        await c.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    return seeded


async def measure(url: str, n_rec: int) -> dict[str, Any]:
    from yibao.clearing import year_end
    from yibao.ledger.postings import post_day
    from yibao.payouts.daily_settle import settle_day
    from yibao.reconcile import monthly

    timings: dict[str, float] = {}
    out: dict[str, Any] = {}
    engine = make_engine(Settings(database_url=url), pool_size=2)
    sm = make_sessionmaker(engine)
    async with sm() as s, s.begin():
        with _timed("ledger catch-up of the day (postings the worker writes during the day)", timings):
            out["legs"] = await post_day(s, DAY)
    async with sm() as s, s.begin():
        with _timed("daily settle of the day", timings):
            result = await settle_day(s, DAY, "bench")
        out["order_lines"], out["order_total_fen"] = result.lines, result.total
    async with sm() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT id::text, scheme, total, fund_total, personal_account FROM settlements "
                    "WHERE idempotency_key LIKE 'R%' ORDER BY id"
                )
            )
        ).all()
    csv = "settlement_id,scheme,total,fund_pay,account_pay\n" + "".join(
        f"{r[0]},{r[1]},{r[2] / 100:.2f},{r[3] / 100:.2f},{r[4] / 100:.2f}\n" for r in rows
    )
    async with sm() as s, s.begin():
        with _timed(f"reconcile of a {len(rows):,}-row CSV upload", timings):
            details = monthly.parse_csv(csv.encode())
            totals = [
                monthly.SchemeTotal(
                    "resident",
                    len(details),
                    sum(d.total for d in details),
                    sum(d.fund_pay for d in details),
                    sum(d.account_pay for d in details),
                )
            ]
            row = await monthly.submit(s, "B000000000", RECONCILE_MONTH, totals, details)
        out["reconcile_status"] = monthly.render(row)["status"]
    async with sm() as s:
        with _timed("DIP clearing preview of the year's inpatient cases", timings):
            body = await year_end.preview(s, "430522", 2026)
        out["clearing_institutions"] = len(body.get("institutions", body.get("statements", [])))
    await engine.dispose()
    out["timings"] = timings
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the row counts (default 1.0)")
    ap.add_argument("--no-baseline", action="store_true", help="skip pgbench")
    ap.add_argument("--no-results", action="store_true", help="do not append to bench/RESULTS.md")
    args = ap.parse_args(argv)
    n_bills, n_rec, n_cases = (int(x * args.scale) for x in (1_000_000, 100_000, 100_000))
    url = f"{BASE}/yibao_batch"
    print(f"fresh database yibao_batch: {n_bills:,} bills / {n_rec:,} reconcile rows / {n_cases:,} cases")
    asyncio.run(admin.drop_database(url))
    asyncio.run(admin.create_database(url))
    admin.upgrade(url)
    asyncio.run(_load_reference(url))
    seeded = asyncio.run(seed(url, n_bills, n_rec, n_cases, 1000, 20_000))
    pg = None
    if not args.no_baseline:
        print("pgbench TPC-B baseline (scale 10, 8 clients, 15 s) …", flush=True)
        pg = run_pgbench(f"{BASE}/yibao_pgbench", clients=8, threads=2, seconds=15, scale=10)
        print(f"  {pg.tps:,.0f} tps")
    out = asyncio.run(measure(url, n_rec))
    targets = {
        "daily settle of the day": 10.0 * args.scale,
        f"reconcile of a {n_rec:,}-row CSV upload": 5.0 * args.scale,
        "DIP clearing preview of the year's inpatient cases": 10.0 * args.scale,
    }
    lines = [f"## {time.strftime('%Y-%m-%d %H:%M')} batch jobs (bench/batch_jobs.py, scale {args.scale})", ""]
    env = environment(REPO_ROOT, {})
    lines += [
        f"- machine: {env['uname']}, {env['cpus']} CPUs; commit {env['commit']}",
        f"- pgbench TPC-B (scale 10, 8 clients): {pg.tps:,.0f} tps" if pg else "- pgbench: skipped",
        f"- seeded: {', '.join(f'{k} {v:.1f} s' for k, v in seeded.items())}",
        "",
        "| job | seconds | target | rows/s |",
        "|---|---|---|---|",
    ]
    rows_of = {"ledger catch-up": n_bills, "daily settle": n_bills, "reconcile": n_rec, "DIP clearing": n_cases}
    for label, seconds in out["timings"].items():
        target = targets.get(label)
        n = next((v for k, v in rows_of.items() if label.startswith(k)), 0)
        verdict = f"≤ {target:.1f} s {'met' if seconds <= target else 'NOT met'}" if target else "—"
        lines.append(f"| {label} | {seconds:.2f} | {verdict} | {n / seconds:,.0f} |")
    lines += [
        "",
        f"- daily settle: {out['order_lines']} order lines, total {out['order_total_fen'] / 100:,.2f} yuan; "
        f"ledger legs written {out['legs']:,}; reconcile answer {out['reconcile_status']}",
        "",
    ]
    report = "\n".join(lines)
    print("\n" + report)
    if not args.no_results:
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n" + report + "\n")
    return 0


async def _load_reference(url: str) -> None:
    from yibao.reference.loader import load_reference

    engine = make_engine(Settings(database_url=url), pool_size=1)
    async with make_sessionmaker(engine)() as s, s.begin():
        await load_reference(s, REPO_ROOT / "data" / "reference")
    await engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
