"""Write and verify the hash chain.

``record`` runs inside the caller's transaction, so an action and its audit entry commit
or vanish together. Appends are serialised with a transaction-scoped advisory lock: two
concurrent writers would otherwise both chain onto the same predecessor and fork the log.
The lock is held only until the caller commits, which is short on every audited path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.audit.orm import AuditRow

GENESIS = "0" * 64
_LOCK = text("SELECT pg_advisory_xact_lock(7305001)")  # one fixed key: "the audit chain"


@dataclass(frozen=True)
class Actor:
    kind: str  # staff / institution / member / system
    name: str


@dataclass(frozen=True)
class BrokenLink:
    entry_id: int
    reason: str


def entry_hash(
    prev_hash: str, at: datetime, actor: Actor, action: str, subject: tuple[str, str], detail: dict[str, Any]
) -> str:
    canonical = orjson.dumps(
        [prev_hash, at.astimezone(UTC).isoformat(), actor.kind, actor.name, action, subject[0], subject[1], detail],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    subject: tuple[str, str],
    detail: dict[str, Any] | None = None,
) -> AuditRow:
    """Append one entry in the caller's transaction (``subject`` = (type, id))."""
    await session.execute(_LOCK)
    prev = await session.scalar(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1))
    prev_hash = prev or GENESIS
    at = clock.now()
    body = detail or {}
    row = AuditRow(
        at=at,
        actor_kind=actor.kind,
        actor=actor.name,
        action=action,
        subject_type=subject[0],
        subject_id=str(subject[1]),
        detail=body,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, at, actor, action, (subject[0], str(subject[1])), body),
    )
    session.add(row)
    await session.flush()
    return row


async def verify(session: AsyncSession, batch: int = 5000) -> tuple[int, BrokenLink | None]:
    """Walk the chain in id order; returns (entries checked, first broken link or None)."""
    expected_prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = (
            await session.scalars(select(AuditRow).where(AuditRow.id > last_id).order_by(AuditRow.id).limit(batch))
        ).all()
        if not rows:
            return checked, None
        for row in rows:
            if row.prev_hash != expected_prev:
                return checked, BrokenLink(
                    row.id, "prev_hash does not match the previous entry (a row was removed or reordered)"
                )
            actual = entry_hash(
                row.prev_hash,
                row.at,
                Actor(row.actor_kind, row.actor),
                row.action,
                (row.subject_type, row.subject_id),
                row.detail,
            )
            if actual != row.hash:
                return checked, BrokenLink(row.id, "hash does not match the entry's content (the row was edited)")
            expected_prev = row.hash
            checked += 1
            last_id = row.id
