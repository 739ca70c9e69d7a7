"""Staff log in and manage accounts; admins issue, list, rotate and revoke institution keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from api.deps import AdminUser, RuntimeDep, StaffUser, UowDep
from api.responses import JSON
from api.schemas.auth import (
    KeyCreated,
    KeyRead,
    LoginRequest,
    PasswordChange,
    StaffCreate,
    StaffRead,
    StaffUpdate,
    TokenRead,
)
from api.schemas.common import ERRORS
from yibao import audit
from yibao.auth import staff as accounts
from yibao.auth import tokens
from yibao.auth.orm import StaffUserRow
from yibao.auth.tokens import StaffPrincipal
from yibao.errors import Forbidden, Unauthenticated

router = APIRouter(prefix="/api/v1", tags=["auth 认证"], responses=ERRORS)


def _who(staff: StaffPrincipal) -> audit.Actor:
    return audit.Actor("staff", staff.name)


def _staff_read(row: StaffUserRow) -> dict[str, Any]:
    return {
        "username": row.username,
        "display_name": row.display_name,
        "role": row.role,
        "active": row.active,
        "locked_until": row.locked_until.isoformat() if row.locked_until else None,
        "created_at": row.created_at.isoformat(),
    }


@router.post("/auth/login", response_model=TokenRead, summary="Staff login → short-lived access token")
async def login(body: LoginRequest, request: Request, runtime: RuntimeDep, uow: UowDep) -> Any:
    client = request.client.host if request.client else "?"
    await runtime.limiter.check("login", f"{client}:{body.username}")
    try:
        user = await accounts.authenticate(uow.session, runtime.settings, body.username, body.password)
    except Unauthenticated as exc:
        if exc.details.get("record"):
            await audit.record(
                uow.session, audit.Actor("anonymous", client), "auth.login_failed", ("staff_user", body.username)
            )
            await uow.commit()  # the failure count must stick
        raise
    token, ttl = accounts.issue_token(runtime.settings, user)
    await audit.record(uow.session, audit.Actor("staff", user.username), "auth.login", ("staff_user", user.username))
    await uow.commit()
    return JSON({"access_token": token, "token_type": "bearer", "expires_in": ttl, "role": user.role})


@router.post("/auth/password", status_code=204, summary="Change one's own password")
async def change_password(body: PasswordChange, staff: StaffUser, uow: UowDep) -> None:
    if staff.user_id is None:
        raise Forbidden("bootstrap tokens have no password; log in with a staff account")
    await accounts.change_password(uow.session, staff.name, body.current_password, body.new_password)
    await audit.record(uow.session, _who(staff), "staff.password_changed", ("staff_user", staff.name))
    await uow.commit()


@router.post("/staff", status_code=201, response_model=StaffRead, summary="Create a staff account (admin)")
async def create_staff(body: StaffCreate, admin: AdminUser, uow: UowDep) -> Any:
    row = await accounts.create_user(uow.session, body.username, body.display_name, body.role, body.password)
    await audit.record(uow.session, _who(admin), "staff.created", ("staff_user", row.username), {"role": row.role})
    out = _staff_read(row)
    await uow.commit()
    return JSON(out, status_code=201)


@router.get("/staff", response_model=list[StaffRead], summary="All staff accounts (admin)")
async def list_staff(_: AdminUser, uow: UowDep) -> Any:
    rows = (await uow.session.scalars(select(StaffUserRow).order_by(StaffUserRow.username))).all()
    return JSON([_staff_read(r) for r in rows])


@router.patch("/staff/{username}", response_model=StaffRead, summary="Change role, (de)activate, reset password")
async def update_staff(username: str, body: StaffUpdate, admin: AdminUser, uow: UowDep) -> Any:
    if username == admin.name and (body.active is False or (body.role and body.role != "admin")):
        raise Forbidden("an admin cannot deactivate or demote themselves")
    row = await accounts.update_user(uow.session, username, body.role, body.active, body.password)
    changes = body.model_dump(exclude_none=True)
    if "password" in changes:
        changes["password"] = "reset"
    await audit.record(uow.session, _who(admin), "staff.updated", ("staff_user", username), changes)
    out = _staff_read(row)
    await uow.commit()
    return JSON(out)


@router.post(
    "/institutions/{code}/keys",
    status_code=201,
    response_model=KeyCreated,
    summary="Issue an institution key (shown once; older keys stay valid until revoked)",
)
async def create_key(code: str, admin: AdminUser, uow: UowDep, runtime: RuntimeDep) -> Any:
    secret = await tokens.create_institution_key(uow.session, code, runtime.settings.master_secret())
    await audit.record(
        uow.session, _who(admin), "institution_key.issued", ("institution", code), {"key_id": secret[:12]}
    )
    await uow.commit()
    return JSON({"institution_code": code, "key_id": secret[:12], "key": secret}, status_code=201)


@router.get("/institutions/{code}/keys", response_model=list[KeyRead], summary="An institution's keys (admin)")
async def list_keys(code: str, _: AdminUser, uow: UowDep) -> Any:
    rows = await tokens.list_institution_keys(uow.session, code)
    return JSON(
        [
            {
                "key_id": r.key_prefix,
                "created_at": r.created_at.isoformat(),
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            }
            for r in rows
        ]
    )


@router.post(
    "/institutions/{code}/keys/{key_id}/revoke",
    response_model=KeyRead,
    summary="Revoke a key (rotation: issue a new key, switch the HIS over, revoke the old one)",
)
async def revoke_key(code: str, key_id: str, admin: AdminUser, uow: UowDep, runtime: RuntimeDep) -> Any:
    row = await tokens.revoke_institution_key(uow.session, code, key_id)
    await audit.record(uow.session, _who(admin), "institution_key.revoked", ("institution", code), {"key_id": key_id})
    out = {
        "key_id": row.key_prefix,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }
    await uow.commit()
    runtime.credentials.clear()  # this process stops accepting it at once; others within the cache TTL
    return JSON(out)
