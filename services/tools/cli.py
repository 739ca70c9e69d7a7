"""``yibao``: the operator's command line (the distribution's console script).

The core's commands (``yibao.cli``: db, load-reference, keys, tokens, staff, audit) and the
tools' (``tools.supervise``: up, api, worker, schedule, relay; ``simulate``; ``monitor
evaluate``) in one group. Thin: every command calls the core or a tool.
"""

from __future__ import annotations

import asyncio

import click

from tools import supervise
from yibao.cli import core
from yibao.config import get_settings


@click.group(commands=dict(core.commands))
@click.version_option(package_name="yibao", prog_name="yibao")
def main() -> None:
    """医保基金管理后台 — medical-insurance fund administration backend."""


for command in (supervise.api, supervise.worker, supervise.schedule, supervise.relay, supervise.up, supervise.check):
    main.add_command(command)


# ------------------------------------------------------------------ traffic simulation
@main.command()
@click.option("--base-url", default=None, help="API base URL (default: from settings)")
@click.option("--admin-token", envvar="YIBAO_ADMIN_TOKEN", required=True)
@click.option("--persons", default=200, show_default=True)
@click.option("--bills", default=1000, show_default=True)
@click.option("--concurrency", default=8, show_default=True)
@click.option("--seed", default=2026, show_default=True)
def simulate(base_url: str | None, admin_token: str, persons: int, bills: int, concurrency: int, seed: int) -> None:
    """Drive the API like a day of HIS and POS traffic, then print what happened."""
    from tools.simulate import run
    from yibao.reference.loader import catalogue_items

    s = get_settings()
    url = base_url or f"http://{s.api_host}:{s.api_port}"
    catalogue = catalogue_items(s.reference_dir / "catalog.csv")
    report = asyncio.run(run(url, admin_token, persons, bills, concurrency, seed, catalogue, show_progress=True))
    for line in report:
        click.echo(line)


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
    from tools.monitoring.evaluate import Evaluation, evaluate
    from yibao.db.engine import make_engine, make_sessionmaker

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

    for line in asyncio.run(go()).lines():
        click.echo(line)


if __name__ == "__main__":
    main()
