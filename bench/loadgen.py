"""Load generator: a separate process that sends pre-built settlement requests and times them.

Why a separate process: the API, PostgreSQL and the client share two cores; in its own
process the client's CPU is visible (it reports it) and cannot stall the server's event
loop. Why a hand-written HTTP/1.1 client by default: with the request bytes prepared in
advance, a send is one ``write`` and a receive two reads, an order of magnitude less CPU
per request than httpx (still available with ``--client httpx`` to cross-check).

Modes:
* ``closed``: ``--concurrency`` workers, each sending its next request as soon as the last
  answer arrives — the maximum throughput the server sustains at that concurrency.
* ``open``: Poisson arrivals at ``--rate`` per second whatever the server does, latency
  measured from the *scheduled* send time, so queueing delay is not hidden (no
  coordinated omission).

Only what completes (closed) or is scheduled (open) inside the measurement window after
the warm-up counts. The parent process is told ``WINDOW_START``/``WINDOW_END`` on stdout
so it can profile and sample exactly that window. Results go to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import random
import string
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from bills import PLACEHOLDER, Institution, Person, Template, build_templates, token

REQUEST_TIMEOUT = 30.0
DRAIN_SECONDS = 30.0
IDLE_REUSE_SECONDS = 4.0  # uvicorn closes keep-alive connections idle for 5 s


class HttpError(Exception):
    """The server answered something this minimal client does not speak."""


@dataclass
class Connection:
    """One keep-alive HTTP/1.1 connection to the API (uvicorn always sends Content-Length)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    def reusable(self, now: float) -> bool:
        """Not closed by the server, and idle for less than uvicorn's keep-alive timeout."""
        return not self.reader.at_eof() and now - self.idle_since < IDLE_REUSE_SECONDS

    async def request(self, raw: bytes) -> tuple[int, bytes, bool]:
        """Send one request; returns (status, body, keep_alive)."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at < 0:
            raise HttpError("response without Content-Length")
        end = lower.index(b"\r\n", at + 2)
        body = await self.reader.readexactly(int(lower[at + 17 : end]))
        return status, body, b"\r\nconnection: close" not in lower

    def close(self) -> None:
        self.writer.close()


@dataclass
class Recorder:
    """Latencies of the requests that count, plus every outcome by ``status/code``."""

    window_start: float = 0.0
    window_end: float = float("inf")
    latencies: list[float] = field(default_factory=list)
    ok_in_window: int = 0
    errors_in_window: Counter[str] = field(default_factory=Counter)
    ok_total: int = 0  # every 201, warm-up and drain included: the database must hold these
    sent_total: int = 0
    outcomes_total: Counter[str] = field(default_factory=Counter)
    cpu_start: float = 0.0  # this process's CPU seconds when the window opened …
    cpu_end: float = 0.0  # … and when it closed

    def add(self, counted_at: float, latency: float, outcome: str) -> None:
        self.outcomes_total[outcome] += 1
        if outcome == "201":
            self.ok_total += 1
        if not self.window_start <= counted_at < self.window_end:
            return
        self.latencies.append(latency)
        if outcome == "201":
            self.ok_in_window += 1
        else:
            self.errors_in_window[outcome] += 1


def outcome_of(status: int, body: bytes) -> str:
    """``201`` or ``status/ERROR_CODE`` from the contract's error body."""
    if status == 201:
        return "201"
    try:
        code = orjson.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "?"
    return f"{status}/{code}"


class RequestSource:
    """Cycles through the templates, splicing a fresh unique token into each."""

    def __init__(self, templates: list[Template], salt: str, phase: str) -> None:
        self._templates = templates
        self._salt, self._phase = salt, phase
        self._counter = itertools.count(1)

    def next_raw(self) -> bytes:
        n = next(self._counter)
        template = self._templates[n % len(self._templates)]
        return template.raw.replace(PLACEHOLDER, token(self._salt, self._phase, n))

    def next_parts(self) -> tuple[bytes, dict[str, str]]:
        n = next(self._counter)
        template = self._templates[n % len(self._templates)]
        value = token(self._salt, self._phase, n)
        headers = {
            "Authorization": template.auth,
            "Idempotency-Key": template.idempotency_key.replace(PLACEHOLDER, value).decode(),
            "Content-Type": "application/json",
        }
        return template.body.replace(PLACEHOLDER, value), headers


# ---------------------------------------------------------------- clients

Send = Callable[[], Awaitable[tuple[int, bytes]]]


