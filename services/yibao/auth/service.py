"""Use cases of staff accounts and credentials: each writes its audit entry and commits.

The API, the CLI and jobs call these, so an account or a key changes the same way (and is
audited the same way) wherever the change starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from yibao import audit
from yibao.auth import staff, tokens
from yibao.auth.orm import InstitutionKeyRow, StaffUserRow
from yibao.auth.tokens import StaffPrincipal
from yibao.config import Settings
from yibao.db.uow import UnitOfWork
from yibao.errors import Forbidden, Unauthenticated


@dataclass(frozen=True)
class Login:
    access_token: str
    expires_in: int  # seconds
    role: str


async def login(uow: UnitOfWork, settings: Settings, client: audit.Actor, username: str, password: str) -> Login:
    """A short-lived access token. A refused attempt that counts (wrong password, locked account)
    is audited as ``client`` and committed before the refusal is raised: the count must stick."""
    try:
        user = await staff.authenticate(uow.session, settings, username, password)
    except Unauthenticated as exc:
        if exc.details.get("record"):
            await audit.record(uow.session, client, "auth.login_failed", ("staff_user", username))
            await uow.commit()
        raise
    token, ttl = staff.issue_token(settings, user)
    await audit.record(uow.session, audit.Actor("staff", user.username), "auth.login", ("staff_user", user.username))
    await uow.commit()
    return Login(token, ttl, user.role)


async def change_password(uow: UnitOfWork, me: StaffPrincipal, current: str, new: str) -> None:
    """One's own password; a bootstrap token is not an account and has none."""
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


async def issue_institution_key(uow: UnitOfWork, actor: audit.Actor, institution_code: str, master: bytes) -> str:
    """A new key (the secret, shown once); its first 12 characters are the key id."""
    secret = await tokens.create_institution_key(uow.session, institution_code, master)
    await audit.record(
        uow.session, actor, "institution_key.issued", ("institution", institution_code), {"key_id": secret[:12]}
    )
    await uow.commit()
    return secret


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


async def issue_staff_token(uow: UnitOfWork, actor: audit.Actor, role: str, name: str) -> str:
    """A long-lived staff bearer token (bootstrap, service accounts): the secret, shown once."""
    secret = await tokens.create_staff_token(uow.session, role, name)
    await audit.record(uow.session, actor, "staff_token.issued", ("staff_token", name), {"role": role})
    await uow.commit()
    return secret
