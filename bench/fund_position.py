"""Benchmark: the fund position of a scheme for a year over many postings (issue #19: ≤ 2 s over
10,000,000 postings).

    .venv/bin/python bench/fund_position.py                      # 10,000,000 postings
    .venv/bin/python bench/fund_position.py --postings 2000000

Builds its own database ``yibao_fund_bench`` (migrations + reference data), writes the postings
set-based (bill legs — claims and payable — for both schemes and the pooled funds over 2026–2027,
plus premium and contribution legs), VACUUM ANALYZEs, then times ``GET /reports/fund-position``'s
core (``yibao.ledger.position.fund_position``) for each scheme on 2027-12-31, best of three.
Results are appended to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "services"))

from results import environment  # noqa: E402
from sqlalchemy import text  # noqa: E402

from yibao.config import REPO_ROOT, Settings  # noqa: E402
from yibao.db import admin  # noqa: E402
from yibao.db.engine import make_engine, make_sessionmaker  # noqa: E402
from yibao.ledger import position  # noqa: E402

BASE = "postgresql+asyncpg://postgres@localhost:5432"
CHUNK = 1_000_000

#: one movement = two legs: n/2 movements, 96 % bills (claims ← payable), 4 % income (bank ← premiums/contributions)
_LEGS = text(
    """
    INSERT INTO ledger_postings (movement, source, institution_code, fund, account, amount, business_date, scheme)
    SELECT CASE WHEN m.income THEN 'premium' ELSE 'settlement' END, 'bench:' || m.n,
           CASE WHEN m.income THEN 'FUND' ELSE 'H' || (m.n % 200) END,
           CASE WHEN m.n % 5 = 0 THEN 'critical_illness' ELSE 'basic' END,
           CASE WHEN m.income THEN (ARRAY['bank', 'premiums'])[l.i] ELSE (ARRAY['claims', 'payable'])[l.i] END,
           CASE WHEN l.i = 1 THEN m.amount ELSE -m.amount END,
           DATE '2026-01-01' + CAST(m.n % 730 AS int), CASE WHEN m.n % 3 = 0 THEN 'employee' ELSE 'resident' END
    FROM (SELECT n, n % 25 = 0 AS income, 1000 + (n * 7919) % 500000 AS amount
          FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) n) m
    CROSS JOIN generate_series(1, 2) AS l(i)
    """
)


async def prepare(url: str, postings: int) -> None:
    from yibao.reference.loader import load_reference

    engine = make_engine(Settings(database_url=url), pool_size=1)
    sm = make_sessionmaker(engine)
    async with sm() as s, s.begin():
        await load_reference(s, REPO_ROOT / "data" / "reference")
    movements = postings // 2
    for first in range(1, movements + 1, CHUNK // 2):
        async with sm() as s, s.begin():
            await s.execute(_LEGS, {"first": first, "last": min(movements, first + CHUNK // 2 - 1)})
    async with engine.connect() as c:
        await c.execution_options(isolation_level="AUTOCOMMIT")
        await c.execute(text("VACUUM ANALYZE ledger_postings"))
    await engine.dispose()


async def measure(url: str) -> dict[str, float]:
    engine = make_engine(Settings(database_url=url), pool_size=1)
    sm = make_sessionmaker(engine)
    best: dict[str, float] = {}
    for scheme in ("resident", "employee"):
        for _ in range(3):
            async with sm() as s:
                t = time.perf_counter()
                p = await position.fund_position(s, scheme, date(2027, 12, 31))
                took = time.perf_counter() - t
            best[scheme] = min(best.get(scheme, took), took)
        print(f"{scheme}: closing {p.closing} months {p.months_of_balance} in {best[scheme]:.3f} s")
    await engine.dispose()
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postings", type=int, default=10_000_000)
    ap.add_argument("--no-results", action="store_true")
    args = ap.parse_args()
    url = f"{BASE}/yibao_fund_bench"
    asyncio.run(admin.drop_database(url))
    asyncio.run(admin.create_database(url))
    admin.upgrade(url)
    t0 = time.perf_counter()
    asyncio.run(prepare(url, args.postings))
    print(f"wrote {args.postings:,} postings in {time.perf_counter() - t0:.1f} s")
    best = asyncio.run(measure(url))
    env = environment(REPO_ROOT, {})
    report = [
        f"## {time.strftime('%Y-%m-%d %H:%M')} fund position (bench/fund_position.py)",
        "",
        f"- machine: {env['uname']}; commit {env['commit']}",
        f"- data: {args.postings:,} ledger postings over 2026–2027 (96 % bill legs, 4 % income legs)",
        "- fund position on 2027-12-31, best of three: "
        + ", ".join(f"{k} **{v:.3f} s**" for k, v in best.items())
        + f" (target ≤ 2 s: {'met' if max(best.values()) <= 2 else 'NOT met'})",
        "",
    ]
    print("\n".join(report))
    if not args.no_results:
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n" + "\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
