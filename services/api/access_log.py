"""One structured line per request, and a request id the caller can quote.

Why a raw ASGI middleware and not ``BaseHTTPMiddleware``: the latter runs the endpoint in a
task group and copies the body through a stream, a cost every settlement would pay; this one
only watches the ``http.response.start`` message go by.

The line is JSON: ``request_id``, ``caller`` (kind and id, set by the authentication
dependencies through :func:`name_caller`), ``method``, ``route`` (the path *template*, so an ID
number in a path never reaches the log; an unrouted path is masked), ``status``, ``ms``.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yibao.logs import scrub
from yibao.uuids import uuid7

log = logging.getLogger("yibao.access")
HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode()
#: a caller's own id is kept (to follow a request across its systems) only if it is this tame
_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{8,64}$")


def request_id_of(scope: Scope) -> str | None:
    """The id this request carries (for error bodies)."""
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None


def name_caller(scope: Scope, kind: str, ident: str) -> None:
    """Called by the authentication dependencies once they know who is calling."""
    scope.setdefault("state", {})["caller"] = f"{kind}:{ident}"


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope) or uuid7().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the server answers if the app dies before starting a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (_HEADER_KEY, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info(_line(scope, request_id, status, time.perf_counter() - started))


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _HEADER_KEY:
            text = value.decode("latin-1")
            return text if _SAFE_ID.match(text) else None
    return None


def _line(scope: Scope, request_id: str, status: int, seconds: float) -> str:
    route = scope.get("route")
    template = getattr(route, "path", None)
    state: dict[str, Any] = scope.get("state") or {}
    return orjson.dumps(
        {
            "request_id": request_id,
            "caller": state.get("caller", "anonymous"),
            "method": scope["method"],
            "route": template if template is not None else scrub(scope["path"]),
            "status": status,
            "ms": round(seconds * 1000, 2),
        }
    ).decode()
