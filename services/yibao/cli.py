"""``yibao``: the operator's command line. Thin: every command calls the core."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from yibao.config import get_settings

T = TypeVar("T")


def _run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]


async def _in_transaction(work: Callable[[Any], Awaitable[T]]) -> T:
    from yibao.db.engine import make_engine, make_sessionmaker

    engine = make_engine(get_settings(), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


@click.group()
def main() -> None:
    """医保基金管理后台 — medical-insurance fund administration backend."""


# ------------------------------------------------------------------ database
@main.group()
def db() -> None:
    """Create and migrate the database."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create the database if missing, then ``alembic upgrade``."""
    from yibao.db import admin

    url = get_settings().database_url
    if asyncio.run(admin.create_database(url)):
        click.echo("created database")
    admin.upgrade(url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.option("--revision", default="base", show_default=True)
def db_downgrade(revision: str) -> None:
    from yibao.db import admin

    admin.downgrade(get_settings().database_url, revision)
    click.echo(f"database at {revision}")


# ------------------------------------------------------------------ reference data
@main.command("load-reference")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def load_reference(directory: Path | None) -> None:
    """Load policy-*.json, catalog.csv, institutions.csv, dip-groups.csv (idempotent)."""
    from yibao.policy.loader import load_reference as load

    target = directory or get_settings().reference_dir
    report = _run(lambda: _in_transaction(lambda s: load(s, target)))
    for line in report.lines():
        click.echo(line)


# ------------------------------------------------------------------ credentials
@main.group()
def keys() -> None:
    """Institution API keys."""


@keys.command("create")
@click.option("--institution", "institution", required=True, help="institution code, e.g. H430522100")
def keys_create(institution: str) -> None:
    """Issue a new key; the secret is the last line of output and is never shown again."""
    from yibao.auth.tokens import create_institution_key

    secret = _run(lambda: _in_transaction(lambda s: create_institution_key(s, institution)))
    click.echo(f"institution key for {institution}:")
    click.echo(secret)


@main.group()
def tokens() -> None:
    """Staff bearer tokens."""


@tokens.command("create")
@click.option("--role", required=True, help="admin, clerk, first_reviewer, second_reviewer, inspector, finance")
@click.option("--name", required=True)
def tokens_create(role: str, name: str) -> None:
    """Issue a staff token; the token is the last line of output."""
    from yibao.auth.tokens import create_staff_token

    try:
        secret = _run(lambda: _in_transaction(lambda s: create_staff_token(s, role, name)))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(f"{role} token for {name}:")
    click.echo(secret)


@main.group()
def staff() -> None:
    """Staff accounts (log in at POST /api/v1/auth/login)."""


@staff.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, help="admin, clerk, first_reviewer, second_reviewer, inspector, finance")
@click.option("--display-name", default=None)
@click.password_option(help="10+ characters; prompted for when omitted")
def staff_create(username: str, role: str, display_name: str | None, password: str) -> None:
    """Create a staff account (the first admin account is created this way)."""
    from yibao import audit as audit_log
    from yibao.auth.staff import create_user
    from yibao.errors import DomainError

    async def work(session: Any) -> None:
        await create_user(session, username, display_name or username, role, password)
        await audit_log.record(session, audit_log.Actor("system", "cli"), "staff.created",
                               ("staff_user", username), {"role": role})

    try:
        _run(lambda: _in_transaction(work))
    except DomainError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(f"created {role} account {username}")


