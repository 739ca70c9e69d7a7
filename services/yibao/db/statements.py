"""Statements the hot path runs straight on asyncpg, written once with ``:named`` parameters.

Why not through the ORM session like the rest of the code: the settle path is the one place
where the session's own cost shows. Measured on this machine (``bench/``), a statement through
``AsyncSession.execute`` costs ~0.2 ms of Python (execution context, result wrapping, the
greenlet bridge) against ~0.05 ms on the asyncpg connection itself, and opening, beginning and
closing a session another ~0.3 ms; a bill runs two or three statements.

A :class:`Statement` is compiled once, at import, by SQLAlchemy's own asyncpg dialect into the
positional ``$n`` form asyncpg takes, so the SQL stays readable with named parameters and the
same statement still runs through a session where a session is what the caller holds (preview,
tests): :class:`SessionDb` and :class:`ConnectionDb` give both the same two methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg
from sqlalchemy import TextClause, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as _asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession

_DIALECT = _asyncpg_dialect()  # type: ignore[no-untyped-call]


class Statement:
    """One SQL statement with ``:named`` parameters, runnable on asyncpg or through SQLAlchemy."""

    __slots__ = ("_names", "clause", "sql")

    def __init__(self, sql: str) -> None:
        self.clause: TextClause = text(sql)
        compiled = self.clause.compile(dialect=_DIALECT)
        self.sql: str = compiled.string
        self._names: tuple[str, ...] = tuple(compiled.positiontup or ())

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for asyncpg; a missing parameter is a ``KeyError`` here, not
        a confusing server error."""
        return [params[name] for name in self._names]


class Db(Protocol):
    """What the settle path needs from the database: a row or a value of a statement."""

    async def fetchrow(self, stmt: Statement, params: Mapping[str, Any]) -> Mapping[str, Any] | None: ...

    async def fetchval(self, stmt: Statement, params: Mapping[str, Any]) -> Any: ...


class ConnectionDb:
    """An asyncpg connection, inside a transaction its caller owns."""

    __slots__ = ("connection",)

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def fetchrow(self, stmt: Statement, params: Mapping[str, Any]) -> Mapping[str, Any] | None:
        row: Mapping[str, Any] | None = await self.connection.fetchrow(stmt.sql, *stmt.args(params))
        return row

    async def fetchval(self, stmt: Statement, params: Mapping[str, Any]) -> Any:
        return await self.connection.fetchval(stmt.sql, *stmt.args(params))


class SessionDb:
    """An ORM session (its transaction is the session's)."""

    __slots__ = ("session",)

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def fetchrow(self, stmt: Statement, params: Mapping[str, Any]) -> Mapping[str, Any] | None:
        row = (await self.session.execute(stmt.clause, dict(params))).mappings().first()
        return None if row is None else dict(row)

    async def fetchval(self, stmt: Statement, params: Mapping[str, Any]) -> Any:
        return await self.session.scalar(stmt.clause, dict(params))


#: how long a request waits for a free pooled connection before it is answered 503
ACQUIRE_TIMEOUT_SECONDS = 30.0


@asynccontextmanager
async def transaction(pool: asyncpg.Pool, *, readonly: bool = False) -> AsyncIterator[ConnectionDb]:
    """A pooled connection in one transaction: committed when the block ends, rolled back if it
    raises (so a refusal raised after some statements ran leaves nothing behind). asyncpg's own
    transaction and pool handling, which also discards a connection a cancelled request left
    mid-operation; a connection lost mid-request surfaces as asyncpg's "connection is closed"
    errors, which ``api.errors`` answers 503."""
    async with pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS) as connection, connection.transaction(readonly=readonly):
        yield ConnectionDb(connection)
