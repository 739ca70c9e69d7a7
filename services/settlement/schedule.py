"""APScheduler cron: shortly after midnight China time, request ``daily_settle`` for yesterday;
later in the night the monitoring sweep of yesterday and the chronic-disease re-review (复审) of
today, and on the 1st the monthly alerts and the home region's fiscal subsidy (财政补助) of the month
that has just closed.

This is the system's one scheduler process: it only *requests* job runs (rows + outbox
events); each run is executed by the worker of its service (``yibao.jobs.kinds``).

Run with ``python -m settlement.schedule`` (``yibao schedule`` starts exactly that). Requests go
through ``yibao.jobs.runner.request`` as the ``scheduler`` system actor (audited like a request
by staff) with ``dedup_key=daily_settle:<date>``, so several schedulers, restarts or a manual
request of the same day create one run only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yibao import clock, logs
from yibao.audit import anchors
from yibao.config import get_settings
from yibao.db.engine import make_engine, make_sessionmaker
from yibao.db.uow import UnitOfWork
from yibao.jobs import runner

log = logging.getLogger("settlement.schedule")
RUN_AT = {"hour": 0, "minute": 10}  # 00:10 Asia/Shanghai: the day has closed, late commits are in


async def request_daily_settle(sessionmaker: async_sessionmaker[AsyncSession], today: date | None = None) -> str:
    """Request yesterday's daily settle (idempotent); returns the run id."""
    day = (today or clock.today()) - timedelta(days=1)
    async with UnitOfWork(sessionmaker) as uow:
        row, created = await runner.request(
            uow, runner.SCHEDULER, "daily_settle", {"date": day.isoformat()}, dedup_key=f"daily_settle:{day}"
        )
    log.info("daily_settle %s: run %s (%s)", day, row.id, "requested" if created else "already requested")
    return str(row.id)


SWEEP_AT = {"hour": 1, "minute": 30}  # after the daily settle; models read the closed day
ALERTS_AT = {"day": 1, "hour": 2, "minute": 0}  # the month before, once it has closed


async def _request(
    sessionmaker: async_sessionmaker[AsyncSession], kind: str, params: dict[str, Any], dedup_key: str
) -> str:
    async with UnitOfWork(sessionmaker) as uow:
        row, created = await runner.request(uow, runner.SCHEDULER, kind, params, dedup_key=dedup_key)
    log.info("%s: run %s (%s)", dedup_key, row.id, "requested" if created else "already requested")
    return str(row.id)


async def request_monitor_sweep(sessionmaker: async_sessionmaker[AsyncSession], today: date | None = None) -> str:
    """Run every post-settlement model over yesterday (idempotent per day)."""
    day = (today or clock.today()) - timedelta(days=1)
    params = {"date_from": day.isoformat(), "date_to": day.isoformat()}
    return await _request(sessionmaker, "monitor_sweep", params, f"monitor_sweep:{day}")


async def request_monthly_alerts(sessionmaker: async_sessionmaker[AsyncSession], today: date | None = None) -> str:
    """Return-to-poverty, fund health and budget-growth alerts for the month that just closed."""
    last_month = (today or clock.today()).replace(day=1) - timedelta(days=1)
    params = {"year": last_month.year, "month": last_month.month}
    return await _request(sessionmaker, "monitor_alerts", params, f"monitor_alerts:{last_month:%Y-%m}")


FISCAL_AT = {"day": 1, "hour": 2, "minute": 30}  # the month before: its residents are all enrolled


async def request_fiscal_subsidy(
    sessionmaker: async_sessionmaker[AsyncSession], today: date | None = None, region: str | None = None
) -> str:
    """Book the month that has just closed for the home region (setting ``HOME_REGION``):
    1/12 of the yearly amount per resident enrolled by its end, due from the treasury (see
    ``yibao.ledger.fiscal``). Idempotent per region and month (the booking itself is, too)."""
    last_month = (today or clock.today()).replace(day=1) - timedelta(days=1)
    region = region or get_settings().home_region
    params = {"year": last_month.year, "month": last_month.month, "region": region}
    return await _request(sessionmaker, "fiscal_subsidy", params, f"fiscal_subsidy:{region}:{last_month:%Y-%m}")


REREVIEW_AT = {"hour": 3, "minute": 0}  # before the counters open: lapsed recognitions expire first


async def request_chronic_rereview(sessionmaker: async_sessionmaker[AsyncSession], today: date | None = None) -> str:
    """The chronic-disease re-review of today (idempotent per day): recognitions whose validity
    ended before today expire, those ending within the policy's ``rereview_days_ahead`` are listed
    (``yibao.chronic.service.rereview``; the job kind takes ``{"date"}`` only)."""
    day = today or clock.today()
    return await _request(sessionmaker, "chronic_rereview", {"date": day.isoformat()}, f"chronic_rereview:{day}")


ANCHOR_AT = {"hour": 0, "minute": 5}  # the audit chain's head, recorded outside the database


async def anchor_audit_chain(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Append the audit chain's head, signed, to ``AUDIT_ANCHOR_FILE`` and log it (see
    ``yibao.audit.anchors``: how a removed tail is found); returns the anchored entry id."""
    settings = get_settings()
    async with sessionmaker() as session:
        try:
            anchor = await anchors.write(session, settings.audit_key(), settings.anchor_path())
        except OSError as exc:  # logged above already; the scheduler must keep scheduling
            log.error("audit anchor not written to %s (%s): set AUDIT_ANCHOR_FILE", settings.anchor_path(), exc)
            return -1
    return anchor.entry_id


async def _serve() -> None:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    sessionmaker = make_sessionmaker(make_engine(get_settings(), pool_size=1))
    scheduler = AsyncIOScheduler(timezone="Asia/Shanghai")
    scheduler.add_job(request_daily_settle, "cron", args=[sessionmaker], misfire_grace_time=6 * 3600, **RUN_AT)
    scheduler.add_job(request_monitor_sweep, "cron", args=[sessionmaker], misfire_grace_time=6 * 3600, **SWEEP_AT)
    scheduler.add_job(request_monthly_alerts, "cron", args=[sessionmaker], misfire_grace_time=24 * 3600, **ALERTS_AT)
    scheduler.add_job(request_fiscal_subsidy, "cron", args=[sessionmaker], misfire_grace_time=24 * 3600, **FISCAL_AT)
    scheduler.add_job(
        request_chronic_rereview, "cron", args=[sessionmaker], misfire_grace_time=12 * 3600, **REREVIEW_AT
    )
    scheduler.add_job(anchor_audit_chain, "cron", args=[sessionmaker], misfire_grace_time=24 * 3600, **ANCHOR_AT)
    scheduler.start()
    await request_daily_settle(sessionmaker)  # catch up a missed night at start (dedup makes it safe)
    await anchor_audit_chain(sessionmaker)
    await asyncio.Event().wait()


def main() -> None:
    logs.configure("INFO")
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
