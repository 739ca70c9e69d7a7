"""The member QR code (医保码): a 60-second HMAC-signed token an institution may settle with.

The token carries the person's internal id (never the ID number: a QR code is readable) and
a random ``jti``. It is consumed by a settlement in that settlement's own transaction
(``member_code_uses``), so a code is used exactly when its bill committed. A retry of the
same request (same institution and Idempotency-Key) resolves again, even after expiry, so
the settle path can replay its first answer; any other request reusing the code is refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from yibao import clock
from yibao.db.statements import Db, Statement
from yibao.errors import MemberCodeExpired, MemberCodeInvalid, MemberCodeUsed, PersonNotFound

_ALG = "HS256"
_TYP = "yibao.member_code"


@dataclass(frozen=True)
class Claims:
    person_id: int
    jti: uuid.UUID
    expires_at: datetime


def issue(person_id: int, secret: str, seconds: int) -> tuple[str, datetime]:
    now = clock.now()
    exp = now + timedelta(seconds=seconds)
    token = jwt.encode(
        {
            "sub": str(person_id),
            "jti": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int(exp.timestamp()),
            "typ": _TYP,
        },
        secret,
        algorithm=_ALG,
    )
    return token, exp


def decode(code: str, secret: str) -> Claims:
    """Check the signature only; expiry is judged by the caller (a retry may outlive it)."""
    try:
        raw = jwt.decode(
            code, secret, algorithms=[_ALG], options={"verify_exp": False, "require": ["sub", "jti", "exp"]}
        )
        if raw.get("typ") != _TYP:
            raise MemberCodeInvalid()
        return Claims(
            int(raw["sub"]),
            uuid.UUID(hex=str(raw["jti"])),
            datetime.fromtimestamp(int(raw["exp"]), tz=clock.now().tzinfo),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise MemberCodeInvalid() from exc


#: the use of a code, by its jti
_USE = Statement("SELECT institution_code, idempotency_key FROM member_code_uses WHERE jti = :jti")
#: record the use; nothing comes back if a concurrent request committed its use first
_CLAIM_USE = Statement(
    """
    INSERT INTO member_code_uses (jti, person_id, institution_code, idempotency_key)
    VALUES (:jti, :person_id, :institution_code, :idempotency_key)
    ON CONFLICT DO NOTHING RETURNING jti
    """
)
_ID_NUMBER = Statement("SELECT id_number FROM persons WHERE id = :person_id")


async def _id_number(db: Db, person_id: int) -> str:
    idn: str | None = await db.fetchval(_ID_NUMBER, {"person_id": person_id})
    if idn is None:
        raise PersonNotFound()
    return idn


async def holder(db: Db, code: str, secret: str) -> int:
    """The person a valid, unused code stands for (the patient's consent shown at the counter);
    nothing is consumed."""
    claims = decode(code, secret)
    if await db.fetchrow(_USE, {"jti": claims.jti}) is not None:
        raise MemberCodeUsed()
    if claims.expires_at <= clock.now():
        raise MemberCodeExpired()
    return claims.person_id


async def peek(db: Db, code: str, secret: str) -> str:
    """For a preview: the ID number of a valid, unused code; nothing is consumed."""
    return await _id_number(db, await holder(db, code, secret))


async def redeem(db: Db, code: str, secret: str, institution_code: str, idempotency_key: str) -> str:
    """The ID number the code stands for, recording its use in the caller's transaction.

    Order: a use by this very request (a retry) wins over expiry; a use by any other request
    is ``MEMBER_CODE_USED``; otherwise an expired code is ``MEMBER_CODE_EXPIRED``. Two
    concurrent requests with one code serialise on the jti's primary key.
    """
    claims = decode(code, secret)
    use = await db.fetchrow(_USE, {"jti": claims.jti})
    if use is None:
        if claims.expires_at <= clock.now():
            raise MemberCodeExpired()
        params = {
            "jti": claims.jti,
            "person_id": claims.person_id,
            "institution_code": institution_code,
            "idempotency_key": idempotency_key,
        }
        if await db.fetchval(_CLAIM_USE, params) is None:  # a concurrent request committed its use first
            use = await db.fetchrow(_USE, {"jti": claims.jti})
    if use is not None and (use["institution_code"], use["idempotency_key"]) != (institution_code, idempotency_key):
        raise MemberCodeUsed()
    return await _id_number(db, claims.person_id)
