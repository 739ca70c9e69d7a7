"""Every job kind: which service's worker runs it, which staff roles may start it, and the
parameters it takes.

Adding a job = one line here + a handler in that service's ``jobs.py``.

Parameters are checked when a run is requested, before anything is stored (:func:`check_params`):
every value must survive the JSONB column, the audit entry and the JSON answer unchanged (no
floats, integers within ±2^53, bounded strings, lists and nesting), and a kind that declares its
parameters takes only those, of their type and range. A run that can never succeed, or whose
row could not be answered, is a 400 with nothing written, not a queued run that fails later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from yibao.errors import Forbidden, InvalidRequest

ParamType = Literal["date", "year", "month", "id", "flag", "region", "names", "parallelism"]


@dataclass(frozen=True)
class Param:
    type: ParamType
    required: bool = True


@dataclass(frozen=True)
class JobKind:
    service: str  # "settlement" or "monitor": the worker queue that runs it
    roles: tuple[str, ...]  # who may start it by hand (admin always may)
    summary: str
    #: the parameters it takes (``None``: any JSON-safe parameters, checked by the handler)
    params: Mapping[str, Param] | None = field(default=None)


_YEAR = Param("year")
_REGION = Param("region", required=False)

KINDS: dict[str, JobKind] = {
    "daily_settle": JobKind(
        "settlement", ("finance",), "日结算 daily settle of one date: {date}", {"date": Param("date")}
    ),
    "monthly_reconcile": JobKind(
        "settlement",
        ("finance",),
        "月核算 reconcile one submitted month: {submission_id}",
        {"submission_id": Param("id")},
    ),
    "dip_presettle": JobKind(
        "settlement",
        ("finance",),
        "DIP 月预结算 monthly pre-settlement: {year}, {month}",
        {"year": _YEAR, "month": Param("month"), "region": _REGION},
    ),
    "year_end_clearing": JobKind(
        "settlement",
        ("finance",),
        "年清算 DIP year-end clearing: {year}, {commit}",
        {"year": _YEAR, "commit": Param("flag", required=False), "region": _REGION},
    ),
    "year_rollover": JobKind(
        "settlement", ("finance",), "年度结转 close a year, compute incentives: {year}", {"year": _YEAR}
    ),
    "chronic_rereview": JobKind(
        "settlement",
        ("clerk",),
        "门慢门特复审 expire lapsed recognitions, list those due for re-review: {date}",
        {"date": Param("date")},
    ),
    "fiscal_subsidy": JobKind(
        "settlement",
        ("finance",),
        "财政补助 book a month's fiscal subsidy due from the treasury: {year}, {month}",
        {"year": _YEAR, "month": Param("month"), "region": _REGION},
    ),
    "monitor_sweep": JobKind(
        "monitor",
        ("inspector",),
        "夜间监控 run post-settlement models: {date_from}, {date_to}",
        {
            "date_from": Param("date"),
            "date_to": Param("date"),
            "models": Param("names", required=False),
            "parallelism": Param("parallelism", required=False),
        },
    ),
    # run inline by their own endpoint (the file is the request), recorded here for progress,
    # result and idempotency on the file's SHA-256; never started through POST /jobs
    "death_registry": JobKind("inline", ("clerk",), "死亡信息比对 death registry file {sha256}"),
    "group_feed": JobKind("inline", ("clerk",), "特殊人群比对 group feed {group} {region} {feed_date}"),
    "monitor_alerts": JobKind(
        "monitor",
        ("inspector",),
        "预警 return-to-poverty, fund health: {year}, {month}",
        {"year": _YEAR, "month": Param("month")},
    ),
}


def authorize(kind: str, role: str) -> JobKind:
    """The kind, if it exists and ``role`` may start it by hand (admin always may)."""
    found = KINDS.get(kind)
    if found is None:
        raise InvalidRequest(f"unknown job kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    if role != "admin" and role not in found.roles:
        raise Forbidden(f"需要角色 {'/'.join(found.roles)} job {kind} needs role {found.roles}")
    return found


def topic_for(service: str) -> str:
    return f"job.{service}"


def params_of(kind: JobKind) -> dict[str, str] | None:
    """What a kind takes, for the listing of kinds: name → type (``?``: optional)."""
    if kind.params is None:
        return None
    return {name: p.type + ("" if p.required else "?") for name, p in kind.params.items()}


# ---------------------------------------------------------------- parameters

#: the years a job may name: the policy years
FIRST_YEAR, LAST_YEAR = 2000, 2100
#: integers JSON carries exactly everywhere (JavaScript, JSONB, orjson): ±(2^53 − 1)
MAX_JSON_INT = 2**53 - 1
_MAX_STRING, _MAX_ITEMS, _MAX_DEPTH = 200, 100, 4
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_REGION_CODE = re.compile(r"\d{6}")
_FLAGS = ("true", "false", "1", "0")  # as strings; JSON true/false and 1/0 too


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(f"作业参数无效 invalid job params: {message}")


def _json_safe(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what would not come back unchanged from the JSONB column, the audit entry and the
    answer: floats (1e16 comes back an integer, 1e20 cannot be answered), integers beyond ±2^53,
    and unbounded strings, lists or nesting."""
    if depth > _MAX_DEPTH:
        raise _bad(f"{where} is nested too deeply")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_JSON_INT:
            raise _bad(f"{where} is beyond ±{MAX_JSON_INT}")
        return
    if isinstance(value, float):
        raise _bad(f"{where} is a fractional or exponent number; job params take integers and strings")
    if isinstance(value, str):
        if len(value) > _MAX_STRING or "\x00" in value:
            raise _bad(f"{where} is longer than {_MAX_STRING} characters or holds a NUL")
        return
    if isinstance(value, list | dict):
        if len(value) > _MAX_ITEMS:
            raise _bad(f"{where} has more than {_MAX_ITEMS} items")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and (len(key) > 64 or "\x00" in key):
                raise _bad(f"a key of {where} is longer than 64 characters or holds a NUL")
            _json_safe(item, f"{where}.{key}", depth + 1)
        return
    raise _bad(f"{where} is not a JSON value")


