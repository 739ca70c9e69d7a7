"""The core's operator commands: database, reference data, credentials, staff, audit log.

Thin: every command calls the core. The ``yibao`` console script is ``tools.cli``, which adds
the tools' commands (running the processes, the simulator, the monitoring evaluation) to these.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from yibao.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from yibao.audit import Actor
    from yibao.db.uow import UnitOfWork

T = TypeVar("T")


async def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from yibao.db.engine import make_engine, make_sessionmaker

    engine = make_engine(get_settings(), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction of its own, committed when it returns."""
    return asyncio.run(_in_transaction(work))


async def _in_unit_of_work(work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    from yibao.db.engine import make_engine, make_sessionmaker
    from yibao.db.uow import UnitOfWork

    engine = make_engine(get_settings(), pool_size=1)
    try:
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            return await work(uow)
    finally:
        await engine.dispose()


def in_unit_of_work(work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run a use case, which commits (and audits) itself, as the API would run it."""
    return asyncio.run(_in_unit_of_work(work))


def cli_actor() -> Actor:
    """How the audit log names what an operator did from this command line."""
    from yibao.audit import Actor

    return Actor("system", "cli")


@click.group()
def core() -> None:
    """The core's commands (``tools.cli`` assembles them with the tools' into ``yibao``)."""


# ------------------------------------------------------------------ database
@core.group()
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
@click.argument("revision")
@click.option("--yes", is_flag=True, help="do not ask for confirmation (scripts)")
def db_downgrade(revision: str, yes: bool) -> None:
    """Migrate the database DOWN to REVISION, dropping what later revisions created.

    REVISION is explicit on purpose (there is no default): ``base`` drops every table and all
    the data in them; ``-1`` undoes the last revision; ``0007`` goes to that revision. Asks for
    confirmation unless ``--yes`` is given."""
    from yibao.db import admin

    url = get_settings().database_url
    target = "every table and all their data" if revision == "base" else f"what came after revision {revision}"
    if not yes:
        click.confirm(f"This drops {target} in {_masked(url)}. Continue?", abort=True)
    admin.downgrade(url, revision)
    click.echo(f"database at {revision}")


def _masked(url: str) -> str:
    """The database URL without its password, to name the target in a confirmation."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ------------------------------------------------------------------ reference data
@core.command("load-reference")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def load_reference(directory: Path | None) -> None:
    """Load policy-*.json, catalog.csv, institutions.csv, dip-groups.csv (idempotent)."""
    from yibao.reference.loader import load_reference as load

    target = directory or get_settings().reference_dir
    report = in_transaction(lambda s: load(s, target))
    for line in report.lines():
        click.echo(line)


# ------------------------------------------------------------------ credentials
@core.group()
def keys() -> None:
    """Institution API keys."""


@keys.command("create")
@click.option("--institution", "institution", required=True, help="institution code, e.g. H430522100")
def keys_create(institution: str) -> None:
    """Issue a new key; the secret is the last line of output and is never shown again."""
    from yibao.auth.service import issue_institution_key

    master = get_settings().master_secret()
    secret = in_unit_of_work(lambda uow: issue_institution_key(uow, cli_actor(), institution, master))
    click.echo(f"institution key for {institution}:")
    click.echo(secret)


@core.group()
def tokens() -> None:
    """Staff bearer tokens."""


@tokens.command("create")
@click.option("--role", required=True, help="admin, clerk, first_reviewer, second_reviewer, inspector, finance")
@click.option("--name", required=True)
def tokens_create(role: str, name: str) -> None:
    """Issue a staff token; the token is the last line of output."""
    from yibao.auth.service import issue_staff_token

    try:
        secret = in_unit_of_work(lambda uow: issue_staff_token(uow, cli_actor(), role, name))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(f"{role} token for {name}:")
    click.echo(secret)


@core.group()
def staff() -> None:
    """Staff accounts (log in at POST /api/v1/auth/login)."""


@staff.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, help="admin, clerk, first_reviewer, second_reviewer, inspector, finance")
@click.option("--display-name", default=None)
@click.password_option(help="10+ characters; prompted for when omitted")
def staff_create(username: str, role: str, display_name: str | None, password: str) -> None:
    """Create a staff account (the first admin account is created this way)."""
    from yibao.auth.service import create_staff
    from yibao.errors import DomainError

    try:
        in_unit_of_work(lambda uow: create_staff(uow, cli_actor(), username, display_name or username, role, password))
    except DomainError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(f"created {role} account {username}")


# ------------------------------------------------------------------ audit log
@core.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the chain; exit 1 and name the first broken link if any entry was edited or removed."""
    from yibao.audit import verify

    checked, broken = in_transaction(verify)
    if broken is None:
        click.echo(f"audit chain intact: {checked} entries")
        return
    click.echo(
        f"audit chain BROKEN at entry {broken.entry_id} (after {checked} good entries): {broken.reason}", err=True
    )
    raise SystemExit(1)
