"""Benchmark: post-settlement models over a synthetic year (fee lines per second).

    .venv/bin/python bench/monitor_models.py                      # 1,000,000 bills, 60,000 persons
    .venv/bin/python bench/monitor_models.py --bills 300000 --persons 20000

Builds its own database ``yibao_monitor_bench`` (migrations + reference data), COPYs the synthetic
year with its planted violations (``tools.monitoring.synthetic``), then runs every model the way
the nightly ``monitor_sweep`` job does — each model one set-based statement in its own
transaction — first one at a time, then ``--parallel`` at a time (the job's default is 2, the
cores of this machine). pgbench TPC-B is measured in the same run for scale. Issue 5's target:
≥ 200,000 fee lines/s over 1,000,000 lines. Results are appended to ``bench/RESULTS.md``.
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

from baseline import run_pgbench  # noqa: E402
from results import environment  # noqa: E402
from sqlalchemy import text  # noqa: E402

from tools.monitoring import synthetic  # noqa: E402
from yibao.config import REPO_ROOT, Settings  # noqa: E402
from yibao.db import admin  # noqa: E402
from yibao.db.engine import make_engine, make_sessionmaker  # noqa: E402
from yibao.monitoring.repository import load_rules  # noqa: E402
from yibao.monitoring.sweep import MODELS, run_model, sweep_in_parallel  # noqa: E402

BASE = "postgresql+asyncpg://postgres@localhost:5432"


async def prepare(url: str, persons: int, bills: int, year: int) -> dict[str, int]:
    from yibao.reference.loader import load_reference

    engine = make_engine(Settings(database_url=url), pool_size=1)
    sm = make_sessionmaker(engine)
    async with sm() as s, s.begin():
        await load_reference(s, REPO_ROOT / "data" / "reference")
    async with sm() as s, s.begin():
        rules = await load_rules(s)
        ids = await synthetic.reserve_person_ids(s, synthetic.planted_people(persons))
        counts = dict(
            await synthetic.write(s, synthetic.generate(rules, persons, bills, year=year, seed=1, person_ids=ids))
        )
    async with engine.connect() as c:
        await c.execution_options(isolation_level="AUTOCOMMIT")
        await c.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    return counts


async def sweep(url: str, year: int, parallel: int) -> tuple[float, dict[str, float]]:
    engine = make_engine(Settings(database_url=url), pool_size=max(2, parallel))
    sm = make_sessionmaker(engine)
    async with sm() as s:
        rules = await load_rules(s)
    async with sm() as s, s.begin():  # a clean slate: every run finds the same suspects
        await s.execute(text("DELETE FROM suspects"))
    per_model: dict[str, float] = {}
    began = time.perf_counter()
    if parallel == 1:
        for rule_id in MODELS:
            t = time.perf_counter()
            async with sm() as s, s.begin():
                await run_model(s, rules.get(rule_id), date(year, 1, 1), date(year, 12, 31))
            per_model[rule_id] = time.perf_counter() - t
    else:
        await sweep_in_parallel(sm, rules, date(year, 1, 1), date(year, 12, 31), parallelism=parallel)
    took = time.perf_counter() - began
    await engine.dispose()
    return took, per_model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=60_000)
    ap.add_argument("--bills", type=int, default=1_000_000)
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-results", action="store_true")
    args = ap.parse_args()
    url = f"{BASE}/yibao_monitor_bench"
    asyncio.run(admin.drop_database(url))
    asyncio.run(admin.create_database(url))
    admin.upgrade(url)
    t0 = time.perf_counter()
    counts = asyncio.run(prepare(url, args.persons, args.bills, args.year))
    print(f"generated {counts} in {time.perf_counter() - t0:.1f} s")
    pg = None if args.no_baseline else run_pgbench(f"{BASE}/yibao_pgbench", clients=8, threads=2, seconds=15, scale=10)
    if pg:
        print(f"pgbench TPC-B: {pg.tps:,.0f} tps")
    one, per_model = asyncio.run(sweep(url, args.year, 1))
    for rule_id, took in per_model.items():
        print(f"  {rule_id:<24}{took:>8.2f} s")
    many, _ = asyncio.run(sweep(url, args.year, args.parallel))
    lines = counts["lines"]
    report = [
        f"## {time.strftime('%Y-%m-%d %H:%M')} post-settlement models (bench/monitor_models.py)",
        "",
        f"- machine: {environment(REPO_ROOT, {})['uname']}; commit {environment(REPO_ROOT, {})['commit']}",
        f"- pgbench TPC-B (scale 10, 8 clients): {pg.tps:,.0f} tps" if pg else "- pgbench: skipped",
        f"- data: {counts}",
        f"- all {len(MODELS)} models one at a time: {one:.2f} s = **{lines / one:,.0f} fee lines/s**",
        f"- {args.parallel} at a time (the job's default): {many:.2f} s = **{lines / many:,.0f} fee lines/s** "
        f"(target ≥ 200,000: {'met' if lines / many >= 200_000 else 'NOT met'})",
        "- per model (one at a time): " + ", ".join(f"{k} {v:.2f} s" for k, v in per_model.items()),
        "",
    ]
    print("\n".join(report))
    if not args.no_results:
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n" + "\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