# ------------------------------------------------------------------ processes
@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the chain; exit 1 and name the first broken link if any entry was edited or removed."""
    from yibao.audit import verify

    checked, broken = _run(lambda: _in_transaction(verify))
    if broken is None:
        click.echo(f"audit chain intact: {checked} entries")
        return
    click.echo(
        f"audit chain BROKEN at entry {broken.entry_id} (after {checked} good entries): {broken.reason}", err=True
    )
    raise SystemExit(1)


@main.command()
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


@main.command()
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


@main.command()
def schedule() -> None:
    """Run the settlement scheduler (daily settle of yesterday at 00:10 China time)."""
    os.execvp(sys.executable, [sys.executable, "-m", "settlement.schedule"])


@main.command()
def relay() -> None:
    """Run a standalone outbox relay (the API runs one too; several are safe)."""
    from yibao.db.engine import make_engine, make_sessionmaker
    from yibao.events.outbox import relay_forever
    from yibao.messaging.broker import make_broker

    s = get_settings()

    async def go() -> None:
        engine = make_engine(s, pool_size=2)
        await relay_forever(make_sessionmaker(engine), make_broker(s), s.outbox_poll_seconds, s.outbox_batch)

    asyncio.run(go())


@main.command()
@click.option("--institution", default="H430522100", show_default=True, help="key to print for")
def up(institution: str) -> None:
    """Set everything up and run the whole system: DB, reference data, API, both workers, scheduler."""
    from yibao.auth.tokens import create_institution_key, create_staff_token
    from yibao.db import admin
    from yibao.policy.loader import load_reference as load

    s = get_settings()
    if asyncio.run(admin.create_database(s.database_url)):
        click.echo("created database")
    admin.upgrade(s.database_url)
    for line in _run(lambda: _in_transaction(lambda x: load(x, s.reference_dir))).lines():
        click.echo(line)
    key = _run(lambda: _in_transaction(lambda x: create_institution_key(x, institution)))
    token = _run(lambda: _in_transaction(lambda x: create_staff_token(x, "admin", "bootstrap")))
    me = [sys.executable, "-m", "yibao.cli"]
    # each child leads its own process group, so stopping it stops its worker processes too
    procs = [
        subprocess.Popen([*me, "api"], start_new_session=True),
        subprocess.Popen([*me, "worker", "settlement"], start_new_session=True),
        subprocess.Popen([*me, "worker", "monitor"], start_new_session=True),
        subprocess.Popen([*me, "schedule"], start_new_session=True),
    ]
    click.echo(f"API:           http://{s.api_host}:{s.api_port}  (docs: /docs)")
    click.echo(f"institution key ({institution}): {key}")
    click.echo(f"admin token: {token}")
    click.echo("Ctrl-C stops everything.")

    def stop(*_: object) -> None:
        for p in procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)


@main.command()
@click.option("--base-url", default=None, help="API base URL (default: from settings)")
@click.option("--admin-token", envvar="YIBAO_ADMIN_TOKEN", required=True)
@click.option("--persons", default=200, show_default=True)
@click.option("--bills", default=1000, show_default=True)
@click.option("--concurrency", default=8, show_default=True)
@click.option("--seed", default=2026, show_default=True)
def simulate(base_url: str | None, admin_token: str, persons: int, bills: int, concurrency: int, seed: int) -> None:
    """Drive the API like a day of HIS and POS traffic, then print what happened."""
    from yibao.simulate import run

    s = get_settings()
    url = base_url or f"http://{s.api_host}:{s.api_port}"
    report = asyncio.run(run(url, admin_token, persons, bills, concurrency, seed))
    for line in report:
        click.echo(line)


if __name__ == "__main__":
    main()


# ------------------------------------------------------------------ smart monitoring
@main.group()
def monitor() -> None:
    """智能监控 smart monitoring: evaluation and sweeps."""


@monitor.command("evaluate")
@click.option("--persons", default=2000, show_default=True, help="background insured persons")
@click.option("--bills", default=20000, show_default=True, help="background bills (about)")
@click.option("--year", default=2025, show_default=True)
@click.option("--seed", default=7, show_default=True)
def monitor_evaluate(persons: int, bills: int, year: int, seed: int) -> None:
    """Synthetic year with planted violations → every model → precision and recall per rule.
    Runs in one transaction that is rolled back: nothing is left in the database."""
    from yibao.db.engine import make_engine, make_sessionmaker
    from yibao.monitoring.evaluate import Evaluation, evaluate

    async def go() -> Evaluation:
        engine = make_engine(get_settings(), pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session:
                try:
                    return await evaluate(session, persons=persons, bills=bills, year=year, seed=seed)
                finally:
                    await session.rollback()
        finally:
            await engine.dispose()

    for line in _run(go).lines():
        click.echo(line)
