"""What the in-settlement monitoring rules add to one settlement (issue 5: ≤ 2 ms at p99).

    .venv/bin/python bench/rules_cost.py [--database yibao_bench] [--samples 5000]

The rules add two things to the settle path: (1) inside the patient statement, a LATERAL
lookup of an inpatient stay at another institution enclosing the service date (outpatient,
chronic and pharmacy bills only; index on person_id, service_date) and the agreement read, and
the running supplies of the bill's take-home items (超量开药; ``item_supplies`` on person, item,
end); and (2) ``apply_in_settlement`` in Python over the bill's warnings. This script times (1)
as the same subqueries alone, for random persons of a database the settlement benchmark filled
(``bench/run.py`` leaves ``yibao_bench``), and (2) on warnings shaped like real bills. It prints
p50 / p99 / max of each and their sum at p99.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "services"))

import asyncpg  # noqa: E402

from yibao.monitoring.rules import apply_in_settlement  # noqa: E402
from yibao.values import RuleWarning  # noqa: E402

OVERLAP = """
SELECT s.id, s.institution_code, s.admitted_on, s.discharged_on,
       (SELECT agreement FROM institutions WHERE code = $3) AS agreement
FROM settlements s
WHERE s.person_id = $1 AND s.service_date > $2 AND s.visit_type = 'inpatient'
  AND s.status = 'settled' AND s.institution_code <> $3 AND s.admitted_on < $2 AND s.discharged_on > $2
LIMIT 1
"""

#: the patient statement's 超量开药 lookup (``bill_settlement.sql``): per item, the longest running supply
SUPPLY = """
SELECT (SELECT CAST(jsonb_agg(jsonb_build_object('item_code', su.item_code, 'starts_on', su.starts_on,
                                                 'ends_on', su.ends_on, 'settlement_id', su.settlement_id)) AS text)
        FROM (SELECT DISTINCT ON (x.item_code) x.item_code, x.starts_on, x.ends_on, x.settlement_id
              FROM item_supplies x
              WHERE cardinality($3::varchar[]) > 0 AND x.person_id = $1 AND x.item_code = ANY ($3::varchar[])
                AND x.ends_on > $2 AND x.starts_on <= $2
              ORDER BY x.item_code, x.ends_on DESC) su)
"""
DRUGS = ["D-AMOX-250", "D-METF-500", "D-ATOR-20", "D-INSG-300", "D-TAMS-02", "D-PEDC-10", "D-VITC-100"]


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]


async def sql_cost(dsn: str, samples: int) -> list[float]:
    conn = await asyncpg.connect(dsn)
    try:
        people = [r[0] for r in await conn.fetch("SELECT DISTINCT person_id FROM settlements LIMIT 20000")]
        stmt = await conn.prepare(OVERLAP)
        supplied = await conn.fetchval("SELECT to_regclass('item_supplies') IS NOT NULL")
        supply = await conn.prepare(SUPPLY) if supplied else None
        empty = await conn.prepare("SELECT $1::bigint, $2::date, $3::text")  # the round trip alone
        out = []
        for _ in range(samples):
            person = random.choice(people)
            d = date(2026, random.randint(1, 11), random.randint(1, 28))
            t = time.perf_counter()
            await empty.fetch(person, d, "H430522100")
            trip = time.perf_counter() - t
            t = time.perf_counter()
            await stmt.fetch(person, d, "H430522100")
            if supply is not None:  # a bill of one to three take-home drugs
                await supply.fetch(person, d, random.sample(DRUGS, random.randint(1, 3)))
            trips = trip * (2 if supply is not None else 1)  # in the settle path both share one statement
            out.append(max(0.0, time.perf_counter() - t - trips) * 1000)
        return out
    finally:
        await conn.close()


def python_cost(samples: int) -> list[float]:
    from yibao.monitoring.rules import RuleSet

    rules = RuleSet.defaults()
    shapes = [
        (),
        (RuleWarning("units_per_day", "bed fee twice a day"),),
        (RuleWarning("gender_restriction", "line 3"), RuleWarning("days_supply", "line 5")),
    ]
    out = []
    for _ in range(samples):
        warnings = random.choice(shapes)
        t = time.perf_counter()
        apply_in_settlement(rules, "430522", warnings)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default="yibao_bench")
    ap.add_argument("--samples", type=int, default=5000)
    args = ap.parse_args()
    sql = asyncio.run(sql_cost(f"postgresql://postgres@localhost:5432/{args.database}", args.samples))
    py = python_cost(args.samples)
    for name, xs in (("overlap + agreement + supply lookup (SQL, minus a trip)", sql), ("rules in Python", py)):
        print(f"{name:<56} p50 {statistics.median(xs):.3f} ms  p99 {pct(xs, 0.99):.3f} ms  max {max(xs):.3f} ms")
    print(
        f"{'sum at p99 (it shares the patient statement round trip)':<56} "
        f"{pct(sql, 0.99) + pct(py, 0.99):.3f} ms (target ≤ 2 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