class RawClient:
    """A pool of keep-alive connections; ``send`` borrows one (opening it if none is idle)."""

    def __init__(self, host: str, port: int, source: RequestSource, max_connections: int) -> None:
        self._host, self._port, self._source = host, port, source
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self.opened = 0

    async def send(self) -> tuple[int, bytes]:
        raw = self._source.next_raw()
        async with self._slots:
            conn, reused = await self._borrow()
            while True:
                try:
                    status, body, keep = await conn.request(raw)
                    break
                except asyncio.IncompleteReadError as exc:
                    conn.close()
                    if not reused or exc.partial:
                        raise
                    # the server closed the idle connection as we sent; like any HTTP client,
                    # retry once on a new one (same Idempotency-Key, so safe in any case)
                    conn, reused = await self._open(), False
                except BaseException:
                    conn.close()
                    raise
            if keep:
                conn.idle_since = time.perf_counter()
                self._idle.append(conn)
            else:
                conn.close()
            return status, body

    async def prewarm(self, count: int, spacing: float = 0.02) -> None:
        """Open ``count`` connections one by one before the clock starts. In a burst, the
        first uvicorn worker to wake accepts nearly all of them and the benchmark measures
        one worker; spaced out, the kernel spreads them between the workers."""
        for _ in range(count):
            conn = await self._open()
            conn.idle_since = time.perf_counter()
            self._idle.append(conn)
            await asyncio.sleep(spacing)

    async def _borrow(self) -> tuple[Connection, bool]:
        """The most recently used idle connection that is still good, else a new one."""
        now = time.perf_counter()
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable(now):
                return conn, True
            conn.close()
        return await self._open(), False

    async def _open(self) -> Connection:
        self.opened += 1
        return await Connection.open(self._host, self._port)

    async def close(self) -> None:
        for conn in self._idle:
            conn.close()


class HttpxClient:
    """The same interface over httpx, for cross-checking the raw client's numbers."""

    def __init__(self, host: str, port: int, source: RequestSource, max_connections: int) -> None:
        import httpx

        self._source = source
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.AsyncClient(base_url=f"http://{host}:{port}", limits=limits, timeout=REQUEST_TIMEOUT)
        self.opened = 0

    async def prewarm(self, count: int, spacing: float = 0.02) -> None:
        """httpx opens connections on demand; nothing to do."""

    async def send(self) -> tuple[int, bytes]:
        body, headers = self._source.next_parts()
        response = await self._client.post("/api/v1/settlements", content=body, headers=headers)
        return response.status_code, response.content

    async def close(self) -> None:
        await self._client.aclose()


async def timed(send: Send) -> tuple[str, float]:
    """(outcome, end time); transport failures and timeouts are outcomes too."""
    try:
        status, body = await asyncio.wait_for(send(), REQUEST_TIMEOUT)
        return outcome_of(status, body), time.perf_counter()
    except TimeoutError:
        return "timeout", time.perf_counter()
    except (OSError, asyncio.IncompleteReadError, HttpError, ValueError) as exc:
        return f"conn/{type(exc).__name__}", time.perf_counter()


def announce(event: str) -> None:
    print(event, flush=True)


# ---------------------------------------------------------------- the two modes


async def closed_loop(
    client: RawClient | HttpxClient, rec: Recorder, concurrency: int, warmup: float, duration: float
) -> None:
    """``concurrency`` workers back to back; a request counts if it *completes* in the window."""
    start = time.perf_counter()
    rec.window_start, rec.window_end = start + warmup, start + warmup + duration

    async def worker() -> None:
        while time.perf_counter() < rec.window_end:
            t0 = time.perf_counter()
            rec.sent_total += 1
            outcome, t1 = await timed(client.send)
            rec.add(t1, t1 - t0, outcome)

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await mark_window(rec)
    await asyncio.wait(workers, timeout=DRAIN_SECONDS)


async def open_loop(
    client: RawClient | HttpxClient, rec: Recorder, rate: float, warmup: float, duration: float, seed: int
) -> None:
    """Poisson arrivals at ``rate``/s; a request counts if it was *scheduled* in the window."""
    rng = random.Random(seed)
    start = time.perf_counter()
    rec.window_start, rec.window_end = start + warmup, start + warmup + duration
    pending: set[asyncio.Task[None]] = set()

    async def one(scheduled: float) -> None:
        outcome, t1 = await timed(client.send)
        rec.add(scheduled, t1 - scheduled, outcome)

    marker = asyncio.create_task(mark_window(rec))
    at = start
    while at < rec.window_end:
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        rec.sent_total += 1
        task = asyncio.create_task(one(at))
        pending.add(task)
        task.add_done_callback(pending.discard)
        at += rng.expovariate(rate)
    await marker
    if pending:
        await asyncio.wait(pending, timeout=DRAIN_SECONDS)


