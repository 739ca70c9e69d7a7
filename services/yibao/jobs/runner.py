"""Request a run (API, scheduler) and execute it (worker), with state and progress persisted.

Requesting writes the run, its outbox event and its audit entry in one transaction, so an
acknowledged request is never lost. Execution is at-least-once (a worker killed mid-run gets
its message redelivered), so a handler must be safe to run again: each handler commits its
effect in one transaction or makes every step idempotent. A finished run is never executed
again. Handlers call the same use cases as the API, acting as the run's requester
(``JobContext.actor``), so their effects are audited alike.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Text, and_, cast, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yibao import audit, clock
from yibao.db.uow import UnitOfWork
from yibao.errors import DomainError, InvalidRequest, NotFound, UnknownRegion
from yibao.jobs.kinds import KINDS, check_params, topic_for
from yibao.jobs.orm import JobRunRow
from yibao.policy.repository import is_pooling_region

log = logging.getLogger("yibao.jobs")
FINISHED = ("succeeded", "failed")
#: the scheduler requests runs as a system actor; a run's ``requested_by`` keeps only the name
SCHEDULER = audit.Actor("system", "scheduler")
SYSTEM_ACTORS = {SCHEDULER.name: SCHEDULER}


def actor_of(requested_by: str) -> audit.Actor:
    """Who a run acts as: the system actor it was requested by, else the staff member."""
    return SYSTEM_ACTORS.get(requested_by) or audit.Actor("staff", requested_by)


@dataclass
class JobContext:
    """What a handler gets: its run id, a sessionmaker, who asked, and a way to report progress."""

    run_id: uuid.UUID
    sessionmaker: async_sessionmaker[AsyncSession]
    params: dict[str, Any]
    requested_by: str = SCHEDULER.name

    @property
    def actor(self) -> audit.Actor:
        """The run's use cases act (and are audited) as whoever requested it."""
        return actor_of(self.requested_by)

    async def progress(self, processed: int, total: int | None = None) -> None:
        """Committed at once in its own transaction, so ops can follow a long run. Never moves
        backwards: reports from parts running side by side may commit out of order."""
        values: dict[str, Any] = {"processed": func.greatest(JobRunRow.processed, processed)}
        if total is not None:
            values["total"] = total
        async with self.sessionmaker() as s, s.begin():
            await s.execute(update(JobRunRow).where(JobRunRow.id == self.run_id).values(**values))


Handler = Callable[[JobContext], Awaitable[dict[str, Any]]]


