"""Write and verify the keyed hash chain.

Each entry carries ``hash`` = HMAC-SHA256(audit key, canonical(prev_hash, at, actor, action,
subject, detail)). The key is the server's audit secret (``Settings.audit_key``), which the
database never sees: someone able to write ``audit_log`` (or to disable its append-only
trigger) can edit a row and re-link every later one, but cannot compute hashes that verify.

The canonical encoding round-trips exactly through the JSONB column: keys sorted, strings as
JSON strings, and every number spelt from its value (``1e16``, the integer 10000000000000000
and ``1.0e16`` are all ``1e16``), because JSONB keeps a number's value, not its spelling.

``record`` runs inside the caller's transaction, so an action and its audit entry commit or
vanish together. Appends are serialised with a transaction-scoped advisory lock: two
concurrent writers would otherwise both chain onto the same predecessor and fork the log.
The lock is held only until the caller commits, which is short on every audited path.

Entries written before the chain was keyed (migration 0011) have ``hash_version`` 1: an
unkeyed SHA-256 over an orjson encoding. They verify by that rule, only as the chain's
prefix, and are sealed by the first keyed entry (its HMAC covers their head's hash).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.audit.anchors import Anchor, signed_by
from yibao.audit.orm import AuditRow
from yibao.config import get_settings

GENESIS = "0" * 64
LEGACY, KEYED = 1, 2  # hash_version: unkeyed SHA-256 (before 0011), HMAC over the canonical encoding
_LOCK = text("SELECT pg_advisory_xact_lock(7305001)")  # one fixed key: "the audit chain"
_DOMAIN = b"yibao-audit-chain/2\n"


@dataclass(frozen=True)
class Actor:
    kind: str  # staff / institution / member / system
    name: str


@dataclass(frozen=True)
class BrokenLink:
    entry_id: int
    reason: str


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: entries checked (``legacy`` of them in the unkeyed format), the
    head it reached, and the first broken link (None: intact)."""

    checked: int
    broken: BrokenLink | None
    legacy: int = 0
    head_id: int = 0
    head_hash: str = GENESIS


# ------------------------------------------------------------------ canonical encoding
def _int_text(value: int) -> str:
    """:func:`_number` of an int without a Decimal (an import's audit entry holds 100,000s):
    most ids end in no zero, so their form is the digits and ``e0``."""
    digits = str(value)
    if digits[-1] != "0":
        return digits + "e0"
    if value == 0:
        return "0"
    significant = digits.rstrip("0")
    return f"{significant}e{len(digits) - len(significant)}"


def _int(value: int) -> bytes:
    return _int_text(value).encode()


def _leaves(values: list[Any] | tuple[Any, ...]) -> bytes | None:
    """A list of only plain ints or only plain strings (an import's people, its tags, a column
    of dates) in one pass, or None for any other list: the same bytes as value by value."""
    kinds = set(map(type, values))
    if kinds == {int}:
        return ("[" + ",".join(map(_int_text, values)) + "]").encode()
    if kinds == {str}:
        return orjson.dumps(values)  # compact: each string as canonical() writes it
    return None


def _number(value: int | float | Decimal) -> bytes:
    """A number by its value: sign, significant digits without trailing zeros, exponent."""
    if type(value) is int:
        return _int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"audit detail holds {value}, which JSON cannot store")
        value = Decimal(repr(value))  # what json.dumps writes, and so what the column keeps
    sign, digits, exponent = Decimal(value).as_tuple()
    if not isinstance(exponent, int):  # NaN / Infinity as Decimal
        raise ValueError(f"audit detail holds {value}, which JSON cannot store")
    ds = list(digits)
    while len(ds) > 1 and ds[-1] == 0:
        ds.pop()
        exponent += 1
    if ds == [0]:
        return b"0"
    return f"{'-' if sign else ''}{''.join(map(str, ds))}e{exponent}".encode()


def canonical(value: Any) -> bytes:
    """Deterministic bytes of a JSON value, equal before and after a JSONB round trip."""
    kind = type(value)  # the usual leaves first, exactly (bool is no int here)
    if kind is str:
        return orjson.dumps(value)
    if kind is int:
        return _int(value)
    if value is None:
        return b"null"
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if isinstance(value, str):
        return orjson.dumps(value)
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, list | tuple):
        return _leaves(value) or b"[" + b",".join(canonical(v) for v in value) + b"]"
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return b"{" + b",".join(orjson.dumps(k) + b":" + canonical(v) for k, v in items) + b"}"
    raise TypeError(f"audit detail holds a {type(value).__name__}, which is not a JSON value")


