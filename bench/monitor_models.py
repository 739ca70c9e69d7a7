"""Benchmark: post-settlement models over a synthetic year (fee lines per second).

    .venv/bin/python bench/monitor_models.py --persons 60000 --bills 1000000

Runs against ``DATABASE_URL`` in one transaction that is rolled back (nothing is left).
Prints the time of every model and fee lines per second for the whole sweep.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import date

from sqlalchemy import text

from yibao.config import get_settings
from yibao.db.engine import make_engine, make_sessionmaker
from yibao.monitoring import synthetic
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import MODELS, run_model


async def main(persons: int, bills: int, year: int) -> None:
    engine = make_engine(get_settings(), pool_size=1)
    async with make_sessionmaker(engine)() as session:
        try:
            rules = await load_rules(session)
            ids = await synthetic.reserve_person_ids(session, synthetic.planted_people(persons))
            t0 = time.perf_counter()
            counts = await synthetic.write(
                session, synthetic.generate(rules, persons, bills, year=year, seed=1, person_ids=ids)
            )
            for table in ("settlements", "settlement_lines", "persons"):
                await session.execute(text(f"ANALYZE {table}"))
            print(f"generated {counts} in {time.perf_counter() - t0:.1f} s")
            total = 0.0
            for rule_id in MODELS:
                began = time.perf_counter()
                n = await run_model(session, rules.get(rule_id), date(year, 1, 1), date(year, 12, 31))
                took = time.perf_counter() - began
                total += took
                print(f"{rule_id:<24}{took:>8.2f} s  {n:>6} suspects")
            print(f"all models: {total:.2f} s, {counts['lines'] / total:,.0f} fee lines/s")
        finally:
            await session.rollback()
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=60_000)
    parser.add_argument("--bills", type=int, default=1_000_000)
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()
    asyncio.run(main(args.persons, args.bills, args.year))
