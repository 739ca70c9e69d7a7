"""The national envelope: reading ``{infno, msgid, …, input}`` and writing
``{infcode, inf_refmsgid, refmsg_time, respond_time, err_msg, err_code, warn_msg, output}``."""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from yibao import clock
from yibao.clock import CHINA


class EnvelopeError(Exception):
    """A message that is not a well-formed envelope of this institution: answered infcode -1,
    never journaled (it has no usable msgid)."""


@dataclass(frozen=True)
class Envelope:
    infno: str
    msgid: str
    input: dict[str, Any]
    raw: dict[str, Any]


_INFNO = re.compile(r"^[0-9]{4}[A-Z]?$")


def parse(body: bytes, path_infno: str | None, institution_code: str) -> Envelope:
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise EnvelopeError("报文不是合法 JSON the request body is not JSON") from None
    if not isinstance(raw, dict):
        raise EnvelopeError("报文须为 JSON 对象 the envelope must be a JSON object")
    infno = raw.get("infno")
    if infno is None and path_infno is not None:
        infno = path_infno
    if not isinstance(infno, str) or not _INFNO.match(infno):
        raise EnvelopeError(f"交易编号无效 infno must be a 4-digit transaction code, got {infno!r}")
    if path_infno is not None and infno != path_infno:
        raise EnvelopeError(f"交易编号不一致 infno {infno!r} in the body differs from {path_infno!r} in the URL")
    msgid = raw.get("msgid")
    if not isinstance(msgid, str) or not msgid:
        raise EnvelopeError("缺少报文ID missing msgid")
    check_msgid(msgid, institution_code)
    fixmedins = raw.get("fixmedins_code")
    if fixmedins not in (None, "", institution_code):
        raise EnvelopeError(
            f"机构编码不符 fixmedins_code {fixmedins!r} is not the institution of these credentials "
            f"({institution_code})"
        )
    payload = raw.get("input")
    if not isinstance(payload, dict):
        raise EnvelopeError("缺少输入 input must be a JSON object holding the transaction's node")
    return Envelope(infno, msgid, payload, raw)


def check_msgid(msgid: str, institution_code: str) -> None:
    """``msgid`` = institution code + ``yyyyMMddHHmmss`` + 4-digit sequence (30 characters with
    the national 12-character codes)."""
    stamp, seq = msgid[len(institution_code) : -4], msgid[-4:]
    layout = (
        f"报文ID格式错误 msgid must be the institution code {institution_code} + yyyyMMddHHmmss + a 4-digit sequence"
    )
    if not msgid.startswith(institution_code) or len(stamp) != 14 or not stamp.isdigit() or not seq.isdigit():
        raise EnvelopeError(layout)
    try:
        datetime.strptime(stamp, "%Y%m%d%H%M%S")
    except ValueError:
        raise EnvelopeError(layout + f": {stamp} is not a time") from None


_serial = itertools.count(1)


def _stamp(at: datetime) -> str:
    local = at.astimezone(CHINA)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def reply(
    *,
    region: str,
    received: datetime,
    output: dict[str, Any] | None,
    err_code: str | None = None,
    err_msg: str | None = None,
    warn_msg: str | None = None,
) -> bytes:
    now = clock.now()
    refmsgid = (
        region[:6].ljust(6, "0")
        + now.astimezone(CHINA).strftime("%Y%m%d%H%M%S")
        + f"{os.getpid() % 1000:03d}{next(_serial) % 10**7:07d}"
    )
    return orjson.dumps(
        {
            "infcode": -1 if err_code else 0,
            "inf_refmsgid": refmsgid,
            "refmsg_time": _stamp(received),
            "respond_time": _stamp(now),
            "err_msg": err_msg,
            "err_code": err_code,
            "warn_msg": warn_msg,
            "output": output if output is not None else {},
        },
        default=_exact_number,
    )


def _exact_number(value: object) -> orjson.Fragment:
    """Amounts, counts and ratios are ``Decimal``: written as JSON numbers with their own digits
    (``12.30``), never through a float."""
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value).encode())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
