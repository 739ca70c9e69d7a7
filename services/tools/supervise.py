"""Running the system's processes: ``yibao up`` (everything), ``api``, ``worker``, ``schedule``
and a standalone ``relay``.

Supervision, not domain: each command starts a process of a service (by module name, so the
tools never import the services) or sets the system up through the core's own functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

from yibao.cli import cli_actor, in_transaction, in_unit_of_work
from yibao.config import get_settings


@click.command()
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
@click.option("--workers", default=None, type=int)
def api(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the HTTP gateway (uvicorn + uvloop)."""
    import uvicorn

    s = get_settings()
    uvicorn.run(
        "api.main:app",
        host=host or s.api_host,
        port=port or s.api_port,
        workers=workers or s.api_workers,
        loop="uvloop",
        http="httptools",
        log_level=s.log_level.lower(),
        access_log=False,
    )


@click.command()
@click.argument("service", type=click.Choice(["settlement", "monitor"]))
@click.option("--processes", default=1, show_default=True)
@click.option("--threads", default=4, show_default=True)
def worker(service: str, processes: int, threads: int) -> None:
    """Run a Dramatiq worker for one service's queue."""
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "dramatiq",
            f"{service}.worker",
            "--queues",
            service,
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ],
    )


@click.command()
def schedule() -> None:
    """Run the settlement scheduler (daily settle of yesterday at 00:10 China time)."""
    os.execvp(sys.executable, [sys.executable, "-m", "settlement.schedule"])


@click.command()
@click.option("--timeout", default=3.0, show_default=True, help="seconds to wait for each answer")
def check(timeout: float) -> None:
    """Exit 0 when PostgreSQL and Redis answer, 1 otherwise: the healthcheck of the workers and
    the scheduler, which have no HTTP port to probe but cannot work without either."""
    from redis.asyncio import Redis

    from yibao.db.engine import make_engine, make_sessionmaker
    from yibao.db.helpers import ping

    s = get_settings()

    async def probe() -> list[str]:
        failures: list[str] = []
        engine = make_engine(s, pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session:
                await asyncio.wait_for(ping(session), timeout)
        except Exception as e:  # any failure is the answer, named
            failures.append(f"database: {type(e).__name__}: {e}")
        finally:
            await engine.dispose()
        redis = Redis.from_url(s.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            await redis.ping()
        except Exception as e:
            failures.append(f"redis: {type(e).__name__}: {e}")
        finally:
            await redis.aclose()
        return failures

    failures = asyncio.run(probe())
    for failure in failures:
        click.echo(failure, err=True)
    if failures:
        sys.exit(1)
    click.echo("ok")


@click.command()
def relay() -> None:
    """Run a standalone outbox relay (the API runs one too; several are safe)."""
    from yibao.db.engine import make_engine, make_sessionmaker
    from yibao.messaging.broker import make_broker
    from yibao.messaging.relay import redelivery_of, relay_forever

    s = get_settings()

    async def go() -> None:
        engine = make_engine(s, pool_size=2)
        await relay_forever(
            make_sessionmaker(engine), make_broker(s), s.outbox_poll_seconds, s.outbox_batch, redelivery_of(s)
        )

    asyncio.run(go())


def _bootstrap_token() -> str:
    """The admin token line ``yibao up`` prints: the one it issued before while that is still
    accepted (kept in ``<state dir>/bootstrap-token``, private to this user), else a new one;
    none once an admin account exists (bootstrap tokens stop working then)."""
    from yibao.auth.service import issue_staff_token
    from yibao.auth.tokens import admin_account_exists, usable_staff_token

    s = get_settings()
    path = s.state_path() / "bootstrap-token"
    kept = path.read_text().strip() if path.is_file() else ""
    if kept and in_transaction(lambda x: usable_staff_token(x, kept)):
        return f"admin token (issued earlier, `yibao tokens list`): {kept}"
    if in_transaction(admin_account_exists):
        return "admin: log in with a staff account at POST /api/v1/auth/login (`yibao staff create` makes one)"
    issued = in_unit_of_work(lambda uow: issue_staff_token(uow, cli_actor(), "admin", "bootstrap"))
    _keep_private(path, issued.secret)
    return f"admin token (expires {issued.expires_at.isoformat(timespec='minutes')}): {issued.secret}"


def _keep_private(path: Path, text: str) -> None:
    """A secret ``yibao up`` reuses at its next start, readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _institution_key(institution: str) -> str:
    """The institution key line ``yibao up`` prints: the key it issued before while that is still
    active for the institution (kept in ``<state dir>/institution-key-<code>``), else a new one —
    so restarting does not leave a trail of unused keys behind (each start used to issue one)."""
    from yibao.auth.service import issue_institution_key
    from yibao.auth.tokens import institution_for_key

    s = get_settings()
    path = s.state_path() / f"institution-key-{institution}"
    kept = path.read_text().split() if path.is_file() else []
    if len(kept) == 2 and in_transaction(lambda x: institution_for_key(x, kept[1])) == institution:
        return f"institution key ({institution}, key id {kept[0]}, issued earlier): {kept[1]}"
    key = in_unit_of_work(lambda uow: issue_institution_key(uow, cli_actor(), institution, s.master_secret()))
    _keep_private(path, f"{key.key_id} {key.secret}")
    return f"institution key ({institution}, key id {key.key_id}): {key.secret}"


@click.command()
@click.option("--institution", default="H430522100", show_default=True, help="key to print for")
def up(institution: str) -> None:
    """Set everything up and run the whole system: DB, reference data, API, both workers, scheduler."""
    from yibao.db import admin
    from yibao.reference.loader import load_reference as load

    s = get_settings()
    refuse_busy_port(s.api_host, s.api_port)
    if asyncio.run(admin.create_database(s.database_url)):
        click.echo("created database")
    admin.upgrade(s.database_url)
    for line in in_transaction(lambda x: load(x, s.reference_dir)).lines():
        click.echo(line)
    key = _institution_key(institution)
    token = _bootstrap_token()
    me = [sys.executable, "-m", "tools.cli"]
    # each child leads its own process group, so stopping it stops its worker processes too
    children = (["api"], ["worker", "settlement"], ["worker", "monitor"], ["schedule"])
    procs = [subprocess.Popen([*me, *child], start_new_session=True) for child in children]
    click.echo(f"API:           http://{s.api_host}:{s.api_port}  (docs: /docs)")
    click.echo(key)
    click.echo(token)
    click.echo("Ctrl-C stops everything.")

    def stop(*_: object) -> None:
        for p in procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    interrupted = False
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
    stopped_ok = (0, -signal.SIGTERM, None)
    failed = [(c, p.returncode) for c, p in zip(children, procs, strict=True) if p.returncode not in stopped_ok]
    if failed and not interrupted:
        (child, code), *_ = failed
        click.echo(f"yibao {' '.join(child)} exited with {code}; stopped the rest", err=True)
        sys.exit(code if code > 0 else 1)


def refuse_busy_port(host: str, port: int) -> None:
    """Exit 2 before minting any credential when the API's port is taken: otherwise the API child
    fails to bind while the rest runs on, and the printed key and token point at nothing."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            click.echo(
                f"端口 {host}:{port} 已被占用 port {host}:{port} is busy ({e.strerror}); "
                "stop what holds it or set API_PORT (and API_HOST) to another",
                err=True,
            )
            sys.exit(2)
