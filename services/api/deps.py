"""The one home of request dependencies, as ``Annotated`` aliases routes can declare."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from api.access_log import name_caller
from api.runtime import Runtime
from yibao.auth import nonces, signing
from yibao.auth import staff as staff_accounts
from yibao.auth.tokens import (
    ROLES,
    StaffPrincipal,
    digest,
    institution_for_key,
    signing_key,
    staff_for_token,
)
from yibao.db import statements
from yibao.db.uow import UnitOfWork
from yibao.errors import Forbidden, Unauthenticated
from yibao.institutions.agreements import Institution
from yibao.members.auth import MemberPrincipal, member_for_token
from yibao.reference import ReferenceData

bearer = HTTPBearer(auto_error=False, description="institution key or staff token")


async def get_runtime(request: Request) -> Runtime:
    """``async`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a
    thread hop on every request for what is one attribute read."""
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


#: what each credential the product issues looks like, to tell a caller who sent the wrong one
_KINDS = (("ybk_", "机构密钥 an institution key"), ("ybm_", "参保人令牌 a member token"))


def _kind_of(secret: str) -> str | None:
    if secret.startswith(("eyJ", "ybs_")):
        return "工作人员令牌 a staff token"
    return next((kind for prefix, kind in _KINDS if secret.startswith(prefix)), None)


def _wrong_kind(needed: str, credentials: HTTPAuthorizationCredentials | None) -> Unauthenticated | None:
    """``this endpoint needs X; Y was sent`` when the bearer is a credential of another kind."""
    sent = _kind_of(credentials.credentials) if credentials is not None and credentials.credentials else None
    if sent is None or needed in sent:
        return None
    return Unauthenticated(f"凭证类型不符 this endpoint needs {needed}; {sent} was sent")


async def _institution_code(runtime: Runtime, secret: str) -> str | None:
    cache_key = "inst:" + digest(secret)
    code = runtime.credentials.get(cache_key)
    if code is None:
        async with runtime.sessionmaker() as session:
            code = await institution_for_key(session, secret)
        if code is not None:
            runtime.credentials.put(cache_key, code)
    return code if isinstance(code, str) else None


async def _staff(runtime: Runtime, secret: str) -> StaffPrincipal:
    """Checked against the database on every request (no credential cache): a deactivated,
    demoted or logged-out account's access token, and a revoked, expired or superseded
    bootstrap token, are refused from the very next request."""
    if secret.startswith(("ybk_", "ybm_")):
        raise Unauthenticated(f"凭证类型不符 this endpoint needs a staff token; {_kind_of(secret)} was sent")
    async with runtime.sessionmaker() as session:
        if secret.startswith("eyJ"):  # a staff account's access token (a JWT)
            principal = await staff_accounts.principal_from_token(session, runtime.settings, secret)
            if principal is None:
                raise Unauthenticated("工作人员令牌无效 unknown, expired or revoked staff token")
            return principal
        if not secret.startswith("ybs_"):
            raise Unauthenticated("工作人员令牌无效 unknown, expired or revoked staff token")
        return await staff_for_token(session, secret)


async def _signing_key(runtime: Runtime, key_id: str) -> tuple[str, str] | None:
    cache_key = "sign:" + key_id
    hit = runtime.credentials.get(cache_key)
    if hit is None:
        async with runtime.sessionmaker() as session:
            hit = await signing_key(session, key_id, runtime.settings.master_secret())
        if hit is not None:
            runtime.credentials.put(cache_key, hit)
    return hit if isinstance(hit, tuple) else None


async def _first_use_of_nonce(runtime: Runtime, key_id: str, nonce: str) -> bool:
    """The database records every nonce (``yibao.auth.nonces``); Redis, in front, refuses a
    replay it has seen without a database round trip but never lets a request through alone."""
    settings = runtime.settings
    cache_key = f"{settings.broker_namespace}:nonce:{key_id}:{nonce}"
    try:
        if not await runtime.redis.set(
            cache_key, 1, nx=True, ex=nonces.keep_seconds(settings.signature_max_skew_seconds)
        ):
            return False
    except RedisError:
        pass  # the database alone decides
    async with statements.transaction(runtime.pg) as db:
        first = await nonces.remember(db, key_id, nonce)
        if nonces.prune_due():
            await nonces.prune(db, settings.signature_max_skew_seconds)
    return first


async def _signed_institution(request: Request, runtime: Runtime) -> str:
    h = request.headers
    key_id, ts, nonce, signature = (h.get(name, "") for name in signing.HEADERS)
    if not (key_id and ts and nonce and signature):
        raise Unauthenticated("签名请求缺少头 a signed request needs X-Yibao-Key, -Timestamp, -Nonce and -Signature")
    if not signing.fresh(ts, runtime.settings.signature_max_skew_seconds):
        raise Unauthenticated(
            "时间戳超出允许范围 X-Yibao-Timestamp is missing or more than "
            f"{runtime.settings.signature_max_skew_seconds} s away from server time"
        )
    if not signing.NONCE_MIN <= len(nonce) <= signing.NONCE_MAX:
        raise Unauthenticated(f"X-Yibao-Nonce must be {signing.NONCE_MIN}–{signing.NONCE_MAX} characters")
    found = await _signing_key(runtime, key_id)
    path_qs = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = await request.body()
    if found is None or not signing.matches(found[1], request.method, path_qs, ts, nonce, body, signature):
        raise Unauthenticated("签名无效 unknown key or bad signature")
    if not await _first_use_of_nonce(runtime, key_id, nonce):
        raise Unauthenticated("重放请求 this nonce was already used (replayed request)")
    return found[0]


async def _institution_from_request(
    request: Request, runtime: Runtime, credentials: HTTPAuthorizationCredentials | None
) -> str | None:
    """The institution a request is from, or None if it does not carry institution credentials."""
    if "x-yibao-signature" in request.headers:
        return await _signed_institution(request, runtime)
    if credentials is None or not credentials.credentials.startswith("ybk_"):
        return None
    if runtime.settings.require_signed_institution_requests:
        raise Unauthenticated("须签名 this server requires signed requests (X-Yibao-Signature); see the API docs")
    code = await _institution_code(runtime, credentials.credentials)
    if code is None:
        raise Unauthenticated("机构密钥无效 unknown or revoked institution key")
    return code


async def authenticate_institution(
    request: Request, runtime: RuntimeDep, credentials: Credentials, refs: RefsDep
) -> Institution:
    code = await _institution_from_request(request, runtime, credentials)
    if code is None:
        raise _wrong_kind("an institution key", credentials) or Unauthenticated(
            "缺少机构凭证 missing institution credentials (signed headers or a bearer key)"
        )
    institution = refs.institutions.get(code)
    if institution is None:  # deleted after the key was issued
        raise Unauthenticated("机构不存在 institution of this key no longer exists")
    name_caller(request.scope, "institution", code)
    await runtime.limiter.check("institution", code)
    return institution


CurrentInstitution = Annotated[Institution, Depends(authenticate_institution)]


async def _authenticated_staff(runtime: Runtime, credentials: HTTPAuthorizationCredentials | None) -> StaffPrincipal:
    principal = await _staff(runtime, _secret(credentials))
    await runtime.limiter.check("staff", principal.name)
    return principal


def require_staff(*roles: str) -> Callable[..., Coroutine[Any, Any, StaffPrincipal]]:
    """Dependency factory: a staff token whose role is one of ``roles`` (admin always passes)."""

    async def dependency(request: Request, runtime: RuntimeDep, credentials: Credentials) -> StaffPrincipal:
        principal = await _authenticated_staff(runtime, credentials)
        name_caller(request.scope, "staff", principal.name)
        if principal.role != "admin" and principal.role not in roles:
            raise Forbidden(f"需要角色 {'/'.join(roles) or 'admin'} this action needs role {roles}")
        return principal

    return dependency


AdminUser = Annotated[StaffPrincipal, Depends(require_staff("admin"))]
#: any authenticated staff member; routes check finer roles themselves where they depend on the body
StaffUser = Annotated[StaffPrincipal, Depends(require_staff(*ROLES))]

#: roles whose counter work needs whole ID numbers in lists of people (others see them masked)
FULL_ID_ROLES = ("admin", "clerk")


def sees_full_ids(staff: StaffPrincipal) -> bool:
    """Lists of people show whole ID numbers only to the roles that register and serve people."""
    return staff.role in FULL_ID_ROLES


async def institution_or_staff(
    request: Request, runtime: RuntimeDep, credentials: Credentials, refs: RefsDep
) -> Institution | StaffPrincipal:
    """Read endpoints: an institution sees its own bills, staff (inspector, admin, …) all of them."""
    code = await _institution_from_request(request, runtime, credentials)
    if code is not None and code in refs.institutions:
        name_caller(request.scope, "institution", code)
        await runtime.limiter.check("institution", code)
        return refs.institutions[code]
    principal = await _authenticated_staff(runtime, credentials)
    name_caller(request.scope, "staff", principal.name)
    return principal


Reader = Annotated[Institution | StaffPrincipal, Depends(institution_or_staff)]


# ---------------------------------------------------------------- member app (参保人)


async def authenticate_member(request: Request, runtime: RuntimeDep, credentials: Credentials) -> MemberPrincipal:
    """A member bearer token (``ybm_…``); checked against the database on every request so a
    revoked or expired token stops working at once (no credential cache here)."""
    wrong = _wrong_kind("a member token", credentials)
    if wrong is not None:
        raise wrong
    async with runtime.sessionmaker() as session:
        principal = await member_for_token(session, _secret(credentials))
    if principal is None:
        raise Unauthenticated("参保人令牌无效或已过期 unknown, expired or revoked member token")
    name_caller(request.scope, "member", str(principal.person_id))
    await runtime.limiter.check("member", str(principal.person_id))
    return principal


CurrentMember = Annotated[MemberPrincipal, Depends(authenticate_member)]
