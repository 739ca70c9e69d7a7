"""Staff log in and out and manage accounts; admins issue, list, rotate and revoke institution
keys and list and revoke bootstrap staff tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from api.deps import AdminUser, RuntimeDep, SessionDep, StaffUser, UowDep
from api.responses import JSON
from api.schemas.auth import (
    KeyCreated,
    KeyRead,
    LoginRequest,
    PasswordChange,
    StaffCreate,
    StaffRead,
    StaffTokenRead,
    StaffUpdate,
    TokenRead,
)
from api.schemas.common import ERRORS
from yibao import audit
from yibao.auth import service, staff, tokens

router = APIRouter(prefix="/api/v1", tags=["auth 认证"], responses=ERRORS)


@router.post(
    "/auth/login",
    response_model=TokenRead,
    summary="Staff login → short-lived access token",
    description="A wrong password and an unknown username get the same 401. After "
    "`STAFF_MAX_FAILED_LOGINS` failures for one username from one address, each further attempt from "
    "that address waits exponentially longer (429 with `Retry-After`), whether the username exists or not.",
)
async def login(body: LoginRequest, request: Request, runtime: RuntimeDep, uow: UowDep) -> Any:
    client = request.client.host if request.client else "?"
    await runtime.limiter.check("login", f"{client}:{body.username}")
    done = await service.login(
        uow, runtime.settings, audit.Actor("anonymous", client), body.username, body.password, source=client
    )
    return JSON(
        {"access_token": done.access_token, "token_type": "bearer", "expires_in": done.expires_in, "role": done.role}
    )


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Log out: every access token of this account stops working (a bootstrap token is revoked)",
)
async def logout(me: StaffUser, uow: UowDep) -> None:
    await service.logout(uow, me)


@router.post(
    "/auth/password", status_code=204, summary="Change one's own password (then log in again: tokens are revoked)"
)
async def change_password(body: PasswordChange, me: StaffUser, uow: UowDep) -> None:
    await service.change_password(uow, me, body.current_password, body.new_password)


@router.post("/staff", status_code=201, response_model=StaffRead, summary="Create a staff account (admin)")
async def create_staff(body: StaffCreate, admin: AdminUser, uow: UowDep) -> Any:
    row = await service.create_staff(uow, admin.actor, body.username, body.display_name, body.role, body.password)
    return JSON(staff.render(row), status_code=201)


@router.get("/staff", response_model=list[StaffRead], summary="All staff accounts (admin)")
async def list_staff(_: AdminUser, session: SessionDep) -> Any:
    return JSON([staff.render(r) for r in await staff.list_users(session)])


@router.patch("/staff/{username}", response_model=StaffRead, summary="Change role, (de)activate, reset password")
async def update_staff(username: str, body: StaffUpdate, admin: AdminUser, uow: UowDep) -> Any:
    row = await service.update_staff(
        uow, admin.actor, username, role=body.role, active=body.active, password=body.password
    )
    return JSON(staff.render(row))


@router.post(
    "/institutions/{code}/keys",
    status_code=201,
    response_model=KeyCreated,
    summary="Issue an institution key (shown once; older keys stay valid until revoked)",
)
async def create_key(code: str, admin: AdminUser, uow: UowDep, runtime: RuntimeDep) -> Any:
    issued = await service.issue_institution_key(uow, admin.actor, code, runtime.settings.master_secret())
    return JSON({"institution_code": code, "key_id": issued.key_id, "key": issued.secret}, status_code=201)


@router.get("/institutions/{code}/keys", response_model=list[KeyRead], summary="An institution's keys (admin)")
async def list_keys(code: str, _: AdminUser, session: SessionDep) -> Any:
    return JSON([tokens.render_key(r) for r in await tokens.list_institution_keys(session, code)])


@router.post(
    "/institutions/{code}/keys/{key_id}/revoke",
    response_model=KeyRead,
    summary="Revoke a key (rotation: issue a new key, switch the HIS over, revoke the old one)",
)
async def revoke_key(code: str, key_id: str, admin: AdminUser, uow: UowDep, runtime: RuntimeDep) -> Any:
    row = await service.revoke_institution_key(uow, admin.actor, code, key_id)
    runtime.credentials.clear()  # this process stops accepting it at once; others within the cache TTL
    return JSON(tokens.render_key(row))


TokenId = Annotated[int, Path(ge=1, le=2**62)]


@router.get(
    "/staff-tokens",
    response_model=list[StaffTokenRead],
    summary="Bootstrap staff tokens (ybs_…), newest first, with their status (admin)",
)
async def list_staff_tokens(_: AdminUser, session: SessionDep) -> Any:
    return JSON(await tokens.list_staff_tokens(session))


@router.post(
    "/staff-tokens/{token_id}/revoke",
    response_model=StaffTokenRead,
    summary="Revoke a bootstrap staff token: refused from the next request on (admin)",
)
async def revoke_staff_token(token_id: TokenId, admin: AdminUser, uow: UowDep) -> Any:
    return JSON(await service.revoke_staff_token(uow, admin.actor, token_id))
