"""Anchors: the chain's head, recorded outside the database, so a removed tail is found.

A keyed chain cannot be forged, but someone with rights on the database can still delete its
newest entries: what remains is a shorter chain that verifies. An anchor is the head as it
was at some moment (entry id, hash, time), signed with the audit key, and kept where the
database's operators cannot rewrite it: the scheduler appends one every night to
``AUDIT_ANCHOR_FILE`` (default ``<state dir>/audit-anchors.jsonl``) and writes it to the log;
``yibao audit anchor`` does the same on demand and prints the line to keep anywhere.
``yibao audit verify`` then checks every anchored entry is still in the chain, unchanged.
Entries written after the last anchor are as exposed as before: anchor more often to shrink
that window.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.audit.orm import AuditRow

GENESIS = "0" * 64
_DOMAIN = b"yibao-audit-anchor/1\n"
log = logging.getLogger("yibao.audit")


@dataclass(frozen=True)
class Anchor:
    entry_id: int  # 0: the chain was empty
    hash: str
    at: datetime
    mac: str


def _mac(key: bytes, entry_id: int, entry_hash: str, at: datetime) -> str:
    message = _DOMAIN + f"{entry_id}\n{entry_hash}\n{at.astimezone(UTC).isoformat()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(key: bytes, entry_id: int, entry_hash: str, at: datetime) -> Anchor:
    return Anchor(entry_id, entry_hash, at, _mac(key, entry_id, entry_hash, at))


def signed_by(key: bytes, anchor: Anchor) -> bool:
    return hmac.compare_digest(_mac(key, anchor.entry_id, anchor.hash, anchor.at), anchor.mac)


def to_line(anchor: Anchor) -> str:
    return orjson.dumps(
        {
            "entry_id": anchor.entry_id,
            "hash": anchor.hash,
            "at": anchor.at.astimezone(UTC).isoformat(),
            "mac": anchor.mac,
        }
    ).decode()


def from_line(line: str) -> Anchor:
    """One anchor line; ``ValueError`` if it is not one."""
    try:
        raw = orjson.loads(line)
        return Anchor(int(raw["entry_id"]), str(raw["hash"]), datetime.fromisoformat(raw["at"]), str(raw["mac"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an audit anchor: {line[:80]!r}") from exc


def read(path: Path) -> list[Anchor]:
    """Every anchor of a file (none if it does not exist); ``ValueError`` names a bad line."""
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                out.append(from_line(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
    return out


async def take(session: AsyncSession, key: bytes) -> Anchor:
    """The chain's head now, signed."""
    head = (await session.execute(select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1))).first()
    entry_id, entry_hash = (int(head.id), str(head.hash)) if head else (0, GENESIS)
    return sign(key, entry_id, entry_hash, clock.now())


def append(path: Path, anchor: Anchor) -> None:
    """Append one line (the file and its folder are created private to this user)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(to_line(anchor) + "\n")


async def write(session: AsyncSession, key: bytes, path: Path) -> Anchor:
    """Take an anchor, log it (a copy wherever logs are shipped) and append it to ``path``
    (an ``OSError`` if that fails, after the log line is out)."""
    anchor = await take(session, key)
    log.info("audit anchor %s", to_line(anchor))
    append(path, anchor)
    return anchor
