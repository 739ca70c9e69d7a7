"""Outages of the two servers the system leans on, each with the real API and workers running.

* Redis stopped for a while during load: settlements keep succeeding (Redis only carries
  events, rate-limit counters and nonces), and every event is delivered once it returns.
* PostgreSQL restarted during load: callers get clear 503s (never a 500), nothing is half
  written, and the system recovers by itself.

Each outage uses a private server (its own port and data directory), never the machine's
shared PostgreSQL or Redis.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import String, cast, func, select, text

from tests.builders import make_bill, make_person
from tests.robustness import live
from yibao.bill_settlement.orm import SettlementRow
from yibao.config import Settings
from yibao.db.engine import make_engine, make_sessionmaker
from yibao.db.orm import OutboxRow
from yibao.events.orm import InboxRow

QUICK = {
    "BROKER_HEARTBEAT_TIMEOUT_MS": "3000",
    "BROKER_MAINTENANCE_CHANCE": "200000",
    "RATE_LIMIT_ENABLED": "true",
    "OUTBOX_POLL_SECONDS": "0.1",
    "OUTBOX_REDELIVER_SECONDS": "4",  # an event Redis lost is sent again within the 60 s the test waits
}


class PrivateRedis:
    """redis-server with an fsync-always append-only file, so a stop loses no queued message."""

    def __init__(self, workdir: Path) -> None:
        self.dir, self.port = workdir, live.free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if (
                subprocess.run(
                    [shutil.which("redis-cli") or "redis-cli", "-p", str(self.port), "ping"],
                    capture_output=True,
                    text=True,
                ).stdout.strip()
                == "PONG"
            ):
                return
            time.sleep(0.05)
        raise TimeoutError("private redis did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None and not Path("/usr/bin/redis-server").exists():
        pytest.skip("redis-server not installed")
    r = PrivateRedis(tmp_path)
    r.start()
    yield r
    r.stop()


def _system(settings: Settings, logs: Path, **env: str) -> tuple[str, list[subprocess.Popen[bytes]]]:
    port = live.free_port()
    e = live.env_for(settings, **{**QUICK, **env})
    procs = [
        live.start([str(live.BIN / "yibao"), "api", "--port", str(port)], e, logs / "api.log"),
        live.start(
            [str(live.BIN / "yibao"), "worker", "settlement", "--processes", "1", "--threads", "2"],
            e,
            logs / "settlement.log",
        ),
        live.start(
            [str(live.BIN / "yibao"), "worker", "monitor", "--processes", "1", "--threads", "2"],
            e,
            logs / "monitor.log",
        ),
    ]
    return f"http://127.0.0.1:{port}", procs


async def _delivered(sessionmaker, keys: list[str], within: float) -> tuple[int, dict[str, int]]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        async with sessionmaker() as s:
            ids = select(cast(SettlementRow.id, String)).where(SettlementRow.idempotency_key.in_(keys))
            events = await s.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.payload["settlement_id"].astext.in_(ids))
            )
            rows = await s.execute(
                select(InboxRow.consumer, func.count())
                .where(InboxRow.payload["settlement_id"].astext.in_(ids))
                .group_by(InboxRow.consumer)
            )
            inbox = {c: n for c, n in rows.all()}
        if inbox == {"settlement": events, "monitor": events} or time.monotonic() > deadline:
            return int(events or 0), inbox
        await asyncio.sleep(0.5)


@pytest.mark.slow
async def test_redis_outage_does_not_stop_settlement(
    settings: Settings,
    private_redis: PrivateRedis,
    client,
    admin_headers,
    institution_keys,
    sessionmaker,
    tmp_path: Path,
) -> None:
    people = [await make_person(client, admin_headers) for _ in range(10)]
    base, procs = _system(settings.model_copy(update={"redis_url": private_redis.url}), tmp_path)
    hospital = {"Authorization": f"Bearer {institution_keys['H430522100']}"}
    statuses: list[int] = []
    keys: list[str] = []
    try:
        await asyncio.to_thread(live.wait_healthy, base)
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:

            async def settle(n: int) -> None:
                for i in range(n):
                    key = f"redis-{secrets.token_hex(8)}"
                    keys.append(key)
                    r = await http.post(
                        "/api/v1/settlements",
                        json=make_bill(people[i % len(people)]),
                        headers={**hospital, "Idempotency-Key": key},
                    )
                    statuses.append(r.status_code)

            await settle(20)
            private_redis.stop()
            outage_started = len(statuses)
            await settle(40)  # while Redis is down
            await asyncio.sleep(1.0)
            outage_statuses = statuses[outage_started:]
            private_redis.start()
            await settle(20)
        events, inbox = await _delivered(sessionmaker, keys, within=60)
    finally:
        for p in procs:
            live.kill(p)
    assert outage_statuses == [201] * 40, f"during the outage: {outage_statuses}"
    assert statuses == [201] * 80
    assert events == 80 and inbox == {"settlement": 80, "monitor": 80}, (events, inbox)


# ------------------------------------------------------------------ PostgreSQL restart


class PrivatePostgres:
    """A throw-away cluster (initdb as the postgres OS user, since the server refuses root)."""

    BIN = (
        Path("/usr/lib/postgresql")
        / (sorted(os.listdir("/usr/lib/postgresql"))[-1] if Path("/usr/lib/postgresql").exists() else "15")
        / "bin"
    )

    def __init__(self, workdir: Path) -> None:
        self.data = workdir / "pgdata"
        self.port = live.free_port()
        self.sock = workdir

    def _as_postgres(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # no pipes: a server started by pg_ctl could inherit them and keep run() waiting
        subprocess.run(
            [*prefix, *args],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def init(self) -> None:
        self.sock.chmod(0o777)
        self._as_postgres(str(self.BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        self._as_postgres(
            str(self.BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.sock / "pg.log"),
            "-o",
            f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1",
            "start",
        )

    def restart(self) -> None:
        self._as_postgres(
            str(self.BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-m",
            "fast",
            "-l",
            str(self.sock / "pg.log"),
            "restart",
            "-o",
            f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1",
        )

    def stop(self) -> None:
        self._as_postgres(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", "immediate", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/yibao"


@pytest.fixture
def private_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    if not (PrivatePostgres.BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries not installed")
    workdir = Path(f"/tmp/yibao-pg-{secrets.token_hex(4)}")
    workdir.mkdir()
    pg = PrivatePostgres(workdir)
    try:
        pg.init()
        pg.start()
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(f"cannot run a private PostgreSQL here: {exc}")
    yield pg
    pg.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def _cli(settings: Settings, *args: str) -> str:
    done = subprocess.run(
        [str(live.BIN / "yibao"), *args],
        env=live.env_for(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
async def test_postgres_restart_gives_503_and_no_partial_write(
    settings: Settings, private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    # its own broker namespace too: what its relay publishes names rows of the private database,
    # which a worker of the shared run would look for in vain (EventNotFound, retried past a join)
    s = settings.model_copy(
        update={"database_url": private_pg.url, "broker_namespace": f"{settings.broker_namespace}-private-pg"}
    )
    _cli(s, "db", "upgrade")
    _cli(s, "load-reference")
    key = _cli(s, "keys", "create", "--institution", "H430522100")
    admin = {"Authorization": f"Bearer {_cli(s, 'tokens', 'create', '--role', 'admin', '--name', 'ops')}"}
    base, procs = _system(s, tmp_path)
    acknowledged: dict[str, str] = {}
    seen: list[int] = []
    sent_at: list[float] = []  # monotonic time of every attempt, to prove the restart hit the load
    first_ten_each, restart_began, restart_ended = asyncio.Event(), asyncio.Event(), asyncio.Event()
    window: list[float] = []
    try:
        await asyncio.to_thread(live.wait_healthy, base)
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            people = [await make_person(http, admin) for _ in range(10)]

            async def his(worker: int) -> None:
                for i in range(30):
                    if i == 10:  # bills 10-19 go out while PostgreSQL restarts …
                        await restart_began.wait()
                    if i == 20:  # … and 20-29 after it is back, so acknowledgements straddle it
                        await restart_ended.wait()
                    key_ = f"pg-{worker}-{i}-{secrets.token_hex(4)}"
                    body = make_bill(people[(worker + i) % len(people)])
                    for _ in range(200):  # the HIS retries with the same key until answered
                        sent_at.append(time.monotonic())
                        try:
                            r = await http.post(
                                "/api/v1/settlements",
                                json=body,
                                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": key_},
                            )
                        except httpx.HTTPError:
                            seen.append(0)
                            await asyncio.sleep(0.1)
                            continue
                        seen.append(r.status_code)
                        if r.status_code in (200, 201):
                            acknowledged[key_] = r.json()["settlement_id"]
                            if len(acknowledged) == 40:  # the first ten bills of every HIS are in
                                first_ten_each.set()
                            break
                        await asyncio.sleep(0.1)

            async def restart_midway() -> None:
                await first_ten_each.wait()
                window.append(time.monotonic())
                restart_began.set()
                await asyncio.to_thread(private_pg.restart)
                window.append(time.monotonic())
                restart_ended.set()

            await asyncio.gather(*(his(w) for w in range(4)), restart_midway())
    finally:
        for p in procs:
            live.kill(p)
        live.clear_broker(s)

    began, ended = window
    assert min(sent_at) < began and max(sent_at) > ended
    during = [t for t in sent_at if began <= t <= ended]
    assert during, "no request was sent while PostgreSQL restarted: the test did not test the outage"
    assert 500 not in seen and all(c in (0, 200, 201, 503) for c in seen), sorted(set(seen))
    assert len(acknowledged) == 120
    engine = make_engine(s, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            stored = (await session.execute(select(SettlementRow.idempotency_key, SettlementRow.id))).all()
            lineless = await session.scalar(
                text(
                    "SELECT count(*) FROM settlements s WHERE NOT EXISTS "
                    "(SELECT 1 FROM settlement_lines l WHERE l.settlement_id = s.id)"
                )
            )
            drift = await session.scalar(
                text(
                    "SELECT count(*) FROM person_years py WHERE py.fund_paid <> "
                    "(SELECT coalesce(sum((s.accrual->>'fund_paid')::bigint), 0) FROM settlements s "
                    " WHERE s.person_id = py.person_id AND s.year = py.year AND s.status = 'settled')"
                )
            )
    finally:
        await engine.dispose()
    assert {k: str(v) for k, v in stored} == acknowledged
    assert lineless == 0 and drift == 0
    print(
        f"\npostgres restart: {len(seen)} responses ({len(during)} sent during the restart), "
        f"{seen.count(503)} × 503, {seen.count(0)} connection "
        f"errors, 0 × 500; {len(acknowledged)} acknowledged = stored"
    )
