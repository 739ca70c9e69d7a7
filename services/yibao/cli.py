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
    """Issue a new key: its id (X-Yibao-Key of signed requests), then the secret on the last line,
    which is never shown again."""
    from yibao.auth.service import issue_institution_key

    master = get_settings().master_secret()
    issued = in_unit_of_work(lambda uow: issue_institution_key(uow, cli_actor(), institution, master))
    click.echo(f"institution key for {institution} (key id {issued.key_id}):")
    click.echo(issued.secret)


@core.group()
def tokens() -> None:
    """Bootstrap staff tokens (ybs_…): for the first start, until staff accounts exist.

    They expire (BOOTSTRAP_TOKEN_HOURS, default 24) and stop working once an active admin
    account exists, unless renewed on purpose (``tokens renew``)."""


def _domain_errors_as_usage(work: Callable[[], T]) -> T:
    from yibao.errors import DomainError

    try:
        return work()
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc


@tokens.command("create")
@click.option("--role", required=True, help="admin, clerk, first_reviewer, second_reviewer, inspector, finance")
@click.option("--name", required=True)
@click.option(
    "--hours", type=click.IntRange(1, 24 * 366), default=None, help="lifetime [default: BOOTSTRAP_TOKEN_HOURS]"
)
def tokens_create(role: str, name: str, hours: int | None) -> None:
    """Issue a staff token; the token is the last line of output."""
    from yibao.auth.service import issue_staff_token

    issued = _domain_errors_as_usage(
        lambda: in_unit_of_work(lambda uow: issue_staff_token(uow, cli_actor(), role, name, hours))
    )
    click.echo(f"{role} token {issued.id} for {name}, expires {issued.expires_at.isoformat(timespec='seconds')}:")
    click.echo(issued.secret)


@tokens.command("list")
def tokens_list() -> None:
    """Every bootstrap token (never its secret) with its status: active, expired, revoked, or
    superseded (an admin account exists and it was not renewed)."""
    from yibao.auth.tokens import list_staff_tokens

    rows = in_transaction(list_staff_tokens)
    if not rows:
        click.echo("no bootstrap tokens")
    for r in rows:
        click.echo(
            f"{r['id']:>6}  {r['status']:<10}  {r['role']:<15}  {r['name']:<20}  expires {r['expires_at']}"
            + (f"  revoked {r['revoked_at']}" if r["revoked_at"] else "")
        )


@tokens.command("revoke")
@click.argument("token_id", type=click.IntRange(1))
def tokens_revoke(token_id: int) -> None:
    """Revoke a token: refused from the next request on."""
    from yibao.auth.service import revoke_staff_token

    done = _domain_errors_as_usage(lambda: in_unit_of_work(lambda uow: revoke_staff_token(uow, cli_actor(), token_id)))
    click.echo(f"revoked staff token {token_id} ({done['name']}, {done['role']})")


@tokens.command("renew")
@click.argument("token_id", type=click.IntRange(1))
@click.option("--hours", type=click.IntRange(1, 24 * 366), default=None, help="new lifetime from now")
def tokens_renew(token_id: int, hours: int | None) -> None:
    """Extend a token and keep it working although an admin account exists (a service account)."""
    from yibao.auth.service import renew_staff_token

    done = _domain_errors_as_usage(
        lambda: in_unit_of_work(lambda uow: renew_staff_token(uow, cli_actor(), token_id, hours))
    )
    click.echo(f"renewed staff token {token_id} ({done['name']}) until {done['expires_at']}")


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
@click.option(
    "--anchors",
    "anchor_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="anchors to check (default: AUDIT_ANCHOR_FILE, if it exists)",
)
def audit_verify(anchor_file: Path | None) -> None:
    """Walk the chain; exit 1 naming the first entry that was edited, removed or forged, or an
    anchored entry that is missing (a removed tail)."""
    from yibao.audit import anchors, verify

    settings = get_settings()
    if anchor_file is not None and not anchor_file.exists():
        raise click.ClickException(f"no such anchor file: {anchor_file}")
    path = anchor_file or settings.anchor_path()
    try:
        known = anchors.read(path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    done = in_transaction(lambda s: verify(s, key=settings.audit_key(), anchors=known))
    legacy = f" ({done.legacy} in the unkeyed format of before migration 0011)" if done.legacy else ""
    if done.broken is None:
        click.echo(f"audit chain intact: {done.checked} entries{legacy}, {len(known)} anchors checked")
        return
    click.echo(
        f"audit chain BROKEN at entry {done.broken.entry_id} (after {done.checked} good entries): {done.broken.reason}",
        err=True,
    )
    raise SystemExit(1)


@audit.command("anchor")
@click.option("--file", "anchor_file", type=click.Path(dir_okay=False, path_type=Path), default=None)
def audit_anchor(anchor_file: Path | None) -> None:
    """Record the chain's head (signed) in the anchor file and print it: keep a copy somewhere
    the database's operators cannot write. The scheduler does this every night."""
    from yibao.audit import anchors

    settings = get_settings()
    path = anchor_file or settings.anchor_path()
    anchor = in_transaction(lambda s: anchors.write(s, settings.audit_key(), path))
    click.echo(f"anchored entry {anchor.entry_id} in {path}:")
    click.echo(anchors.to_line(anchor))
