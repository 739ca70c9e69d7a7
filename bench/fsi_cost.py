"""What the national envelope adds to one outpatient settle (issue 20: 2207 after 2204 ≤ 120 %
of the native settle's CPU per bill), measured in the same run.

    .venv/bin/python bench/fsi_cost.py [--bills 300] [--database yibao_bench_fsi]

A fresh database (migrations, reference data), an in-process API (httpx on the ASGI app, so the
figure is the API's own Python CPU plus a thin client; PostgreSQL's CPU is not in it), and N
enrolled residents. For each person the same two-line outpatient bill is settled twice, at two
visits: natively (``POST /api/v1/settlements``) and through the envelope (2201 and 2204 first,
not timed, then 2207 timed). CPU is ``time.process_time`` around the one request; the script
prints the mean CPU per bill of each, the ratio, and the whole conversation's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "services"))
sys.path.insert(0, str(HERE.parent))

import httpx  # noqa: E402
from tests.builders import new_id_number  # noqa: E402

from yibao.config import REPO_ROOT, Settings  # noqa: E402
from yibao.db import admin  # noqa: E402

DAY = "2026-12-03"
LINES = [("S-BLRT", "002501010010000-250101001", "1", "20.00"), ("D-ATOR-20", "XC10AAA048A001010100457", "2", "20.00")]


async def _setup(settings: Settings) -> None:
    from yibao.db.engine import make_engine, make_sessionmaker
    from yibao.reference.loader import load_reference

    await admin.drop_database(settings.database_url)
    await admin.create_database(settings.database_url)
    await asyncio.to_thread(admin.upgrade, settings.database_url)
    engine = make_engine(settings, pool_size=1)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_reference(session, settings.reference_dir)
    await engine.dispose()


async def _run(bills: int, database: str) -> None:
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@localhost:5432/{database}",
        redis_url="redis://localhost:6379/13",
        broker_namespace="bench-fsi",
        run_outbox_relay=False,
        reference_cache_seconds=5.0,
        rate_limit_institution="1000000/minute",
        rate_limit_staff="1000000/minute",
        reference_dir=REPO_ROOT / "data" / "reference",
    )
    await _setup(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the client's request log is not the API's cost
    from api.app import create_app
    from yibao.auth.tokens import create_institution_key, create_staff_token

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with app.state.runtime.sessionmaker() as s, s.begin():
            admin_h = {"Authorization": f"Bearer {await create_staff_token(s, 'admin', 'bench')}"}
            his = {"Authorization": f"Bearer {await create_institution_key(s, 'H430522100')}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
            people = []
            for _ in range(bills):
                idn = new_id_number()
                body = {"id_number": idn, "name": "压测", "region": "430522"}
                assert (await c.post("/api/v1/persons", json=body, headers=admin_h)).status_code == 201
                enrol = {"id_number": idn, "scheme": "resident", "year": 2026, "coverage_start": "2026-01-01"}
                assert (await c.post("/api/v1/enrolments", json=enrol, headers=admin_h)).status_code == 201
                people.append(idn)
            seq = itertools.count(1)
            native_cpu: list[float] = []
            fsi_cpu: list[float] = []
            conversation_cpu: list[float] = []

            async def fsi(infno: str, node: dict[str, Any]) -> dict[str, Any]:
                n = next(seq)
                env = {
                    "infno": infno,
                    "msgid": f"H430522100{DAY.replace('-', '')}{n // 10000:06d}{n % 10000:04d}",
                    "fixmedins_code": "H430522100",
                    "input": node,
                }
                r = await c.post(f"/fsi/api/{infno}", json=env, headers=his)
                assert r.status_code == 200 and r.json()["infcode"] == 0, r.text
                out: dict[str, Any] = r.json()["output"]
                return out

            for i, idn in enumerate(people):
                bill = {
                    "id_number": idn,
                    "visit_no": f"N{i}",
                    "visit_type": "outpatient",
                    "service_date": DAY,
                    "lines": [
                        {"line_no": n, "item_code": code, "quantity": q, "unit_price": p, "service_date": DAY}
                        for n, (code, _, q, p) in enumerate(LINES, start=1)
                    ],
                }
                t = time.process_time()
                r = await c.post("/api/v1/settlements", json=bill, headers={**his, "Idempotency-Key": f"bench-{i}"})
                native_cpu.append(time.process_time() - t)
                assert r.status_code == 201, r.text

                t0 = time.process_time()
                reg = {"psn_no": idn, "insutype": "390", "begntime": DAY, "ipt_otp_no": f"F{i}"}
                m = (await fsi("2201", {"data": reg}))["data"]["mdtrt_id"]
                feed = [
                    {
                        "feedetl_sn": str(n),
                        "mdtrt_id": m,
                        "med_list_codg": nat,
                        "cnt": q,
                        "pric": p,
                        "fee_ocur_time": DAY,
                    }
                    for n, (_, nat, q, p) in enumerate(LINES, start=1)
                ]
                await fsi("2204", {"feedetail": feed})
                t = time.process_time()
                await fsi("2207", {"data": {"psn_no": idn, "mdtrt_id": m}})
                fsi_cpu.append(time.process_time() - t)
                conversation_cpu.append(time.process_time() - t0)

    skip = min(20, bills // 10)  # warm-up: first calls compile statements and fill caches
    native = statistics.mean(native_cpu[skip:]) * 1000
    envelope = statistics.mean(fsi_cpu[skip:]) * 1000
    whole = statistics.mean(conversation_cpu[skip:]) * 1000
    print(f"bills: {bills} (first {skip} not counted)")
    print(f"native settle CPU per bill:         {native:.2f} ms")
    print(f"envelope 2207 (after 2204) per bill: {envelope:.2f} ms  ratio {envelope / native:.2f}")
    print(f"envelope 2201+2204+2207 per bill:    {whole:.2f} ms  ratio {whole / native:.2f}")
    await admin.drop_database(settings.database_url)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bills", type=int, default=300)
    ap.add_argument("--database", default="yibao_bench_fsi")
    args = ap.parse_args()
    asyncio.run(_run(args.bills, args.database))


if __name__ == "__main__":
    main()
