"""Files exchanged with institutions (9101 upload, 9102 download): the only writer of
``nhsa_files``.

A file belongs to the institution that uploaded it or for which it was made (a 3202 result);
another institution cannot learn that it exists. It can be downloaded until ``dld_endtime``
(``KEEP`` after it was stored). The call that made a file (its ``msgid``) finds the same file
when it is retried, so a retry after a lost answer stores nothing twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yibao import audit, clock
from yibao.clock import CHINA
from yibao.errors import IdempotencyConflict, InvalidState, NotFound
from yibao.nhsa.orm import NhsaFileRow
from yibao.uuids import uuid7

#: how long a stored file can be downloaded (the platform keeps its files for days, not months)
KEEP = timedelta(days=7)
UPLOAD, RESULT = "upload", "result"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class StoredFile:
    file_qury_no: str
    institution_code: str
    kind: str
    filename: str
    size: int
    sha256: str
    dld_endtime: datetime

    @property
    def fileinfo(self) -> dict[str, str]:
        """``{file_qury_no, filename, dld_endtime}`` as 9101 and 3202 answer it (China time)."""
        return {
            "file_qury_no": self.file_qury_no,
            "filename": self.filename,
            "dld_endtime": self.dld_endtime.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        }


def _query_no() -> str:
    """A new ``file_qury_no``: a UUIDv7 in base 36 (at most 25 characters; the field is 30)."""
    n, out = uuid7().int, ""
    while n:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
    return out


def _stored(row: Any) -> StoredFile:
    return StoredFile(
        row.file_qury_no, row.institution_code, row.kind, row.filename, row.size, row.sha256, row.dld_endtime
    )


#: every column but the bytes
_META = (
    NhsaFileRow.file_qury_no,
    NhsaFileRow.institution_code,
    NhsaFileRow.kind,
    NhsaFileRow.filename,
    NhsaFileRow.size,
    NhsaFileRow.sha256,
    NhsaFileRow.dld_endtime,
)


async def store(
    sessionmaker: async_sessionmaker[AsyncSession],
    institution_code: str,
    *,
    msgid: str,
    kind: str,
    filename: str,
    content: bytes,
) -> tuple[StoredFile, bool]:
    """Store a file of the institution, audited → (the file, whether it is new). The same
    ``msgid`` again returns the file it stored first: an upload must be the same bytes
    (``IDEMPOTENCY_CONFLICT`` otherwise); a result made again is the first one (it is what
    the first answer named)."""
    digest = hashlib.sha256(content).hexdigest()
    async with sessionmaker() as session, session.begin():
        created = await session.scalar(
            insert(NhsaFileRow)
            .values(
                file_qury_no=_query_no(),
                institution_code=institution_code,
                msgid=msgid,
                kind=kind,
                filename=filename,
                size=len(content),
                sha256=digest,
                content=content,
                dld_endtime=clock.now() + KEEP,
            )
            .on_conflict_do_nothing(constraint="uq_nhsa_files_msgid")
            .returning(NhsaFileRow.file_qury_no)
        )
        row = (
            await session.execute(
                select(*_META).where(NhsaFileRow.institution_code == institution_code, NhsaFileRow.msgid == msgid)
            )
        ).one()
        found = _stored(row)
        if created is None and (found.kind != kind or (kind == UPLOAD and found.sha256 != digest)):
            raise IdempotencyConflict(f"报文ID已用于不同文件 msgid {msgid} already stored another file")
        if created is not None:
            await audit.record(
                session,
                audit.Actor("institution", institution_code),
                f"nhsa.file_{kind}",
                ("nhsa_file", found.file_qury_no),
                {"msgid": msgid, "filename": filename, "size": len(content), "sha256": digest},
            )
    return found, created is not None


async def get(
    sessionmaker: async_sessionmaker[AsyncSession],
    institution_code: str,
    file_qury_no: str,
    *,
    filename: str = "",
    kind: str | None = None,
    check_expiry: bool = True,
) -> tuple[StoredFile, bytes]:
    """The institution's file and its bytes. Another institution's file is as unknown as a
    missing one (``NOT_FOUND``); past ``dld_endtime`` it is ``INVALID_STATE``."""
    async with sessionmaker() as session:
        row = await session.scalar(
            select(NhsaFileRow).where(
                NhsaFileRow.file_qury_no == file_qury_no, NhsaFileRow.institution_code == institution_code
            )
        )
    if row is None or (filename and filename != row.filename):
        named = f" named {filename!r}" if filename else ""
        raise NotFound(f"文件不存在 no file {file_qury_no!r}{named} of this institution")
    if kind is not None and row.kind != kind:
        raise InvalidState(f"文件类型不符 file {file_qury_no} is a {row.kind} file, not an {kind}")
    found = _stored(row)
    if check_expiry and clock.now() > row.dld_endtime:
        raise InvalidState(
            f"文件已过期 file {file_qury_no} could be used until {found.fileinfo['dld_endtime']}; upload it again"
        )
    if hashlib.sha256(row.content).hexdigest() != row.sha256:  # never expected: the stored bytes changed
        raise InvalidState(f"文件校验失败 file {file_qury_no} does not match its sha256; upload it again")
    return found, row.content
