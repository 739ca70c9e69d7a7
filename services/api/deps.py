"""The one home of request dependencies, as ``Annotated`` aliases routes can declare."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.runtime import Runtime
from yibao.auth.tokens import ROLES, StaffPrincipal, digest, institution_for_key, staff_for_token
from yibao.db.uow import UnitOfWork
from yibao.errors import Forbidden, Unauthenticated
from yibao.institutions.agreements import Institution
from yibao.members.auth import MemberPrincipal, member_for_token
from yibao.reference import ReferenceData

bearer = HTTPBearer(auto_error=False, description="institution key or staff token")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_uow(runtime: RuntimeDep) -> AsyncIterator[UnitOfWork]:
    async with UnitOfWork(runtime.sessionmaker) as uow:
        yield uow


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A read-only session: whatever happens, it is rolled back."""
    async with runtime.sessionmaker() as session:
        try:
            yield session
        finally:
            await session.rollback()


async def get_refs(runtime: RuntimeDep) -> ReferenceData:
    return await runtime.refs.get()


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
RefsDep = Annotated[ReferenceData, Depends(get_refs)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _secret(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("缺少凭证 missing `Authorization: Bearer <key>` header")
    return credentials.credentials


async def _institution_code(runtime: Runtime, secret: str) -> str | None:
    cache_key = "inst:" + digest(secret)
    code = runtime.credentials.get(cache_key)
    if code is None:
        async with runtime.sessionmaker() as session:
            code = await institution_for_key(session, secret)
        if code is not None:
            runtime.credentials.put(cache_key, code)
    return code if isinstance(code, str) else None


async def _staff(runtime: Runtime, secret: str) -> StaffPrincipal | None:
    cache_key = "staff:" + digest(secret)
    principal = runtime.credentials.get(cache_key)
    if principal is None:
        async with runtime.sessionmaker() as session:
            principal = await staff_for_token(session, secret)
        if principal is not None:
            runtime.credentials.put(cache_key, principal)
    return principal if isinstance(principal, StaffPrincipal) else None


async def authenticate_institution(
    runtime: RuntimeDep, credentials: Credentials, refs: RefsDep
) -> Institution:
    code = await _institution_code(runtime, _secret(credentials))
    if code is None:
        raise Unauthenticated("机构密钥无效 unknown or revoked institution key")
    institution = refs.institutions.get(code)
    if institution is None:  # deleted after the key was issued
        raise Unauthenticated("机构不存在 institution of this key no longer exists")
    return institution


CurrentInstitution = Annotated[Institution, Depends(authenticate_institution)]


def require_staff(*roles: str) -> Callable[..., Coroutine[Any, Any, StaffPrincipal]]:
    """Dependency factory: a staff token whose role is one of ``roles`` (admin always passes)."""

    async def dependency(runtime: RuntimeDep, credentials: Credentials) -> StaffPrincipal:
        principal = await _staff(runtime, _secret(credentials))
        if principal is None:
            raise Unauthenticated("工作人员令牌无效 unknown or revoked staff token")
        if principal.role != "admin" and principal.role not in roles:
            raise Forbidden(f"需要角色 {'/'.join(roles) or 'admin'} this action needs role {roles}")
        return principal

    return dependency


AdminUser = Annotated[StaffPrincipal, Depends(require_staff("admin"))]
#: any authenticated staff member; routes check finer roles themselves where they depend on the body
StaffUser = Annotated[StaffPrincipal, Depends(require_staff(*ROLES))]


async def institution_or_staff(
    runtime: RuntimeDep, credentials: Credentials, refs: RefsDep
) -> Institution | StaffPrincipal:
    """Read endpoints: an institution sees its own bills, staff (inspector, admin, …) all of them."""
    secret = _secret(credentials)
    code = await _institution_code(runtime, secret)
    if code is not None and code in refs.institutions:
        return refs.institutions[code]
    principal = await _staff(runtime, secret)
    if principal is None:
        raise Unauthenticated("凭证无效 unknown or revoked key or token")
    return principal


Reader = Annotated[Institution | StaffPrincipal, Depends(institution_or_staff)]


# ---------------------------------------------------------------- member app (参保人)


async def authenticate_member(runtime: RuntimeDep, credentials: Credentials) -> MemberPrincipal:
    """A member bearer token (``ybm_…``); checked against the database on every request so a
    revoked or expired token stops working at once (no credential cache here)."""
    async with runtime.sessionmaker() as session:
        principal = await member_for_token(session, _secret(credentials))
    if principal is None:
        raise Unauthenticated("参保人令牌无效或已过期 unknown, expired or revoked member token")
    return principal


CurrentMember = Annotated[MemberPrincipal, Depends(authenticate_member)]