async def request(
    uow: UnitOfWork, actor: audit.Actor, kind: str, params: dict[str, Any], dedup_key: str | None = None
) -> tuple[JobRunRow, bool]:
    """Create a queued run (or return the one with the same ``dedup_key``); ``True`` if created.
    A new run is audited (``job.requested``); the transaction is committed either way.

    Parameters the kind cannot take are refused before anything is written (``check_params``),
    and the answer is rendered before the commit: a run is stored only if it can be answered."""
    if kind not in KINDS:
        raise InvalidRequest(f"unknown job kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    check_params(kind, params)
    if KINDS[kind].service == INLINE:
        raise InvalidRequest(f"作业 {kind} 由其导入接口运行 job kind {kind!r} runs from its own import endpoint")
    s = uow.session
    if isinstance(params.get("region"), str) and not await is_pooling_region(s, params["region"]):
        raise UnknownRegion(f"统筹区 {params['region']} 不存在 {params['region']} is no pooling region")
    run_id = uuid.uuid4()
    created = await s.scalar(
        insert(JobRunRow)
        .values(
            id=run_id,
            kind=kind,
            params=params,
            dedup_key=dedup_key,
            state="queued",
            attempts=0,
            processed=0,
            requested_by=actor.name,
        )
        .on_conflict_do_nothing(index_elements=["kind", "dedup_key"], index_where=JobRunRow.dedup_key.isnot(None))
        .returning(JobRunRow.id)
    )
    if created is None:
        existing = await s.scalar(select(JobRunRow).where(JobRunRow.kind == kind, JobRunRow.dedup_key == dedup_key))
        assert existing is not None
        await uow.commit()
        return existing, False
    uow.publish(topic_for(KINDS[kind].service), {"run_id": str(run_id), "kind": kind})
    row = await s.get(JobRunRow, run_id)
    assert row is not None
    await audit.record(s, actor, "job.requested", ("job_run", str(row.id)), {"kind": kind, "params": params})
    orjson.dumps(render(row))  # the answer renders before the commit, or nothing is written
    await uow.commit()
    return row, True


#: the service of kinds an endpoint runs in its own transaction (imports whose request is a file)
INLINE = "inline"


async def start_inline(
    session: AsyncSession, actor: audit.Actor, kind: str, params: dict[str, Any], dedup_key: str, total: int
) -> tuple[JobRunRow, bool]:
    """A run of an inline kind, in the caller's transaction (``running``); or the finished run
    with the same ``dedup_key`` and ``False``. The caller finishes it (:func:`finish_inline`) and
    commits both with its effect, so a run is stored only together with what it did."""
    assert KINDS[kind].service == INLINE, kind
    check_params(kind, params)
    run_id = uuid.uuid4()
    now = clock.now()
    created = await session.scalar(
        insert(JobRunRow)
        .values(
            id=run_id,
            kind=kind,
            params=params,
            dedup_key=dedup_key,
            state="running",
            attempts=1,
            processed=0,
            total=total,
            requested_by=actor.name,
            started_at=now,
        )
        .on_conflict_do_nothing(index_elements=["kind", "dedup_key"], index_where=JobRunRow.dedup_key.isnot(None))
        .returning(JobRunRow.id)
    )
    if created is None:
        existing = await session.scalar(
            select(JobRunRow).where(JobRunRow.kind == kind, JobRunRow.dedup_key == dedup_key)
        )
        assert existing is not None
        return existing, False
    row = await session.get(JobRunRow, run_id)
    assert row is not None
    await audit.record(session, actor, "job.requested", ("job_run", str(row.id)), {"kind": kind, "params": params})
    return row, True


#: what orjson writes otherwise than the stdlib json of the JSONB column is handed to ``default``
#: (dates, dataclasses, subclasses such as enums); keys that are no strings, integers beyond 64
#: bits and lone surrogates it refuses by itself
_ORJSON_AS_STDLIB = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is left to the stdlib encoder")


def _jsonb(result: dict[str, Any]) -> ColumnElement[Any]:
    """An inline run's result as a JSONB value encoded by orjson: an import's result classifies
    100,000 rows, which the column's stdlib json took ~0.3 s to write (orjson ~0.03 s). The stored
    value is the same (checked on random values, escapes and surrogates included): what orjson
    would write differently goes to the stdlib, as before. Left to the callers: a result holds
    strings, integers, booleans, nulls, lists and objects (counts, ids, classes), no float (a NaN,
    which the stdlib wrote and the column refused, orjson writes as null) and no UUID or plain
    Enum (which the stdlib refused and orjson writes)."""
    try:
        encoded = orjson.dumps(result, default=_refuse, option=_ORJSON_AS_STDLIB).decode()
    except TypeError:
        encoded = json.dumps(result)
    return cast(literal(encoded, Text), JSONB)


async def finish_inline(session: AsyncSession, row: JobRunRow, processed: int, result: dict[str, Any]) -> None:
    """Mark an inline run succeeded with its result, in the caller's transaction (the row is read
    back: its result as the column keeps it, keys in JSONB's order, as every later read)."""
    await session.execute(
        update(JobRunRow)
        .where(JobRunRow.id == row.id)
        .values(state="succeeded", processed=processed, result=_jsonb(result), finished_at=clock.now())
    )
    await session.refresh(row)


async def get(session: AsyncSession, run_id: str) -> JobRunRow:
    try:
        rid = uuid.UUID(run_id)
    except ValueError:
        raise NotFound(f"作业 {run_id} 不存在 job run not found") from None
    row = await session.get(JobRunRow, rid)
    if row is None:
        raise NotFound(f"作业 {run_id} 不存在 job run not found")
    return row


def _cursor(row: JobRunRow) -> str:
    return base64.urlsafe_b64encode(f"{row.requested_at.isoformat()}|{row.id}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, rid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment, key = datetime.fromisoformat(at), uuid.UUID(rid)
    except ValueError as exc:
        raise InvalidRequest("cursor is not one this API returned") from exc
    if moment.tzinfo is None or not 1900 < moment.year < 2200:  # ours are aware request times
        raise InvalidRequest("cursor is not one this API returned")
    return moment, key


async def list_page(
    session: AsyncSession,
    *,
    kind: str | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Runs, newest first; the cursor is opaque (requested_at and id of the last run)."""
    stmt = select(JobRunRow)
    if kind:
        stmt = stmt.where(JobRunRow.kind == kind)
    if state:
        stmt = stmt.where(JobRunRow.state == state)
    if cursor:
        at, rid = _decode(cursor)
        stmt = stmt.where(or_(JobRunRow.requested_at < at, and_(JobRunRow.requested_at == at, JobRunRow.id < rid)))
    rows = (
        await session.scalars(stmt.order_by(JobRunRow.requested_at.desc(), JobRunRow.id.desc()).limit(limit + 1))
    ).all()
    page = rows[:limit]
    return {"items": [render(r) for r in page], "next_cursor": _cursor(page[-1]) if len(rows) > limit else None}


async def _start(sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID) -> JobRunRow | None:
    async with sessionmaker() as s, s.begin():
        row = await s.scalar(select(JobRunRow).where(JobRunRow.id == run_id).with_for_update())
        if row is None:
            raise NotFound(f"job run {run_id} not found")
        if row.state in FINISHED:
            return None
        row.state = "running"
        row.attempts += 1
        row.started_at = row.started_at or clock.now()
        row.error = None
        await s.flush()
        s.expunge(row)
        return row


async def _finish(sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, **values: Any) -> None:
    async with sessionmaker() as s, s.begin():
        await s.execute(update(JobRunRow).where(JobRunRow.id == run_id).values(finished_at=clock.now(), **values))


async def execute(
    sessionmaker: async_sessionmaker[AsyncSession],
    run_id: str,
    handlers: Mapping[str, Handler],
    *,
    final_attempt: bool = False,
) -> None:
    """Run one job to its end. A domain refusal fails the run for good; anything else is
    recorded and re-raised so Dramatiq retries (``final_attempt`` marks it failed instead)."""
    rid = uuid.UUID(run_id)
    row = await _start(sessionmaker, rid)
    if row is None:
        log.info("job %s already finished; redelivery ignored", run_id)
        return
    handler = handlers.get(row.kind)
    if handler is None:
        await _finish(sessionmaker, rid, state="failed", error=f"no handler for job kind {row.kind!r} here")
        return
    began = time.perf_counter()
    try:
        result = await handler(JobContext(rid, sessionmaker, dict(row.params), row.requested_by))
    except DomainError as exc:
        await _finish(sessionmaker, rid, state="failed", error=f"{exc.code}: {exc}")
        return
    except Exception as exc:
        log.exception("job %s (%s) attempt %d failed", run_id, row.kind, row.attempts)
        if final_attempt:
            await _finish(sessionmaker, rid, state="failed", error=repr(exc))
            return
        async with sessionmaker() as s, s.begin():
            await s.execute(update(JobRunRow).where(JobRunRow.id == rid).values(error=repr(exc)))
        raise
    result.setdefault("seconds", round(time.perf_counter() - began, 3))
    await _finish(sessionmaker, rid, state="succeeded", result=result)


#: what orjson (the API's JSON) can write: 64-bit signed or unsigned integers
_JSON_INT = range(-(2**63), 2**64)


def _answerable(value: Any) -> Any:
    """A stored JSON value as the answer can carry it: an integer beyond 64 bits (a run stored
    before params were checked) as its decimal string, instead of failing every listing."""
    if isinstance(value, dict):
        return {k: _answerable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_answerable(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value not in _JSON_INT:
        return str(value)
    return value


def render(row: JobRunRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "kind": row.kind,
        "params": _answerable(row.params),
        "state": row.state,
        "attempts": row.attempts,
        "processed": row.processed,
        "total": row.total,
        "requested_by": row.requested_by,
        "requested_at": row.requested_at.isoformat() if row.requested_at else None,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "result": _answerable(row.result),
        "error": row.error,
    }
