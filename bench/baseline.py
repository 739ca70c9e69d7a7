"""pgbench TPC-B on the same PostgreSQL: the yardstick the settlement rate is compared to.

Why: a settlement is a multi-statement write transaction like TPC-B's, so
``settlement_tps / pgbench_tps`` says how much of what this database can commit the
application turns into settlements on this machine — a number that stays meaningful
when the hardware changes, unlike raw tps.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from dataclasses import dataclass

from yibao.db import admin


@dataclass(frozen=True)
class PgbenchResult:
    tps: float
    latency_ms: float | None
    clients: int
    threads: int
    seconds: int
    scale: int
    output: str


class PgbenchFailed(RuntimeError):
    pass


def parse(output: str) -> tuple[float, float | None]:
    """tps (without initial connection time) and average latency from pgbench's report."""
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", output, re.M)
    if tps is None:
        raise PgbenchFailed(f"no tps line in pgbench output:\n{output}")
    latency = re.search(r"^latency average = ([\d.]+) ms", output, re.M)
    return float(tps.group(1)), float(latency.group(1)) if latency else None


def _pgbench(args: list[str], host: str, port: int, user: str, database: str) -> str:
    cmd = ["pgbench", "-h", host, "-p", str(port), "-U", user, *args, database]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PgbenchFailed(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def run_pgbench(
    database_url: str,
    *,
    clients: int,
    threads: int,
    seconds: int,
    scale: int,
    host: str = "localhost",
    port: int = 5432,
    user: str = "postgres",
) -> PgbenchResult:
    """Fresh ``pgbench -i -s scale`` database, then ``-c -j -T -M prepared`` on it."""
    database = database_url.rsplit("/", 1)[1]
    asyncio.run(admin.drop_database(database_url))
    asyncio.run(admin.create_database(database_url))
    _pgbench(["-i", "-q", "-s", str(scale)], host, port, user, database)
    output = _pgbench(
        ["-c", str(clients), "-j", str(threads), "-T", str(seconds), "-M", "prepared"],
        host,
        port,
        user,
        database,
    )
    tps, latency = parse(output)
    return PgbenchResult(tps, latency, clients, threads, seconds, scale, output)
