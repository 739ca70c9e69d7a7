"""Benchmark harness: seed, pgbench baseline, API under load (closed then open loop), report.

    .venv/bin/python bench/run.py            # full run: 100k persons, 30 s phases
    .venv/bin/python bench/run.py --quick    # smoke run: 10k persons, 10 s phases
    .venv/bin/python bench/run.py --profile  # also py-spy the API during phase A

Why two phases: phase A (closed loop, fixed concurrency) finds the most settlements per
second the stack sustains; phase B (open loop at half of what PostgreSQL or phase A can
do, whichever is lower) measures the latency a till or HIS sees at a realistic load —
closed-loop latency at saturation is mostly queueing and says little about that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import random
import string
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg
import bills
import ceiling
import redis
import results
import roundtrips
import seed as seeding
from apiserver import ApiServer, start_api
from baseline import run_pgbench
from bills import build_templates
from hotspots import read as read_stacks
from hotspots import summarize as summarize_stacks
from loadgen import load_workload
from observe import (
    ActivitySampler,
    CpuSnapshot,
    Profiler,
    connections_per_process,
    cpu_split,
    other_processes,
    postgres_pids,
    worker_cores,
)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LOADGEN = BENCH / "loadgen.py"

FULL = {"persons": 100_000, "duration": 30.0, "warmup": 5.0, "pgbench_seconds": 20, "templates": 20_000}
QUICK = {"persons": 10_000, "duration": 10.0, "warmup": 3.0, "pgbench_seconds": 10, "templates": 5_000}


# ---------------------------------------------------------------- arguments


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Settlement benchmark: pgbench baseline, then the API under load.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK['persons']:,} persons, {QUICK['duration']:.0f} s phases",
    )
    p.add_argument("--persons", type=int, help=f"population to seed (default {FULL['persons']:,})")
    p.add_argument("--duration", type=float, help="measured seconds per phase (default 30)")
    p.add_argument("--warmup", type=float, help="unmeasured seconds before each phase (default 5)")
    p.add_argument("--templates", type=int, help="distinct pre-built bills (default 20,000)")
    p.add_argument("--pgbench-seconds", type=int, help="pgbench -T (default 20)")
    p.add_argument("--pgbench-scale", type=int, default=10, help="pgbench -i -s")
    p.add_argument("--concurrency", "-c", type=int, default=32, help="phase A clients; also pgbench -c")
    p.add_argument("--workers", "-w", type=int, default=2, help="yibao api --workers")
    p.add_argument(
        "--load-fraction", type=float, default=0.5, help="phase B rate as a fraction of min(pgbench tps, phase A tps)"
    )
    p.add_argument("--client", choices=("raw", "httpx"), default="raw", help="load generator HTTP client")
    p.add_argument("--port", type=int, default=8811)
    p.add_argument(
        "--pg-url", default="postgresql+asyncpg://postgres@localhost:5432", help="server URL without database name"
    )
    p.add_argument("--database", default="yibao_bench")
    p.add_argument("--pgbench-database", default="yibao_pgbench")
    p.add_argument("--redis-url", default="redis://localhost:6379/12")
    p.add_argument("--namespace", default="bench", help="BROKER_NAMESPACE of the API")
    p.add_argument(
        "--api-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra API environment for experiments, e.g. RUN_OUTBOX_RELAY=false",
    )
    p.add_argument("--seed", type=int, default=2026, help="random seed for population and bills")
    p.add_argument("--reuse-db", action="store_true", help="keep the existing benchmark database")
    p.add_argument("--skip-pgbench", action="store_true", help="no baseline (ratio is n/a)")
    p.add_argument("--skip-phase-b", action="store_true")
    p.add_argument(
        "--compare-mix",
        action="store_true",
        help="after phase A, a phase L like it on the bill mix without prescription-backed pharmacy bills "
        "(bills.MIXES['no_rx']): CPU per settlement before/after in one run",
    )
    p.add_argument(
        "--rx-tps-bound",
        type=float,
        default=1000.0,
        help="closed-loop sends/s a phase's prescriptions are issued for (beyond it: PRESCRIPTION_INVALID)",
    )
    p.add_argument(
        "--prime", type=float, default=10.0, help="seconds of unmeasured load before phase A, then ANALYZE (0: none)"
    )
    p.add_argument(
        "--skip-ceiling", action="store_true", help="do not replay the settle SQL without the API (bench/ceiling.py)"
    )
    p.add_argument("--ceiling-bills", type=int, default=500, help="bills captured for the database ceiling")
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the API during phase A (bench/out/profile.svg) and count database round trips",
    )
    p.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    p.add_argument("--label", default=None, help="section title in RESULTS.md")
    p.add_argument(
        "--cleanup", action="store_true", help="drop both databases and the broker namespace's Redis keys at the end"
    )
    args = p.parse_args(argv)
    for key, full in FULL.items():
        if getattr(args, key) is None:
            setattr(args, key, QUICK[key] if args.quick else full)
    return args


def database_url(args: argparse.Namespace, name: str) -> str:
    return f"{args.pg_url.rstrip('/')}/{name}"


def api_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url(args, args.database),
        "REDIS_URL": args.redis_url,
        "BROKER_NAMESPACE": args.namespace,
        "LOG_LEVEL": "warning",
        **dict(item.split("=", 1) for item in args.api_env),
    }


# ---------------------------------------------------------------- steps


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def clear_broker_keys(args: argparse.Namespace) -> int:
    """Delete the namespace's queues: events of an earlier run's database mean nothing now.
    Only ``<namespace>:*`` keys, never the whole Redis database (tests share the server)."""
    client = redis.Redis.from_url(args.redis_url)
    try:
        keys = list(client.scan_iter(match=f"{args.namespace}:*", count=1000))
        return client.delete(*keys) if keys else 0
    finally:
        client.close()


def prepare_database(args: argparse.Namespace) -> str | None:
    if args.reuse_db:
        step(f"reusing database {args.database}")
        return None
    step(f"creating {args.database} and seeding {args.persons:,} persons")
    report = seeding.seed(database_url(args, args.database), args.persons, args.seed)
    step(report.line())
    return report.line()


def write_workload(args: argparse.Namespace, out: Path) -> Path:
    data = seeding.workload(database_url(args, args.database), sample=args.templates)
    path = out / "workload.json"
    path.write_text(json.dumps(data))
    step(
        f"workload: {len(data['persons']):,} persons, institution keys for "
        f"{', '.join(i['code'] for i in data['institutions'])}"
    )
    return path


def baseline(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.skip_pgbench:
        return None
    step(
        f"pgbench -i -s {args.pgbench_scale}; -c {args.concurrency} -j 2 "
        f"-T {args.pgbench_seconds} -M prepared on {args.pgbench_database}"
    )
    result = run_pgbench(
        database_url(args, args.pgbench_database),
        clients=args.concurrency,
        threads=2,
        seconds=args.pgbench_seconds,
        scale=args.pgbench_scale,
    )
    step(f"pgbench: {result.tps:.1f} tps, latency avg {result.latency_ms} ms")
    asyncio.run(settle_pgbench(database_url(args, args.pgbench_database)))
    return {k: v for k, v in asdict(result).items() if k != "output"}


async def settle_pgbench(url: str) -> None:
    """Vacuum what pgbench updated and checkpoint, so its aftermath (autovacuum of its tables,
    a checkpoint of its dirty pages) does not run during the settlement phases."""
    conn = await asyncpg.connect(seeding.plain_dsn(url))
    try:
        await seeding.settle_down(conn)
    finally:
        await conn.close()


async def pg_settings(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        names = ("server_version", "shared_buffers", "synchronous_commit", "max_connections")
        return {n: await conn.fetchval(f"SHOW {n}") for n in names}
    finally:
        await conn.close()


async def settlement_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM settlements"))
    finally:
        await conn.close()


# ---------------------------------------------------------------- one load phase


def loadgen_command(
    args: argparse.Namespace, workload: Path, out: Path, phase: str, rate: float | None, mix: str, salt: str
) -> list[str]:
    cmd = [
        sys.executable,
        str(LOADGEN),
        "--workload",
        str(workload),
        "--out",
        str(out),
        "--phase",
        phase,
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "--templates",
        str(args.templates),
        "--seed",
        str(args.seed),
        "--port",
        str(args.port),
        "--client",
        args.client,
        "--mix",
        mix,
        "--salt",
        salt,
    ]
    if rate is None:
        return [*cmd, "--mode", "closed", "--concurrency", str(args.concurrency)]
    return [*cmd, "--mode", "open", "--rate", f"{rate:.3f}"]


async def run_phase(
    args: argparse.Namespace,
    server: ApiServer,
    workload: Path,
    out_dir: Path,
    phase: str,
    rate: float | None,
    profiler: Profiler | None,
    mix: str = "rx",
) -> dict[str, Any]:
    """Run the load generator; sample CPU, database waits (and py-spy) inside its window. The
    prescriptions its ``pharmacy_rx`` bills dispense are issued first (each send names its own)."""
    out = out_dir / f"phase-{phase}.json"
    salt = "".join(random.choices(string.ascii_lowercase + string.digits, k=3))
    await issue_phase_prescriptions(args, workload, phase, rate, mix, salt)
    proc = await asyncio.create_subprocess_exec(
        *loadgen_command(args, workload, out, phase, rate, mix, salt), stdout=asyncio.subprocess.PIPE
    )
    pg_dsn = seeding.plain_dsn(database_url(args, "postgres"))
    sampler = ActivitySampler(pg_dsn, args.database)
    sampling: asyncio.Task[None] | None = None
    before = after = None
    opened_at = closed_at = 0.0
    assert proc.stdout is not None
    pg_pids: list[int] = []
    connections: list[int] = []
    async for raw in proc.stdout:
        event = raw.decode().strip()
        if event == "WINDOW_START":
            pg_pids = await postgres_pids(pg_dsn, args.database)  # pools have grown by now
            opened_at, before = time.monotonic(), CpuSnapshot.take(server.pid, pg_pids)
            connections = connections_per_process(list(before.api), args.port)
            sampling = asyncio.create_task(sampler.run())
            if profiler is not None:
                profiler.start(server.pid, args.duration)
        elif event == "WINDOW_END":
            closed_at = time.monotonic()
            pg_pids = sorted(set(pg_pids) | set(await postgres_pids(pg_dsn, args.database)))
            after = CpuSnapshot.take(server.pid, pg_pids)
            sampler.stop()
    if await proc.wait() != 0:
        raise RuntimeError(f"load generator for phase {phase} failed")
    if sampling is not None:
        await sampling
    result: dict[str, Any] = json.loads(out.read_text())
    if before is not None and after is not None:
        elapsed = closed_at - opened_at
        result["cpu_cores"] = cpu_split(before, after, elapsed, result["loadgen_cpu_s"])
        result["api_workers"] = {"cores": worker_cores(before, after, elapsed), "connections": connections}
        result["postgres_processes_sampled"] = len(pg_pids)
        result["other_processes"] = other_processes(before, after, elapsed, {proc.pid, os.getpid()})
    result["db_states"] = sampler.shares()
    out.write_text(json.dumps(result, indent=2))
    return result


async def issue_phase_prescriptions(
    args: argparse.Namespace, workload: Path, phase: str, rate: float | None, mix: str, salt: str
) -> None:
    """Issue, before the phase, a prescription for each ``pharmacy_rx`` send it can make: at most
    ``--rx-tps-bound`` sends a second in a closed loop (1.3 × the rate in an open one) over warm-up,
    window and drain. A send beyond it would be refused ``PRESCRIPTION_INVALID`` (counted)."""
    if "pharmacy_rx" not in bills.MIXES[mix]:
        return
    seconds = args.warmup + args.duration + 5
    sends = int((rate * 1.3 if rate is not None else args.rx_tps_bound) * seconds) + 500
    persons, institutions, today = load_workload(workload)
    templates = build_templates(persons, institutions, args.templates, args.seed, "127.0.0.1", args.port, today, mix)
    rows = seeding.prescriptions_for(templates, salt, phase, sends, bills.token)
    issued = await seeding.issue_prescriptions(
        seeding.plain_dsn(database_url(args, args.database)), rows, bills.RX_ISSUER
    )
    step(f"phase {phase}: issued {issued:,} prescriptions for its first {sends:,} sends (mix {mix})")


def phase_b_rate(
    args: argparse.Namespace, pg: dict[str, Any] | None, phase_a: dict[str, Any]
) -> dict[str, float | None]:
    """Half of the lower of the two capacities: a busy but not saturated system."""
    half_pg = round(args.load_fraction * pg["tps"], 1) if pg else None
    half_a = round(args.load_fraction * phase_a["tps"], 1)
    target = min(x for x in (half_pg, half_a) if x is not None)
    return {"half_pgbench": half_pg, "half_phase_a": half_a, "target": max(target, 1.0)}


def profile_extras(args: argparse.Namespace, out_dir: Path, profiler: Profiler, workload: Path) -> list[str]:
    """py-spy summary and the round-trip count, as lines for the console and RESULTS.md."""
    extras = []
    problems = profiler.wait()
    stacks = out_dir / "profile.collapsed"
    if problems or not stacks.exists():
        extras.append("py-spy failed: " + " | ".join(problems))
    else:
        summary = summarize_stacks(read_stacks(stacks), top=20)
        (out_dir / "profile-top.txt").write_text(summary + "\n")
        extras += ["py-spy (phase A, API workers; flame graph in bench/out/profile.svg):", *summary.splitlines()]
    persons, institutions, today = load_workload(workload)
    # no prescription bills: their prescriptions are issued per phase, for the load generator's sends
    templates = build_templates(persons, institutions, 200, args.seed + 1, "127.0.0.1", args.port, today, "no_rx")
    trips = asyncio.run(roundtrips.count(database_url(args, args.database), templates, 50))
    extras += ["", trips.line()]
    return extras


# ---------------------------------------------------------------- the database's own limit


async def database_ceiling(args: argparse.Namespace, out_dir: Path, workload: Path) -> dict[str, Any]:
    """Replay the settle path's statements without the API (``bench/ceiling.py``) for as long
    as pgbench ran, with as many connections; PostgreSQL's CPU is sampled over the window."""
    persons, institutions, today = load_workload(workload)
    # no prescription bills: a replayed bill dispensing its prescription again would be refused
    templates = build_templates(
        persons, institutions, args.ceiling_bills, args.seed + 2, "127.0.0.1", args.port, today, "no_rx"
    )
    bills = await ceiling.capture(database_url(args, args.database), templates, args.ceiling_bills)
    bills_file, out = out_dir / "ceiling-bills.pickle", out_dir / "ceiling.json"
    bills_file.write_bytes(pickle.dumps(bills))
    bench_dsn = seeding.plain_dsn(database_url(args, args.database))
    await ceiling.top_up_accounts(bench_dsn)
    step(f"database ceiling: {len(bills)} captured bills replayed by {args.concurrency} asyncpg connections")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH / "ceiling.py"), "replay", "--dsn", bench_dsn, "--bills", str(bills_file),
        "--out", str(out), "--concurrency", str(args.concurrency), "--warmup", str(args.warmup),
        "--duration", str(args.pgbench_seconds), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    pg_dsn = seeding.plain_dsn(database_url(args, "postgres"))
    before = after = None
    opened_at = closed_at = 0.0
    pg_pids: list[int] = []
    assert proc.stdout is not None
    async for raw in proc.stdout:
        if raw.strip() == b"WINDOW_START":
            pg_pids = await postgres_pids(pg_dsn, args.database)
            opened_at, before = time.monotonic(), CpuSnapshot.take(proc.pid, pg_pids)
        elif raw.strip() == b"WINDOW_END":
            closed_at = time.monotonic()
            after = CpuSnapshot.take(proc.pid, sorted(set(pg_pids) | set(await postgres_pids(pg_dsn, args.database))))
    if await proc.wait() != 0:
        raise RuntimeError("the ceiling replay failed")
    result: dict[str, Any] = json.loads(out.read_text())
    if before is not None and after is not None:
        result["cpu_cores"] = cpu_split(before, after, closed_at - opened_at, 0.0)
    step(f"database ceiling: {result['tps']:.1f} settlements/s, errors {result['errors'] or 0}")
    return result


