"""Staff accounts: create, log in (→ short-lived signed access token), change password.

These are steps in the caller's transaction, not audited; ``yibao.auth.service`` holds the use
cases (audit entry + commit) that the API and the CLI call.

Access tokens are JWTs (HS256, the server's master secret) valid for minutes that carry the
account's ``token_version``. Every request checks the account (one primary-key read): a token
of a deactivated, demoted or logged-out account, or one issued before a password change, is
refused from the next request on.

Failed logins are counted per username and source address (``LoginThrottleRow``), whether the
username exists or not: past ``staff_max_failed_logins`` each attempt from that address waits
exponentially longer. The answers never tell an unknown username from a wrong password or a
slowed-down pair, and a stranger's guesses cannot lock the real user out from elsewhere.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.auth import passwords
from yibao.auth.orm import LoginThrottleRow, StaffUserRow
from yibao.auth.tokens import ROLES, StaffPrincipal
from yibao.config import Settings
from yibao.errors import Duplicate, InvalidRequest, NotFound, Unauthenticated

ISSUER = "yibao"


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < passwords.MIN_LENGTH:
        raise InvalidRequest(f"密码太短 the password needs at least {passwords.MIN_LENGTH} characters")


async def create_user(
    session: AsyncSession, username: str, display_name: str, role: str, password: str
) -> StaffUserRow:
    _check_role(role)
    _check_password(password)
    if await session.scalar(select(StaffUserRow.id).where(StaffUserRow.username == username)) is not None:
        raise Duplicate(f"用户名已存在 username {username!r} is taken")
    row = StaffUserRow(
        username=username,
        display_name=display_name,
        role=role,
        password_hash=passwords.hash_password(password),
        active=True,
        token_version=0,
    )
    session.add(row)
    await session.flush()
    return row


async def list_users(session: AsyncSession) -> list[StaffUserRow]:
    return list((await session.scalars(select(StaffUserRow).order_by(StaffUserRow.username))).all())


def render(row: StaffUserRow) -> dict[str, Any]:
    return {
        "username": row.username,
        "display_name": row.display_name,
        "role": row.role,
        "active": row.active,
        "created_at": row.created_at.isoformat(),
    }


async def get_user(session: AsyncSession, username: str, *, lock: bool = False) -> StaffUserRow:
    stmt = select(StaffUserRow).where(StaffUserRow.username == username)
    row = await session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise NotFound(f"工作人员 {username} 不存在 staff user not found")
    return row


BAD_LOGIN = "用户名或密码错误 wrong username or password"
THROTTLE_IDLE = timedelta(days=1)  # a pair idle this long starts afresh (and its row is pruned)


@dataclass(frozen=True)
class Attempt:
    """What a login attempt came to; the caller commits it (the failure count must stick)."""

    user: StaffUserRow | None = None  # the account, when the password was right
    known: bool = False  # the username exists (for the audit log, never for the answer)
    retry_after: int | None = None  # this username from this address must wait: seconds


def backoff_seconds(settings: Settings, failures: int) -> int:
    """The wait after ``failures`` consecutive failures: none up to ``staff_max_failed_logins``
    − 1, then ``staff_login_backoff_seconds`` doubling per failure, at most ``staff_lockout_minutes``."""
    over = failures - settings.staff_max_failed_logins
    if over < 0:
        return 0
    cap = settings.staff_lockout_minutes * 60
    return int(min(cap, settings.staff_login_backoff_seconds * 2 ** min(over, 30)))


async def attempt_login(
    session: AsyncSession, settings: Settings, username: str, password: str, source: str
) -> Attempt:
    now = clock.now()
    source = source[:64]
    throttle = await session.get(LoginThrottleRow, (username, source), with_for_update=True)
    if throttle is not None and throttle.blocked_until is not None and throttle.blocked_until > now:
        return Attempt(retry_after=max(1, math.ceil((throttle.blocked_until - now).total_seconds())))
    row = await session.scalar(select(StaffUserRow).where(StaffUserRow.username == username))
    # one password check whatever the account's state, so the time taken tells nothing either
    right = passwords.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    if row is not None and row.active and right:
        if throttle is not None:
            await session.delete(throttle)
        if passwords.needs_rehash(row.password_hash):
            row.password_hash = passwords.hash_password(password)
        return Attempt(user=row, known=True)
    await _count_failure(session, settings, username, source, now)
    return Attempt(known=row is not None)


async def _count_failure(session: AsyncSession, settings: Settings, username: str, source: str, now: datetime) -> None:
    """One more failure for the pair (a pair idle for a day starts afresh); prune idle pairs."""
    await session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.last_failed_at < now - THROTTLE_IDLE))
    failures = await session.scalar(
        insert(LoginThrottleRow)
        .values(username=username, source=source, failures=1, last_failed_at=now)
        .on_conflict_do_update(
            index_elements=[LoginThrottleRow.username, LoginThrottleRow.source],
            set_={"failures": LoginThrottleRow.failures + 1, "last_failed_at": now},
        )
        .returning(LoginThrottleRow.failures)
    )
    wait = backoff_seconds(settings, int(failures or 0))
    if wait:
        await session.execute(
            update(LoginThrottleRow)
            .where(LoginThrottleRow.username == username, LoginThrottleRow.source == source)
            .values(blocked_until=now + timedelta(seconds=wait))
        )
    session.expire_all()


_DUMMY_HASH = passwords.hash_password("not-a-real-password")


def issue_token(settings: Settings, user: StaffUserRow) -> tuple[str, int]:
    """(token, seconds valid)."""
    now = clock.now()
    ttl = settings.staff_token_minutes * 60
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(user.id),
        "name": user.username,
        "role": user.role,
        "ver": user.token_version,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.master_secret(), algorithm="HS256"), ttl


async def principal_from_token(session: AsyncSession, settings: Settings, token: str) -> StaffPrincipal | None:
    """The account an access token speaks for, if the token is genuine, unexpired and the account
    is still active with the same role and token version as when it was issued."""
    try:
        claims = jwt.decode(
            token,
            settings.master_secret(),
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "name", "role", "ver"]},
        )
        user_id, version = int(claims["sub"]), int(claims["ver"])
    except (jwt.PyJWTError, TypeError, ValueError):
        return None
    account = (
        await session.execute(
            select(StaffUserRow.username, StaffUserRow.role, StaffUserRow.active, StaffUserRow.token_version).where(
                StaffUserRow.id == user_id
            )
        )
    ).first()
    if account is None or not account.active or account.token_version != version or account.role != claims["role"]:
        return None
    return StaffPrincipal(user_id=user_id, name=account.username, role=account.role)


async def revoke_tokens(session: AsyncSession, user_id: int) -> None:
    """Every access token issued to this account so far stops working (logout)."""
    row = await session.get(StaffUserRow, user_id, with_for_update=True)
    if row is not None:
        row.token_version += 1


async def change_password(session: AsyncSession, username: str, old: str, new: str) -> None:
    row = await get_user(session, username, lock=True)
    if not passwords.verify(row.password_hash, old):
        raise Unauthenticated("原密码错误 the current password is wrong")
    _check_password(new)
    row.password_hash = passwords.hash_password(new)
    row.password_changed_at = clock.now()
    row.token_version += 1


async def update_user(
    session: AsyncSession, username: str, role: str | None, active: bool | None, password: str | None
) -> StaffUserRow:
    """A role change, a deactivation and a password reset revoke the account's access tokens."""
    row = await get_user(session, username, lock=True)
    revoke = False
    if role is not None and role != row.role:
        _check_role(role)
        row.role, revoke = role, True
    if active is not None and active != row.active:
        row.active, revoke = active, True
    if password is not None:
        _check_password(password)
        row.password_hash = passwords.hash_password(password)
        row.password_changed_at = clock.now()
        revoke = True
    if revoke:
        row.token_version += 1
    return row
