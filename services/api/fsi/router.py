"""``POST /fsi/api/{infno}`` and ``POST /fsi/api/callService``: the national envelope.

Parse, call, map: authentication is the native API's (``CurrentInstitution``: bearer key or
signed request); the envelope is read here (``envelope``), the transaction runs the native use
cases (``transactions``), and every answer is a 200 envelope — ``infcode`` -1 with the native
error code in ``err_code`` for any refusal. ``msgid`` is the idempotency key: the first answer
of a msgid is journaled and a repeat gets it back byte for byte.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from api.deps import CurrentInstitution, RefsDep, RuntimeDep
from api.fsi import envelope, transactions
from api.schemas.fsi import EXAMPLE_2207, FsiReply
from yibao import clock
from yibao.errors import DomainError
from yibao.nhsa import service as journal
from yibao.nhsa.statements import MAX_FILE_BYTES

router = APIRouter(prefix="/fsi/api", tags=["national interface 国家医保接口"])

#: refusals not journaled: they say nothing about the message but about this moment, or (a msgid
#: reused with another request) the msgid's answer is another request's
NOT_JOURNALED = frozenset({"RATE_LIMITED", "SERVICE_UNAVAILABLE", "IDEMPOTENCY_CONFLICT"})
#: the largest envelope read: a 9101 of the largest file as a JSON array of byte values
#: ("255," per byte) and some room for the rest
MAX_ENVELOPE_BYTES = 4 * MAX_FILE_BYTES + 1024 * 1024

_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "the national envelope {infno, msgid, …, input}"},
                "example": EXAMPLE_2207,
            }
        },
    }
}


def _answer(body: bytes, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(body, media_type="application/json", headers=headers)


def _file(filename: str, content: bytes, replayed: bool = False) -> Response:
    """A download's success (9102): the file itself, as the platform answers it."""
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(content, media_type="application/zip", headers=headers)


async def _body(request: Request) -> bytes | None:
    """The request body, or ``None`` past ``MAX_ENVELOPE_BYTES`` (not read further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ENVELOPE_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ENVELOPE_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _call(request: Request, path_infno: str | None, institution: Any, refs: Any, runtime: Any) -> Response:
    received = clock.now()
    region = institution.region

    def refuse(code: str, message: str) -> bytes:
        return envelope.reply(region=region, received=received, output=None, err_code=code, err_msg=message)

    body = await _body(request)
    if body is None:
        return _answer(refuse("INVALID_ENVELOPE", f"报文过大 the envelope is larger than {MAX_ENVELOPE_BYTES} bytes"))
    try:
        env = envelope.parse(body, path_infno, institution.code)
    except envelope.EnvelopeError as exc:
        return _answer(refuse("INVALID_ENVELOPE", str(exc)))
    digest = journal.request_hash(env.infno, env.input)
    inside = env.infno in transactions.JOURNALED_INSIDE  # a settle reads it in its transaction
    first = None if inside else await journal.find(runtime.pg, institution.code, env.msgid)
    if first is not None:
        if first.request_hash != digest:
            return _answer(
                refuse(
                    "IDEMPOTENCY_CONFLICT",
                    f"报文ID已用于不同请求 msgid {env.msgid} was already used for a different {first.infno} request",
                )
            )
        if first.infcode == 0 and first.infno in transactions.FILE_ANSWERS:
            stored_file = await transactions.replay_file(runtime, institution, first.response)
            if stored_file is None:
                return _answer(refuse("NOT_FOUND", f"文件已删除 the file msgid {env.msgid} answered is gone"))
            return _file(*stored_file, replayed=True)
        return _answer(first.response, replayed=True)
    handler = transactions.TRANSACTIONS.get(env.infno)
    if handler is None:
        known = ", ".join(sorted(transactions.TRANSACTIONS))
        return _answer(refuse("UNKNOWN_INFNO", f"交易编号不支持 infno {env.infno} is not served here; served: {known}"))

    def journal_entry(outcome: transactions.Outcome) -> dict[str, Any]:
        answer = envelope.reply(region=region, received=received, output=outcome.output, warn_msg=outcome.warn_msg)
        return journal.entry(
            institution.code,
            env.msgid,
            env.infno,
            digest,
            0,
            answer,
            settlement_id=outcome.settlement_id,
            mdtrt_id=outcome.mdtrt_id,
        )

    call = transactions.Call(institution, refs, runtime, env.msgid, env.infno, env.input, digest, journal_entry)
    try:
        outcome = await handler(call)
    except DomainError as exc:
        answer = refuse(exc.code, exc.message)
        if exc.code in NOT_JOURNALED:
            return _answer(answer)
        stored = await journal.record(
            runtime.pg, journal.entry(institution.code, env.msgid, env.infno, digest, -1, answer)
        )
        return _answer(stored.response, replayed=stored.response != answer)
    if outcome.answer is not None:  # journaled with its business effect, or its replay
        return _answer(outcome.answer, replayed=outcome.replayed)
    entry = journal_entry(outcome)
    stored = await journal.record(runtime.pg, entry)
    if outcome.file is not None and stored.infcode == 0:  # a download: the journal keeps its fileinfo
        return _file(*outcome.file, replayed=stored.response != entry["response"].encode())
    return _answer(stored.response, replayed=stored.response != entry["response"].encode())


#: a 9102 download that succeeds is the file itself
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the reply envelope; for a successful 9102 download the zip itself",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}

_SUMMARY = "National envelope (国家医保接口 infno): one transaction per call"
_DESCRIPTION = (
    "Takes the national platform's envelope `{infno, msgid, fixmedins_code, input: {…}}` and answers "
    "`{infcode, inf_refmsgid, refmsg_time, respond_time, err_msg, err_code, warn_msg, output}` with HTTP 200: "
    "`infcode` 0 is success, -1 a refusal whose native code is in `err_code` (e.g. `NOT_ENROLLED`, "
    "`UNKNOWN_ITEM`, `INVALID_ENVELOPE`, `UNKNOWN_INFNO`). Authentication as for the native API (bearer "
    "institution key or signed request; failures are the native 401). `msgid` = institution code + "
    "yyyyMMddHHmmss + 4-digit sequence is the idempotency key: a repeat returns the first answer byte for byte. "
    "Transactions: 1101 1901 2001 2101 2102 2103 2201 2202 2203 2204 2205 2206 2207 2208 2301 2302 2303 2304 "
    "2305 2401 2402 2404 2405 2601 3101 3102 3201 3202 5203 5206 9101 9102 (see README, National interface). "
    "A 9102 download that succeeds is answered with the file itself (`application/zip`), a refused one with "
    "the envelope."
)


@router.post(
    "/callService",
    response_model=FsiReply,
    summary=_SUMMARY + " (single endpoint, routed by infno)",
    description=_DESCRIPTION,
    openapi_extra=_DOC,
    responses=_RESPONSES,
)
async def call_service(request: Request, institution: CurrentInstitution, refs: RefsDep, runtime: RuntimeDep) -> Any:
    return await _call(request, None, institution, refs, runtime)


@router.post(
    "/{infno}",
    response_model=FsiReply,
    summary=_SUMMARY + " (one path per infno)",
    description=_DESCRIPTION,
    openapi_extra=_DOC,
    responses=_RESPONSES,
)
async def call_infno(
    infno: str, request: Request, institution: CurrentInstitution, refs: RefsDep, runtime: RuntimeDep
) -> Any:
    return await _call(request, infno, institution, refs, runtime)