# ---------------------------------------------------------------- main


Phases = tuple[dict[str, Any], dict[str, Any] | None, dict[str, float | None], dict[str, Any] | None]


async def drive(
    args: argparse.Namespace,
    server: ApiServer,
    workload: Path,
    out_dir: Path,
    pg: dict[str, Any] | None,
    profiler: Profiler | None,
) -> Phases:
    """Priming, phase A, then phase B at a rate derived from A and pgbench; returns A, B, the
    rates and the priming load (its settlements count for the integrity check)."""
    primed = await prime(args, server, workload, out_dir)
    timing = f"{args.warmup:.0f}+{args.duration:.0f} s"
    step(f"phase A: closed loop, {args.concurrency} clients, {timing}")
    phase_a = await run_phase(args, server, workload, out_dir, "A", None, profiler)
    step(f"phase A: {phase_a['tps']:.1f} tps, p99 {phase_a['latency_ms']['p99']} ms, {phase_a['errors']} errors")
    if args.compare_mix:
        step(f"phase L: closed loop as A, the bill mix without prescriptions (no_rx), {timing}")
        phase_l = await run_phase(args, server, workload, out_dir, "L", None, None, mix="no_rx")
        args.compared = phase_l
        step(f"phase L: {phase_l['tps']:.1f} tps, {phase_l['errors']} errors")
    rates = phase_b_rate(args, pg, phase_a)
    if args.skip_phase_b:
        return phase_a, None, rates, primed
    step(f"phase B: open loop at {rates['target']:.1f}/s, {timing}")
    phase_b = await run_phase(args, server, workload, out_dir, "B", rates["target"], None)
    lat = phase_b["latency_ms"]
    step(
        f"phase B: {phase_b['tps']:.1f} tps, p50/p95/p99 {lat['p50']}/{lat['p95']}/{lat['p99']} "
        f"ms, {phase_b['errors']} errors"
    )
    return phase_a, phase_b, rates, primed