def _integer(value: Any, name: str, low: int, high: int) -> int:
    """An integer (or a string of ASCII digits, as the handlers always took) from low to high."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"{name} must be an integer from {low} to {high}")
    return value


def _day(value: Any, name: str) -> date:
    if not (isinstance(value, str) and value.isascii() and _DATE.fullmatch(value)):
        raise _bad(f"{name} must be a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _bad(f"{name} must be a date YYYY-MM-DD") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise _bad(f"{name} must be from {FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31")
    return day


def _check(spec: Param, value: Any, name: str) -> None:
    match spec.type:
        case "date":
            _day(value, name)
        case "year":
            _integer(value, name, FIRST_YEAR, LAST_YEAR)
        case "month":
            _integer(value, name, 1, 12)
        case "id":
            _integer(value, name, 1, MAX_JSON_INT)
        case "parallelism":
            _integer(value, name, 1, 8)
        case "flag":
            is_flag = isinstance(value, bool) or (type(value) is int and value in (0, 1)) or value in _FLAGS
            if not is_flag:
                raise _bad(f"{name} must be true or false")
        case "region":
            if not (isinstance(value, str) and value.isascii() and _REGION_CODE.fullmatch(value)):
                raise _bad(f"{name} must be a 6-digit pooling region code")
        case "names":
            if not (isinstance(value, list) and all(isinstance(v, str) and 0 < len(v) <= 40 for v in value)):
                raise _bad(f"{name} must be a list of names")


def check_params(kind: str, params: Mapping[str, Any]) -> None:
    """Refuse parameters the kind cannot take (``INVALID_REQUEST``, naming the first problem)."""
    _json_safe(dict(params), "params")
    declared = KINDS[kind].params
    if declared is None:
        return
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise _bad(f"{kind} takes {', '.join(sorted(declared))}; not {', '.join(unknown)}")
    for name, spec in declared.items():
        if name not in params:
            if spec.required:
                raise _bad(f"{kind} needs {name}")
            continue
        _check(spec, params[name], name)
    if kind == "monitor_sweep" and _day(params["date_from"], "date_from") > _day(params["date_to"], "date_to"):
        raise _bad("date_to is before date_from")
