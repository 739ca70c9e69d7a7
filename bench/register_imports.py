"""Register imports (issue 16): a 100,000-row death registry file and a 100,000-row group feed.

    .venv/bin/python bench/register_imports.py              # 100,000 rows each (target ≤ 10 s each)
    .venv/bin/python bench/register_imports.py --scale 0.1  # a tenth

A fresh database ``yibao_register`` is built by the project's migrations and reference loader,
then seeded set-based: 200,000 persons with valid GB 11643 ID numbers in region 430522, the
first 50,000 tagged 城乡低保户 (``min_living``) since 2026-01-01. Then it times exactly the use
cases the import endpoint calls, parse included, each in its own transaction:

* a death file of 100,000 rows: 50,000 registered people (recorded) and 50,000 unknown,
* a 低保 feed of 100,000 rows for 430522 on 2026-11-01: the first 25,000 tagged people stay
  (unchanged), 75,000 untagged people are new (added), the other 25,000 tagged ones are ended;
  with ``--new-people 0.1`` a tenth of the file's rows (taken from the added ones) are people not
  registered yet, with a name: registered and tagged (created) in the same run.

Figures are printed and appended to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "services"))

from sqlalchemy import text  # noqa: E402

from yibao import audit, clock  # noqa: E402
from yibao.config import REPO_ROOT, Settings  # noqa: E402
from yibao.db import admin  # noqa: E402
from yibao.db.engine import make_engine, make_sessionmaker  # noqa: E402
from yibao.db.uow import UnitOfWork  # noqa: E402
from yibao.people import deaths, group_feed  # noqa: E402
from yibao.people.id_number import make  # noqa: E402

BASE = "postgresql+asyncpg://postgres@localhost:5432"
ACTOR = audit.Actor("staff", "bench-clerk")
FEED_DATE = date(2026, 11, 1)


def id_of(i: int) -> str:
    """A valid ID for person ``i``: born on one of 20,000 days, sequence from the rest."""
    born = date.fromordinal(date(1950, 1, 1).toordinal() + i % 20_000)
    return make(f"430522{born:%Y%m%d}{i // 20_000:03d}")


async def seed(url: str, n: int, tagged: int) -> float:
    engine = make_engine(Settings(database_url=url), pool_size=1)
    began = time.perf_counter()
    ids = [id_of(i) for i in range(n)]
    async with make_sessionmaker(engine)() as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO persons (id_number, name, region, birth_date, gender) "
                "SELECT i, '基准' || o, '430522', to_date(substr(i, 7, 8), 'YYYYMMDD'), "
                "CASE WHEN substr(i, 17, 1)::int % 2 = 1 THEN 'M' ELSE 'F' END "
                "FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS t(i, o)"
            ),
            {"ids": ids},
        )
        await s.execute(
            text(
                'INSERT INTO person_groups (person_id, "group", valid_from) '
                "SELECT id, 'min_living', DATE '2026-01-01' FROM persons WHERE id_number = ANY(CAST(:ids AS text[]))"
            ),
            {"ids": ids[:tagged]},
        )
    await engine.dispose()
    return time.perf_counter() - began


def new_id_of(i: int) -> str:
    """A valid ID that ``id_of`` never gives (sequence 500 and up): a person not registered."""
    born = date.fromordinal(date(1950, 1, 1).toordinal() + i % 20_000)
    return make(f"430522{born:%Y%m%d}{500 + i // 20_000:03d}")


async def measure(url: str, rows: int, new_people: float = 0.0) -> dict[str, tuple[float, dict[str, int]]]:
    engine = make_engine(Settings(database_url=url), pool_size=2)
    sm = make_sessionmaker(engine)
    half, quarter = rows // 2, rows // 4
    out: dict[str, tuple[float, dict[str, int]]] = {}
    # deaths: people 1.5 × rows … 2 × rows are registered (untagged), the rest unknown
    unknown = [make(f"430522{date(1940, 1, 1) + timedelta(days=i % 3000):%Y%m%d}9{i // 3000:02d}") for i in range(half)]
    lines = ["id_number,name,death_date"] + [f"{id_of(rows + half + i)},,2026-06-01" for i in range(half)]
    lines += [f"{u},,2026-06-01" for u in unknown]
    content = ("\n".join(lines) + "\n").encode()
    began = time.perf_counter()
    async with UnitOfWork(sm) as uow:
        done = await deaths.import_deaths(
            uow, ACTOR, "bench", deaths.parse_csv(content), hashlib.sha256(content).hexdigest()
        )
    out[f"death registry, {rows:,} rows"] = (time.perf_counter() - began, _counts(done.run.result))
    # 低保 feed: the first quarter of the tagged stay, three quarters of the rows are new people
    lines = ["id_number,name,group,valid_from"] + [f"{id_of(i)},,min_living,2026-01-01" for i in range(quarter)]
    new = int(rows * new_people)
    lines += [f"{id_of(half + i)},,min_living,2026-11-01" for i in range(rows - quarter - new)]
    lines += [f"{new_id_of(i)},新人{i},min_living,2026-11-01" for i in range(new)]
    content = ("\n".join(lines) + "\n").encode()
    began = time.perf_counter()
    async with UnitOfWork(sm) as uow:
        done = await group_feed.import_feed(
            uow,
            ACTOR,
            source="bench",
            group="min_living",
            region="430522",
            feed_date=FEED_DATE,
            rows=group_feed.parse_csv(content),
            sha256=hashlib.sha256(content).hexdigest(),
        )
    out[f"group feed, {rows:,} rows"] = (time.perf_counter() - began, _counts(done.run.result))
    await engine.dispose()
    return out


def _counts(result: dict[str, object] | None) -> dict[str, int]:
    counts = (result or {}).get("counts", {})
    assert isinstance(counts, dict)
    return {k: int(v) for k, v in counts.items() if v}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the row counts (default 1.0)")
    ap.add_argument("--no-results", action="store_true", help="do not append to bench/RESULTS.md")
    ap.add_argument(
        "--new-people",
        type=float,
        default=0.0,
        help="the share of the group feed's rows that are people not registered yet, with a name (e.g. 0.1)",
    )
    args = ap.parse_args(argv)
    rows = int(100_000 * args.scale)
    url = f"{BASE}/yibao_register"
    clock.set_clock(lambda: datetime(2026, 12, 3, 2, tzinfo=UTC))  # the README's day
    asyncio.run(admin.drop_database(url))
    asyncio.run(admin.create_database(url))
    admin.upgrade(url)
    asyncio.run(_load_reference(url))
    seeded = asyncio.run(seed(url, 2 * rows, rows // 2))
    out = asyncio.run(measure(url, rows, args.new_people))
    lines = [
        f"## {time.strftime('%Y-%m-%d %H:%M')} register imports (bench/register_imports.py, scale {args.scale}, "
        f"new people {args.new_people:.0%})",
        "",
    ]
    lines += [f"- seeded {2 * rows:,} persons in {seeded:.1f} s", "", "| import | seconds | target | rows |"]
    lines += ["|---|---|---|---|"]
    for label, (seconds, counts) in out.items():
        target = 10.0 * args.scale
        verdict = f"≤ {target:.1f} s {'met' if seconds <= target else 'NOT met'}"
        lines.append(f"| {label} | {seconds:.2f} | {verdict} | {', '.join(f'{k} {v:,}' for k, v in counts.items())} |")
    report = "\n".join(lines)
    print(report)
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