async def mark_window(rec: Recorder) -> None:
    """Tell the parent when the window opens and closes (it profiles exactly that span)."""
    await asyncio.sleep(max(0.0, rec.window_start - time.perf_counter()))
    announce("WINDOW_START")
    rec.cpu_start = time.process_time()
    await asyncio.sleep(max(0.0, rec.window_end - time.perf_counter()))
    rec.cpu_end = time.process_time()
    announce("WINDOW_END")


# ---------------------------------------------------------------- summary


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = min(len(sorted_values), max(1, math.ceil(pct / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def summarize(rec: Recorder, args: argparse.Namespace, opened: int) -> dict[str, Any]:
    lat = sorted(rec.latencies)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    cpu = rec.cpu_end - rec.cpu_start
    return {
        "mode": args.mode,
        "client": args.client,
        "concurrency": args.concurrency if args.mode == "closed" else None,
        "rate_target": args.rate if args.mode == "open" else None,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "templates": args.templates,
        "connections_opened": opened,
        "ok": rec.ok_in_window,
        "tps": round(rec.ok_in_window / args.duration, 2),
        "attempted_per_s": round(len(lat) / args.duration, 2),
        "latency_ms": {
            "p50": ms(percentile(lat, 50)),
            "p95": ms(percentile(lat, 95)),
            "p99": ms(percentile(lat, 99)),
            "max": ms(lat[-1] if lat else None),
            "mean": ms(sum(lat) / len(lat) if lat else None),
        },
        "errors": sum(rec.errors_in_window.values()),
        "errors_by_code": dict(rec.errors_in_window.most_common()),
        "ok_total": rec.ok_total,
        "sent_total": rec.sent_total,
        "outcomes_total": dict(rec.outcomes_total.most_common()),
        "loadgen_cpu_s": round(cpu, 2),
        "loadgen_cpu_share_of_one_core": round(cpu / args.duration, 3),
    }


# ---------------------------------------------------------------- entry point


def load_workload(path: Path) -> tuple[list[Person], list[Institution], date]:
    data = json.loads(path.read_text())
    persons = [
        Person(p["id_number"], p["gender"], date.fromisoformat(p["birth_date"]), p["scheme"], p["has_account"])
        for p in data["persons"]
    ]
    institutions = [Institution(**i) for i in data["institutions"]]
    return persons, institutions, date.fromisoformat(data["today"])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    persons, institutions, today = load_workload(args.workload)
    templates = build_templates(
        persons, institutions, args.templates, args.seed, args.host, args.port, today, mix=args.mix
    )
    salt = args.salt or "".join(random.choices(string.ascii_lowercase + string.digits, k=3))
    source = RequestSource(templates, salt, args.phase)
    max_connections = args.concurrency if args.mode == "closed" else args.max_connections
    client_class = RawClient if args.client == "raw" else HttpxClient
    client = client_class(args.host, args.port, source, max_connections)
    rec = Recorder()
    if args.mode == "closed":
        await client.prewarm(args.concurrency)
    announce("READY")
    try:
        if args.mode == "closed":
            await closed_loop(client, rec, args.concurrency, args.warmup, args.duration)
        else:
            await open_loop(client, rec, args.rate, args.warmup, args.duration, args.seed)
    finally:
        await client.close()
    return summarize(rec, args, client.opened)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", type=Path, required=True, help="persons + institution keys (JSON)")
    p.add_argument("--out", type=Path, required=True, help="where to write the result JSON")
    p.add_argument("--mode", choices=("closed", "open"), default="closed")
    p.add_argument("--concurrency", type=int, default=32, help="closed loop: workers")
    p.add_argument("--rate", type=float, default=100.0, help="open loop: requests per second")
    p.add_argument("--max-connections", type=int, default=256, help="open loop: connection cap")
    p.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds sent but not measured")
    p.add_argument("--templates", type=int, default=20_000, help="distinct bills to cycle through")
    p.add_argument("--phase", default="A", help="one letter, part of every unique token")
    p.add_argument(
        "--salt",
        default=None,
        help="3 characters, part of every unique token (default: random); run.py "
        "passes its own to issue the phase's prescriptions beforehand",
    )
    p.add_argument("--mix", default="rx", help="the bill mix (bills.MIXES)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8811)
    p.add_argument("--client", choices=("raw", "httpx"), default="raw")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    runner: Callable[[Any], Any] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    result = runner(run(args))
    args.out.write_text(json.dumps(result, indent=2))
    announce("DONE")


if __name__ == "__main__":
    main()