def keyed_hash(
    key: bytes, prev_hash: str, at: datetime, actor: Actor, action: str, subject: tuple[str, str], detail: Any
) -> str:
    fields = [prev_hash, at.astimezone(UTC).isoformat(), actor.kind, actor.name, action, subject[0], subject[1]]
    message = _DOMAIN + canonical([*fields, detail])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def legacy_hash(prev_hash: str, at: datetime, actor: Actor, action: str, subject: tuple[str, str], detail: Any) -> str:
    """The unkeyed hash of entries written before migration 0011 (anyone can compute it)."""
    encoded = orjson.dumps(
        [prev_hash, at.astimezone(UTC).isoformat(), actor.kind, actor.name, action, subject[0], subject[1], detail],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(encoded).hexdigest()


def _floats_restored(value: Any) -> Any:
    """A legacy entry hashed a float such as 1e16, which JSONB gave back as an integer: the same
    detail with every integer that is exactly such a float turned back into it."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and abs(value) >= 10**16 and int(float(value)) == value:
        return float(value)
    if isinstance(value, list):
        return [_floats_restored(v) for v in value]
    if isinstance(value, dict):
        return {k: _floats_restored(v) for k, v in value.items()}
    return value


def audit_key() -> bytes:
    return get_settings().audit_key()


# ------------------------------------------------------------------ write
async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    subject: tuple[str, str],
    detail: dict[str, Any] | None = None,
    *,
    key: bytes | None = None,
) -> AuditRow:
    """Append one entry in the caller's transaction (``subject`` = (type, id))."""
    # the detail exactly as the JSON column will hold it (tuples become lists, keys strings)
    body = json.loads(json.dumps(detail or {}))
    await session.execute(_LOCK)
    prev = await session.scalar(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1))
    prev_hash = prev or GENESIS
    at = clock.now()
    subject_id = str(subject[1])
    row = AuditRow(
        at=at,
        actor_kind=actor.kind,
        actor=actor.name,
        action=action,
        subject_type=subject[0],
        subject_id=subject_id,
        detail=body,
        prev_hash=prev_hash,
        hash=keyed_hash(key or audit_key(), prev_hash, at, actor, action, (subject[0], subject_id), body),
        hash_version=KEYED,
    )
    session.add(row)
    await session.flush()
    return row


# ------------------------------------------------------------------ verify
def _content_reason(row: AuditRow, key: bytes) -> str | None:
    """Why this row's hash does not cover its content, or None if it does. Never raises."""
    actor, subject = Actor(row.actor_kind, row.actor), (row.subject_type, row.subject_id)
    try:
        if row.hash_version == KEYED:
            expected = keyed_hash(key, row.prev_hash, row.at, actor, row.action, subject, row.detail)
            if hmac.compare_digest(expected, row.hash):
                return None
            return "hash does not match the entry's content (edited, or not written with this server's audit key)"
        if row.hash_version == LEGACY:
            for detail in (row.detail, _floats_restored(row.detail)):
                try:
                    if legacy_hash(row.prev_hash, row.at, actor, row.action, subject, detail) == row.hash:
                        return None
                except (TypeError, ValueError):  # e.g. an integer beyond 64 bits
                    continue
            return "hash does not match the entry's content (the row was edited)"
        return f"unknown hash format {row.hash_version} (the row was edited)"
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        return f"the entry's content cannot be encoded ({type(exc).__name__}: the row was edited)"


async def verify(
    session: AsyncSession, *, key: bytes | None = None, anchors: Iterable[Anchor] = (), batch: int = 5000
) -> Verification:
    """Walk the chain in id order and stop at the first bad entry.

    ``anchors`` are heads recorded earlier outside the
    database: each must still be in the chain with the same hash, which is how a removed tail
    (which leaves a shorter, valid chain) is found."""
    key = key or audit_key()
    pending: dict[int, Anchor] = {}
    for anchor in anchors:
        if not signed_by(key, anchor):
            why = "this anchor is not signed with this server's audit key (forged, or another AUDIT_SECRET)"
            return Verification(0, BrokenLink(anchor.entry_id, why))
        if anchor.entry_id:  # an anchor of the empty chain says nothing
            pending.setdefault(anchor.entry_id, anchor)
    expected_prev, checked, legacy, last_id, keyed_seen = GENESIS, 0, 0, 0, False

    def result(broken: BrokenLink | None) -> Verification:
        return Verification(checked, broken, legacy, last_id, expected_prev)

    while True:
        rows = (
            await session.scalars(select(AuditRow).where(AuditRow.id > last_id).order_by(AuditRow.id).limit(batch))
        ).all()
        if not rows:
            break
        for row in rows:
            if row.prev_hash != expected_prev:
                return result(
                    BrokenLink(row.id, "prev_hash does not match the previous entry (a row was removed or reordered)")
                )
            if row.hash_version == LEGACY and keyed_seen:
                return result(
                    BrokenLink(row.id, "an entry in the old unkeyed format after keyed entries (the row was forged)")
                )
            reason = _content_reason(row, key)
            if reason is not None:
                return result(BrokenLink(row.id, reason))
            anchored = pending.pop(row.id, None)
            if anchored is not None and anchored.hash != row.hash:
                return result(BrokenLink(row.id, f"differs from its anchor of {anchored.at.isoformat()} (rewritten)"))
            keyed_seen = keyed_seen or row.hash_version == KEYED
            legacy += row.hash_version == LEGACY
            expected_prev = row.hash
            checked += 1
            last_id = row.id
    if pending:
        lost = pending[min(pending)]
        return result(
            BrokenLink(
                lost.entry_id,
                f"entry {lost.entry_id}, anchored at {lost.at.isoformat()}, is missing (the log was truncated)",
            )
        )
    return result(None)
