"""What the machine does during a measurement window: CPU per component, database waits, py-spy.

Why: a tps figure alone does not say what to fix. On two shared cores, the CPU split
(API workers vs PostgreSQL vs load generator) says who saturates; ``pg_stat_activity``
wait states say whether backends wait for the application mid-transaction (the app is
the bottleneck and holds row locks longer), for locks, or for WAL flushes; and py-spy
says where in the API process the CPU goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

TICKS = os.sysconf("SC_CLK_TCK")
PY_SPY = Path(sys.executable).parent / "py-spy"


# ---------------------------------------------------------------- CPU from /proc


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields after "(comm)", starting at state


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def reaped_children_seconds(pid: int) -> float:
    """CPU of ``pid``'s children that have exited (cutime + cstime)."""
    fields = _stat_fields(pid)
    return 0.0 if fields is None else (int(fields[13]) + int(fields[14])) / TICKS


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (uvicorn's supervisor and its workers)."""
    parents = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None:
            parents[pid] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        found.extend(frontier)
    return found


async def postgres_pids(dsn: str, database: str) -> list[int]:
    """The benchmark database's backends plus the shared background processes (WAL writer,
    checkpointer, autovacuum …): other databases' backends on a shared server are not ours."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 OR backend_type <> 'client backend'",
            database,
        )
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


@dataclass
class CpuSnapshot:
    api: dict[int, float]
    postgres: dict[int, float]  # an exited backend reads 0 here …
    postgres_reaped: float  # … and its whole CPU shows up here, in the postmaster's cutime
    everyone: dict[int, float]  # every process, to name what else ran (shared machines)
    busy: float
    total: float

    @classmethod
    def take(cls, api_root: int, pg_pids: list[int]) -> CpuSnapshot:
        busy, total = machine_busy_seconds()
        postmasters = {int(f[1]) for f in map(_stat_fields, pg_pids) if f is not None}
        return cls(
            api={pid: cpu_seconds(pid) for pid in descendants(api_root)},
            postgres={pid: cpu_seconds(pid) for pid in pg_pids},
            postgres_reaped=sum(reaped_children_seconds(pid) for pid in postmasters),
            everyone={pid: cpu_seconds(pid) for pid in _all_pids()},
            busy=busy,
            total=total,
        )


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        return (raw or Path(f"/proc/{pid}/comm").read_text().strip())[:60]
    except (OSError, UnicodeDecodeError):
        return f"pid {pid} (gone)"


def other_processes(
    before: CpuSnapshot, after: CpuSnapshot, seconds: float, exclude: set[int], top: int = 3
) -> list[str]:
    """The busiest processes that are not the benchmark's: noise on a shared machine."""
    ours = set(after.api) | set(after.postgres) | exclude
    busy = [
        ((value - before.everyone.get(pid, value)) / seconds, pid)
        for pid, value in after.everyone.items()
        if pid not in ours
    ]
    busy.sort(reverse=True)
    return [f"{cores:.2f} {_command(pid)}" for cores, pid in busy[:top] if cores >= 0.05]


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def worker_cores(before: CpuSnapshot, after: CpuSnapshot, seconds: float) -> list[float]:
    """Cores per API process that did work (the supervisor idles): shows worker imbalance."""
    per = [(after.api[pid] - before.api.get(pid, 0.0)) / seconds for pid in sorted(after.api)]
    return [round(c, 2) for c in per if c >= 0.01]


def _socket_inodes(port: int) -> set[str]:
    """Inodes of established TCP sockets whose local port is ``port`` (server side)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                cols = row.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "01":
                    inodes.add(cols[9])
    return inodes


def connections_per_process(pids: list[int], port: int) -> list[int]:
    """Client connections each API worker holds: the kernel, not uvicorn, spreads them."""
    inodes = _socket_inodes(port)
    counts = []
    for pid in sorted(pids):
        n = 0
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    n += link.startswith("socket:[") and link[8:-1] in inodes
        counts.append(n)
    return [n for n in counts if n]


def cpu_split(before: CpuSnapshot, after: CpuSnapshot, seconds: float, loadgen_cpu: float) -> dict[str, float]:
    """Cores used on average over the window (1.0 = one core fully busy), per component;
    "other" is everything else on the machine (other databases, other people's processes).

    PostgreSQL counts backends that connected or exited during the window too: a pool that
    overflows opens and closes a backend per request, and that cost belongs to the run.
    (Backends of other databases that exit in the window are counted as well.)"""
    api = _delta(before.api, after.api) / seconds
    reaped = after.postgres_reaped - before.postgres_reaped
    pg = (_delta(before.postgres, after.postgres) + reaped) / seconds
    busy = (after.busy - before.busy) / seconds
    cores = (after.total - before.total) / seconds
    loadgen = loadgen_cpu / seconds
    return {
        "api": round(api, 2),
        "postgres": round(pg, 2),
        "loadgen": round(loadgen, 2),
        "other": round(max(0.0, busy - api - pg - loadgen), 2),
        "idle": round(max(0.0, cores - busy), 2),
    }


# ---------------------------------------------------------------- database waits


@dataclass
class ActivitySampler:
    """Samples the benchmark database's client backends ten times a second."""

    dsn: str
    database: str
    interval: float = 0.1
    samples: Counter[str] = field(default_factory=Counter)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            while not self._stop.is_set():
                rows = await conn.fetch(
                    """
                    SELECT state, wait_event_type, wait_event FROM pg_stat_activity
                    WHERE datname = $1 AND backend_type = 'client backend'
                      AND pid <> pg_backend_pid()
                    """,
                    self.database,
                )
                for r in rows:
                    wait = f"{r['wait_event_type']}/{r['wait_event']}" if r["wait_event"] else "on CPU"
                    self.samples[f"{r['state']} · {wait}"] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval)
        finally:
            await conn.close()

    def stop(self) -> None:
        self._stop.set()

    def shares(self, exclude_idle: bool = True) -> dict[str, float]:
        """Share of backend samples per state/wait; idle pooled connections left out."""
        kept = {k: v for k, v in self.samples.items() if not (exclude_idle and k.startswith("idle ·"))}
        total = sum(kept.values()) or 1
        return {k: round(v / total, 3) for k, v in sorted(kept.items(), key=lambda kv: -kv[1])}


# ---------------------------------------------------------------- py-spy


@dataclass
class Profiler:
    """Two py-spy recorders on the API supervisor and its workers: a flame graph for people,
    collapsed stacks for :mod:`hotspots`. ``--nonblocking`` so sampling never pauses the API."""

    out_dir: Path
    rate: int = 100
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @staticmethod
    def available() -> bool:
        return PY_SPY.exists()

    def start(self, pid: int, seconds: float) -> None:
        for fmt, name in (("flamegraph", "profile.svg"), ("raw", "profile.collapsed")):
            self.processes.append(
                subprocess.Popen(
                    [
                        str(PY_SPY),
                        "record",
                        "--pid",
                        str(pid),
                        "--subprocesses",
                        "--nonblocking",
                        "--rate",
                        str(self.rate),
                        "--duration",
                        str(int(seconds)),
                        "--format",
                        fmt,
                        "-o",
                        str(self.out_dir / name),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )

    def wait(self) -> list[str]:
        """Wait for the recorders; returns their complaints, if any."""
        problems = []
        for p in self.processes:
            _, err = p.communicate(timeout=120)
            if p.returncode != 0:
                problems.append(err.decode(errors="replace").strip())
        return problems
