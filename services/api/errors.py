"""The only place that maps domain errors to HTTP: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.access_log import request_id_of
from api.responses import JSON
from yibao.errors import DomainError

log = logging.getLogger("yibao.api")

STATUS: dict[str, int] = {
    "INVALID_REQUEST": 400,
    "INVALID_ID_NUMBER": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "INSTITUTION_NOT_ACTIVE": 403,
    "NOT_FOUND": 404,
    "PERSON_NOT_FOUND": 404,
    "ALREADY_CANCELLED": 409,
    "IDEMPOTENCY_CONFLICT": 409,
    "DUPLICATE": 409,
    "TRACE_CODE_ALREADY_SETTLED": 409,
    "NOT_ENROLLED": 422,
    "PERSON_DECEASED": 422,
    "UNKNOWN_ITEM": 422,
    "POLICY_NOT_FOUND": 422,
    "INVALID_STATE": 409,
    "SAME_ACTOR": 403,
    "RATE_LIMITED": 429,
    "CONFLICT": 409,
    "RULE_BLOCKED": 422,
    "SERVICE_UNAVAILABLE": 503,
    "PREMIUM_AMOUNT_MISMATCH": 422,
    "PREMIUM_ALREADY_PAID": 409,
    "PREMIUM_WINDOW_NOT_OPEN": 422,
    "REFUND_NOT_ALLOWED": 409,
    "INSUFFICIENT_BALANCE": 422,
    "ACTIVATION_CODE_INVALID": 401,
    "MEMBER_CODE_INVALID": 422,
    "MEMBER_CODE_EXPIRED": 422,
    "MEMBER_CODE_USED": 409,
    "ALREADY_ENROLLED": 409,
    "COVERAGE_CANNOT_START": 422,
    "PAID_ON_IN_FUTURE": 422,
    "PAYBACK_BEFORE_FIRST_ENROLMENT": 422,
    "SERVICE_DATE_IN_FUTURE": 422,
    "UNKNOWN_REGION": 422,
    "INVOICE_ALREADY_CLAIMED": 409,
    "SERVICE_BEFORE_COVERAGE": 422,
    "CLAIM_TOO_OLD": 422,
    "VISIT_SETTLED_IN_REAL_TIME": 409,
    "PREPAYMENT_ABOVE_LIMIT": 422,
    "FUND_BELOW_MINIMUM": 422,
    "CHRONIC_NOT_RECOGNISED": 422,
    "PRESCRIPTION_ALREADY_DISPENSED": 409,
    "PRESCRIPTION_INVALID": 422,
    "UNKNOWN_GROUP": 422,
}

HTTP_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def error_response(
    request: Request, code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> JSON:
    """The one error shape; ``request_id`` is what the caller quotes to the bureau's operators
    (the same id is in the ``X-Request-ID`` header and the access log)."""
    body: dict[str, str] = {"code": code, "message": message}
    request_id = request_id_of(request.scope)
    if request_id is not None:
        body["request_id"] = request_id
    return JSON({"error": body}, status_code=status, headers=headers)


async def on_domain_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, DomainError)
    status = STATUS.get(exc.code, 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if "retry_after" in exc.details:
        headers = {"Retry-After": str(exc.details["retry_after"])}
    return error_response(request, exc.code, exc.message, status, headers)


async def on_validation_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return error_response(request, "INVALID_REQUEST", _malformed_json(exc.body, first), 400)
    if _not_json(request, errors):
        return error_response(
            request,
            "INVALID_REQUEST",
            "请求体须为 JSON the body must be a JSON object sent with `Content-Type: application/json`",
            400,
        )
    parts = [_one_problem(err) for err in errors[:10]]
    return error_response(request, "INVALID_REQUEST", "请求格式错误 invalid request: " + "; ".join(parts), 400)


def _malformed_json(document: object, err: dict[str, object]) -> str:
    """Where the JSON broke, as an editor shows it (line and column, 1-based), not a character offset."""
    loc = err.get("loc") or ()
    position = loc[-1] if isinstance(loc, tuple | list) and loc and isinstance(loc[-1], int) else None
    ctx = err.get("ctx")
    reason = str(ctx.get("error", "")) if isinstance(ctx, dict) else ""
    if isinstance(document, bytes):
        document = document.decode("utf-8", "replace")
    if isinstance(document, str) and position is not None:
        line = document.count("\n", 0, position) + 1
        column = position - (document.rfind("\n", 0, position) + 1) + 1
        return f"JSON 格式错误 malformed JSON at line {line}, column {column}: {reason}"
    return f"JSON 格式错误 malformed JSON: {reason}"


def _not_json(request: Request, errors: Sequence[Any]) -> bool:
    """A body FastAPI did not parse as JSON (no or another content type) fails as "not a dict"."""
    content_type = request.headers.get("content-type", "")
    return "json" not in content_type and any(
        tuple(e.get("loc", ())) == ("body",) and e.get("type") in ("model_attributes_type", "dict_type") for e in errors
    )


def _one_problem(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err.get("loc", ())]
    if err.get("type") == "missing" and loc[:1] == ["header"]:
        return f"缺少请求头 the {loc[-1]} header is required"
    where = ".".join(p for p in loc if p != "body")
    return f"{where}: {err.get('msg')}"


async def on_http_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "INVALID_REQUEST" if exc.status_code < 500 else "INTERNAL")
    return error_response(request, code, str(exc.detail), exc.status_code)


async def on_database_down(request: Request, exc: Exception) -> JSON:
    """Connection trouble is a clear, retryable 503; the transaction was rolled back."""
    if (
        isinstance(exc, DBAPIError)
        and not exc.connection_invalidated
        and not isinstance(exc, OperationalError | InterfaceError)
    ):
        return await _on_statement_error(request, exc)
    log.warning("database unavailable: %s", type(exc).__name__)
    return error_response(
        request, "SERVICE_UNAVAILABLE", "数据库暂不可用 database unavailable, retry later", 503, {"Retry-After": "1"}
    )


#: SQLSTATE classes meaning "the server cannot serve now": connection exception, insufficient
#: resources (too many connections), operator intervention (shutting down, starting up)
_SERVER_UNAVAILABLE = {"08", "53", "57"}


def _sqlstate(exc: BaseException) -> str:
    """The server's SQLSTATE, found anywhere along the chain of wrapped driver exceptions."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        code = getattr(seen, "sqlstate", None) or getattr(getattr(seen, "orig", None), "sqlstate", None)
        if code:
            return str(code)
        seen = seen.__cause__ or seen.__context__
    return ""