#: the tables a settlement writes, whose statistics its statements are planned with
HOT_TABLES = (
    "settlements", "settlement_lines", "trace_codes", "person_years", "idempotency_keys",
    "outbox", "personal_accounts", "account_movements",
)  # fmt: skip


async def prime(args: argparse.Namespace, server: ApiServer, workload: Path, out_dir: Path) -> dict[str, Any] | None:
    """Unmeasured load, then ANALYZE of the tables a settlement writes.

    Why: a fresh database's settlement tables are empty when analysed, and PostgreSQL plans
    the API's prepared statements from those statistics once, then keeps the plan per pooled
    connection: with an empty ``person_years`` even an UPDATE by primary key is planned as a
    sequential scan, which gets slower with every bill until autovacuum's next ANALYZE (up to
    a minute away) invalidates it. Measured: PostgreSQL's CPU per bill was ~3× its steady
    value for the whole of a fresh run. A running system has statistics of its real tables;
    this gives the benchmark the same, as autovacuum would within its naptime."""
    if args.prime <= 0:
        return None
    step(f"priming: {args.prime:.0f} s of unmeasured load, then ANALYZE of the settlement tables")
    priming = argparse.Namespace(**{**vars(args), "duration": args.prime, "warmup": 1.0})
    result = await run_phase(priming, server, workload, out_dir, "P", None, None)
    conn = await asyncpg.connect(seeding.plain_dsn(database_url(args, args.database)))
    try:
        await conn.execute(f"ANALYZE {', '.join(HOT_TABLES)}")
    finally:
        await conn.close()
    return result


