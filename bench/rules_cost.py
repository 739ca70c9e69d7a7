"""What the in-settlement monitoring rules add to one settlement (issue 5: ≤ 2 ms at p99).

    .venv/bin/python bench/rules_cost.py [--database yibao_bench] [--samples 5000]

The rules add two things to the settle path: (1) inside the patient statement, a LATERAL
lookup of an inpatient stay at another institution enclosing the service date (outpatient,
chronic and pharmacy bills only; index on person_id, service_date) and the agreement read; and
(2) ``apply_in_settlement`` in Python over the bill's warnings. This script times (1) as the
same subquery alone, for random persons of a database the settlement benchmark filled
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


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]


async def sql_cost(dsn: str, samples: int) -> list[float]:
    conn = await asyncpg.connect(dsn)
    try:
        people = [r[0] for r in await conn.fetch("SELECT DISTINCT person_id FROM settlements LIMIT 20000")]
        stmt = await conn.prepare(OVERLAP)
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
            out.append(max(0.0, time.perf_counter() - t - trip) * 1000)
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
    for name, xs in (("overlap + agreement lookup (SQL, minus a bare round trip)", sql), ("rules in Python", py)):
        print(f"{name:<56} p50 {statistics.median(xs):.3f} ms  p99 {pct(xs, 0.99):.3f} ms  max {max(xs):.3f} ms")
    print(
        f"{'sum at p99 (it shares the patient statement round trip)':<56} "
        f"{pct(sql, 0.99) + pct(py, 0.99):.3f} ms (target ≤ 2 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