#: how asyncpg words "this connection died under the request" when it raises the generic
#: InterfaceError (e.g. a transaction's exit after the server terminated the connection)
_CONNECTION_GONE = ("connection is closed", "released back to the pool")


async def on_driver_error(request: Request, exc: Exception) -> JSON:
    """What asyncpg raises itself on the settle hot path (no ORM session there to wrap it):
    a lost connection is a retryable 503, a refused statement is judged by its SQLSTATE."""
    if isinstance(exc, asyncpg.exceptions.ConnectionDoesNotExistError | asyncpg.exceptions.InternalClientError) or (
        isinstance(exc, asyncpg.InterfaceError) and any(m in str(exc) for m in _CONNECTION_GONE)
    ):  # InternalClientError: a connection left unusable by the server going away (the pool
        # discards it on release); SQLAlchemy's adapter answered these 503 too
        return await on_database_down(request, exc)
    if isinstance(exc, asyncpg.PostgresError):
        return await _on_statement_error(request, exc)
    return await on_unexpected(request, exc)


async def _on_statement_error(request: Request, exc: Exception) -> JSON:
    """A statement the database refused. Input it cannot store (SQLSTATE class 22: a NUL byte,
    a number out of range) is the caller's mistake; a constraint race (class 23) is a conflict
    worth retrying. Either way the transaction was rolled back, so nothing was written."""
    sqlstate = _sqlstate(exc)
    if sqlstate[:2] in _SERVER_UNAVAILABLE:
        log.warning("database unavailable: SQLSTATE %s", sqlstate)
        return error_response(
            request,
            "SERVICE_UNAVAILABLE",
            "数据库暂不可用 database unavailable, retry later",
            503,
            {"Retry-After": "1"},
        )
    if sqlstate.startswith("22"):
        return error_response(
            request,
            "INVALID_REQUEST",
            "数据无法保存 a value in the request cannot be stored (e.g. a NUL character or a number out of range)",
            400,
        )
    if sqlstate.startswith("23"):
        log.warning("constraint race answered 409: %s", sqlstate)
        return error_response(request, "CONFLICT", "并发冲突 a concurrent request changed the same record; retry", 409)
    return await on_unexpected(request, exc)


async def on_unexpected(request: Request, exc: Exception) -> JSON:
    """A defect. This handler cannot know how far the request got (a use case may have committed
    before its answer failed), so it says only what it knows: the error is logged, the outcome
    is to be read back before anything is sent again."""
    log.exception("unhandled error", exc_info=exc)
    return error_response(
        request,
        "INTERNAL",
        "内部错误，已记录；请先查询结果再重试 internal error (logged); whether the request took effect is "
        "not known here: read the outcome before retrying (a retry with the same Idempotency-Key is safe)",
        500,
    )


#: modules whose socket errors mean "the database cannot be reached" (the engine, its driver)
_DATABASE_MODULES = ("asyncpg", "sqlalchemy")


def _from_the_database(exc: BaseException) -> bool:
    """Whether an ``OSError`` was raised while connecting or talking to PostgreSQL: raised inside
    asyncpg or SQLAlchemy (refused, reset, timed out, "Multiple exceptions" of a host's several
    addresses, which carries no errno). Anything else (a file, another service's socket) is not
    the database."""
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DATABASE_MODULES:
            return True
        tb = tb.tb_next
    return False


async def on_os_error(request: Request, exc: Exception) -> JSON:
    """A database that cannot be reached is a retryable 503; any other ``OSError`` (a missing
    file, a full disk, another service's socket) is a defect: a 500 with its details logged."""
    assert isinstance(exc, OSError)
    if _from_the_database(exc):
        return await on_database_down(request, exc)
    return await on_unexpected(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(OperationalError, on_database_down)
    app.add_exception_handler(InterfaceError, on_database_down)
    app.add_exception_handler(DBAPIError, on_database_down)
    app.add_exception_handler(asyncpg.PostgresError, on_driver_error)
    app.add_exception_handler(asyncpg.InterfaceError, on_driver_error)
    app.add_exception_handler(asyncpg.exceptions.InternalClientError, on_driver_error)
    app.add_exception_handler(OSError, on_os_error)
    app.add_exception_handler(Exception, on_unexpected)  # still a 500, but in our error shape and logged