def integrity(before: int, after: int, phases: list[dict[str, Any]]) -> str:
    """Every 201 the client saw must be one new settlement row, no more, no fewer."""
    ok = sum(p["ok_total"] for p in phases)
    verdict = "ok" if after - before == ok else "MISMATCH"
    return f"{verdict}: {after - before:,} new settlement rows, {ok:,} responses 201"


def params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "mode": "quick" if args.quick else "full",
        "persons": args.persons,
        "api_workers": args.workers,
        "concurrency": args.concurrency,
        "warmup_s": args.warmup,
        "phase_s": args.duration,
        "templates": args.templates,
        "client": args.client,
        "pgbench": None
        if args.skip_pgbench
        else f"-s {args.pgbench_scale} -c {args.concurrency} -j 2 -T {args.pgbench_seconds} -M prepared",
        "load_fraction": args.load_fraction,
        "prime_s": args.prime,
        "ceiling_bills": None if args.skip_ceiling else args.ceiling_bills,
        "profiled": args.profile,
        **({"api_env": " ".join(args.api_env)} if args.api_env else {}),
    }


def default_label(args: argparse.Namespace) -> str:
    label = "quick run" if args.quick else "full run"
    return (
        label + (", profiled" if args.profile else "") + (f", API env {' '.join(args.api_env)}" if args.api_env else "")
    )


