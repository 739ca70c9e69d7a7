"""Use cases of staff accounts and credentials: each writes its audit entry and commits.

The API, the CLI and jobs call these, so an account or a key changes the same way (and is
audited the same way) wherever the change starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yibao import audit
from yibao.auth import staff, tokens
from yibao.auth.orm import InstitutionKeyRow, StaffUserRow
from yibao.auth.tokens import StaffPrincipal
from yibao.config import Settings
from yibao.db.uow import UnitOfWork
from yibao.errors import Forbidden, RateLimited, Unauthenticated


@dataclass(frozen=True)
class Login:
    access_token: str
    expires_in: int  # seconds
    role: str


async def login(
    uow: UnitOfWork, settings: Settings, client: audit.Actor, username: str, password: str, source: str
) -> Login:
    """A short-lived access token. A refused attempt is counted for (username, ``source``) and
    committed before the refusal is raised (the count must stick); one against an existing
    account is audited as ``client``. The refusal is the same whether the username exists."""
    attempt = await staff.attempt_login(uow.session, settings, username, password, source)
    if attempt.retry_after is not None:
        raise RateLimited(
            f"登录失败次数过多 too many failed logins for this username from this address; retry in "
            f"{attempt.retry_after} s",
            retry_after=attempt.retry_after,
        )
    if attempt.user is None:
        if attempt.known:
            await audit.record(uow.session, client, "auth.login_failed", ("staff_user", username))
        await uow.commit()
        raise Unauthenticated(staff.BAD_LOGIN)
    user = attempt.user
    token, ttl = staff.issue_token(settings, user)
    await audit.record(uow.session, audit.Actor("staff", user.username), "auth.login", ("staff_user", user.username))
    await uow.commit()
    return Login(token, ttl, user.role)


async def logout(uow: UnitOfWork, me: StaffPrincipal) -> None:
    """An account's access tokens all stop working at once; a bootstrap token is revoked."""
    if me.user_id is not None:
        await staff.revoke_tokens(uow.session, me.user_id)
        await audit.record(uow.session, me.actor, "auth.logout", ("staff_user", me.name))
    elif me.token_id is not None:
        await tokens.revoke_staff_token(uow.session, me.token_id)
        await audit.record(uow.session, me.actor, "staff_token.revoked", ("staff_token", str(me.token_id)))
    await uow.commit()


async def change_password(uow: UnitOfWork, me: StaffPrincipal, current: str, new: str) -> None:
    """One's own password (every token of the account stops working: log in again); a bootstrap
    token is not an account and has none."""
    if me.user_id is None:
        raise Forbidden("bootstrap tokens have no password; log in with a staff account")
    await staff.change_password(uow.session, me.name, current, new)
    await audit.record(uow.session, me.actor, "staff.password_changed", ("staff_user", me.name))
    await uow.commit()


async def create_staff(
    uow: UnitOfWork, actor: audit.Actor, username: str, display_name: str, role: str, password: str
) -> StaffUserRow:
    row = await staff.create_user(uow.session, username, display_name, role, password)
    await audit.record(uow.session, actor, "staff.created", ("staff_user", row.username), {"role": row.role})
    await uow.commit()
    return row


async def update_staff(
    uow: UnitOfWork,
    actor: audit.Actor,
    username: str,
    *,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> StaffUserRow:
    """Change role, (de)activate, reset the password; an admin cannot lock themselves out."""
    if username == actor.name and (active is False or (role and role != "admin")):
        raise Forbidden("an admin cannot deactivate or demote themselves")
    row = await staff.update_user(uow.session, username, role, active, password)
    changes = {k: v for k, v in (("role", role), ("active", active), ("password", password)) if v is not None}
    if "password" in changes:
        changes["password"] = "reset"
    await audit.record(uow.session, actor, "staff.updated", ("staff_user", username), changes)
    await uow.commit()
    return row


async def issue_institution_key(
    uow: UnitOfWork, actor: audit.Actor, institution_code: str, master: bytes
) -> tokens.IssuedKey:
    """A new key: its random id and the secret, shown once."""
    issued = await tokens.issue_institution_key(uow.session, institution_code, master)
    await audit.record(
        uow.session, actor, "institution_key.issued", ("institution", institution_code), {"key_id": issued.key_id}
    )
    await uow.commit()
    return issued


async def revoke_institution_key(
    uow: UnitOfWork, actor: audit.Actor, institution_code: str, key_id: str
) -> InstitutionKeyRow:
    """Final; processes that cached the key stop accepting it within their cache TTL."""
    row = await tokens.revoke_institution_key(uow.session, institution_code, key_id)
    await audit.record(
        uow.session, actor, "institution_key.revoked", ("institution", institution_code), {"key_id": key_id}
    )
    await uow.commit()
    return row


async def issue_staff_token(
    uow: UnitOfWork, actor: audit.Actor, role: str, name: str, hours: int | None = None
) -> tokens.IssuedToken:
    """A bootstrap staff token (the secret, shown once), expiring after ``hours``."""
    issued = await tokens.issue_staff_token(uow.session, role, name, hours)
    await audit.record(
        uow.session,
        actor,
        "staff_token.issued",
        ("staff_token", str(issued.id)),
        {"name": name, "role": role, "expires_at": issued.expires_at.isoformat()},
    )
    await uow.commit()
    return issued


async def revoke_staff_token(uow: UnitOfWork, actor: audit.Actor, token_id: int) -> dict[str, Any]:
    rendered = await tokens.revoke_staff_token(uow.session, token_id)
    await audit.record(uow.session, actor, "staff_token.revoked", ("staff_token", str(token_id)))
    await uow.commit()
    return rendered


async def renew_staff_token(
    uow: UnitOfWork, actor: audit.Actor, token_id: int, hours: int | None = None
) -> dict[str, Any]:
    rendered = await tokens.renew_staff_token(uow.session, token_id, hours)
    await audit.record(
        uow.session,
        actor,
        "staff_token.renewed",
        ("staff_token", str(token_id)),
        {"expires_at": rendered["expires_at"]},
    )
    await uow.commit()
    return rendered