def cleanup(args: argparse.Namespace) -> None:
    from yibao.db import admin

    for name in (args.database, args.pgbench_database):
        asyncio.run(admin.drop_database(database_url(args, name)))
    removed = clear_broker_keys(args)
    step(f"dropped {args.database} and {args.pgbench_database}; removed {removed} Redis keys")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = BENCH / "out"
    out_dir.mkdir(exist_ok=True)
    profiler = Profiler(out_dir) if args.profile else None
    if profiler is not None and not Profiler.available():
        sys.exit("--profile needs py-spy in the venv: .venv/bin/pip install py-spy")

    seed_line = prepare_database(args)
    workload = write_workload(args, out_dir)
    pg = baseline(args)
    bench_dsn = seeding.plain_dsn(database_url(args, args.database))
    env = results.environment(REPO, asyncio.run(pg_settings(bench_dsn)))
    removed = clear_broker_keys(args)
    step(
        f"starting yibao api --workers {args.workers} on :{args.port} "
        f"(removed {removed} stale '{args.namespace}:*' Redis keys)"
    )
    count_before = asyncio.run(settlement_count(bench_dsn))
    server = start_api(api_env(args), args.port, args.workers, out_dir / "api.log")
    try:
        phase_a, phase_b, rates, primed = asyncio.run(drive(args, server, workload, out_dir, pg, profiler))
        count_after = asyncio.run(settlement_count(bench_dsn))
        extras = profile_extras(args, out_dir, profiler, workload) if profiler else []
    finally:
        step("stopping the API")
        server.stop()
    db_ceiling = None if args.skip_ceiling else asyncio.run(database_ceiling(args, out_dir, workload))
    compared = getattr(args, "compared", None)
    phases = [p for p in (primed, phase_a, phase_b, compared) if p is not None]
    if compared is not None:
        extras = [
            "CPU per settlement by bill mix (closed loop, same run):",
            f"  mix rx (phase A, with prescription-backed pharmacy bills): {results.per_settlement(phase_a)}, "
            f"{phase_a['tps']:.1f} tps",
            f"  mix no_rx (phase L, the mix before them): {results.per_settlement(compared)}, "
            f"{compared['tps']:.1f} tps",
            *(["", *extras] if extras else []),
        ]
    report = results.RunReport(
        label=args.label or default_label(args),
        params=params(args),
        environment=env,
        seed_line=seed_line,
        pgbench=pg,
        phase_a=phase_a,
        phase_b=phase_b,
        rates=rates,
        integrity=integrity(count_before, count_after, phases),
        ceiling=db_ceiling,
        extras=extras,
    )
    print(results.console(report), flush=True)
    if not args.no_record:
        results.append(report)
        step(f"appended to {results.RESULTS_MD.relative_to(REPO)}")
    if args.cleanup:
        cleanup(args)
    return 0 if report.integrity.startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
