"""Hostile numbers and dates at every place of every operation of the OpenAPI, as an institution,
a member and an admin: not one 5xx (#14.1).

Where the schemathesis run (``test_fuzz.py``) samples at random, this one is exhaustive and
deterministic: from each operation's example (or a minimal body built from its schema) it sends
one request per (place, hostile value), each place being a path or query parameter or a number,
date, amount or ID number in the body, and each hostile value one of: huge (2^63, 10^30, 1e20,
1e308), negative, fractional, NaN/Infinity, year 1, 0 and 9999, an impossible day, fullwidth and
Arabic-Indic digits. An operation a caller may not use answers 401/403 to its first request and
is not walked further for that caller.

Isolation: it runs in-process (ASGI) against a database of its own (created, migrated, loaded
with the reference data, dropped) with rate limits off, so a hostile value the API rightly
accepts writes nothing another test could see. Bounded: a few thousand requests, well under a
minute on the 2-core CI machine (the figures are printed).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.conftest import _load_reference
from yibao.config import Settings
from yibao.db import admin
from yibao.people.id_number import make

pytestmark = pytest.mark.slow

ID = make("43052219900101123")
FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

#: hostile values by the kind of place they go to
NUMBERS: list[Any] = [-1, 0, 1.5, 2**31, 2**63, 10**30, -(10**30), 1e20, 1e308, "１２", "1e20", None]
AMOUNTS: list[Any] = [
    "-0.01",
    "0.001",
    "1e20",
    "999999999999.99",
    "9999999999.9999",
    "9" * 20 + ".99",
    "1" + "0" * 30,
    "４０.００",
    "NaN",
    "Infinity",
    1e20,
]
#: what each amount or quantity becomes in the one request per body that puts them all at once at
#: the top of what their own schema allowed (each fine alone, their product or sum is not)
TOP_AMOUNT, TOP_QUANTITY = "999999999999.99", "9999999999.9999"
DATES: list[Any] = [
    "0001-01-01",
    "9999-12-31",
    "1899-12-31",
    "2101-01-01",
    "２０２６-０３-０８",
    "2026-02-30",
    20260308,
]
MONTHS: list[Any] = ["9999-12", "0000-01", "2026-13", "２０２６-０３", "1899-12"]
IDS: list[Any] = [ID.translate(FULLWIDTH), ID.translate(ARABIC_INDIC), ID[:17] + "x", "4" * 18]
STRINGS: list[Any] = ["-1", "1e20", "1" + "0" * 30, "０", "9999-12-31", "0001-01-01"]
#: what a text field gets: numbers where words were expected, a NUL, far too long, a number as JSON
TEXTS: list[Any] = ["1e20", "-1", "٣", "a\x00b", "x" * 5000, 10**30]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_AMOUNT = re.compile(r"^\d+\.\d{2}$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?$")
_ID = re.compile(r"^\d{17}[\dX]$")


def hostile_for(value: Any, schema: dict[str, Any] | None = None) -> list[Any]:
    """The hostile values for a place holding ``value`` (typed by ``schema`` where known)."""
    kinds = _types(schema or {})
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float) or kinds & {"integer", "number"}:
        return NUMBERS
    if isinstance(value, str):
        if _DATE.match(value) or "date" in kinds:
            return DATES
        if _MONTH.match(value):
            return MONTHS
        if _ID.match(value):
            return IDS
        if _AMOUNT.match(value) or _QUANTITY.match(value):
            return AMOUNTS
        return TEXTS
    return []


def _types(schema: dict[str, Any]) -> set[str]:
    found = {schema.get("type", ""), schema.get("format", "")}
    for option in schema.get("anyOf", []):
        found |= _types(option)
    return found - {""}


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, Any]
    body: Any
    where: str  # which place holds the hostile value, for the failure message


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _minimal(spec: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> Any:
    """A plausible value for a schema with no example: its example, else the simplest value."""
    schema = _resolve(spec, schema)
    if "examples" in schema:
        return copy.deepcopy(schema["examples"][0])
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if "anyOf" in schema:
        some = _resolve(spec, next(s for s in schema["anyOf"] if s.get("type") != "null"))
        if len(schema["anyOf"]) > 1 and some.get("type") == "string" and "format" not in some:
            return None  # an optional text (a dedup key, a payer): absent, as most callers send it
        return _minimal(spec, some, depth)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" and depth < 4:
        # every property, optional ones too, so an optional number or date has a place to vary
        return {k: _minimal(spec, v, depth + 1) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_minimal(spec, schema.get("items", {}), depth + 1)] if schema.get("minItems") else []
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return "2026-03-08"
    return "x"


def _body_example(spec: dict[str, Any], op: dict[str, Any]) -> Any:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    for named in content.get("examples", {}).values():
        return copy.deepcopy(named["value"])
    if "example" in content:
        return copy.deepcopy(content["example"])
    return _minimal(spec, content["schema"])


def _leaves(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:2]):  # two lines of a bill are enough to reach the line checks
            yield from _leaves(v, (*at, i))
    else:
        yield at, value


def _at_the_top(body: Any) -> Any | None:
    """Every amount and quantity of the body at the top of its range at once, or ``None``."""
    top, changed = copy.deepcopy(body), False
    for at, value in _leaves(body):
        if isinstance(value, str) and not _ID.match(value) and (_AMOUNT.match(value) or _QUANTITY.match(value)):
            top, changed = _replaced(top, at, TOP_AMOUNT if _AMOUNT.match(value) else TOP_QUANTITY), True
    return top if changed else None


def _free_form(spec: dict[str, Any], schema: dict[str, Any], at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where the body takes any keys (``params`` of a job, a rule's ``params``): a hostile number
    can arrive under a key no one declared."""
    schema = _resolve(spec, schema)
    for option in schema.get("anyOf", []):
        yield from _free_form(spec, option, at)
    if schema.get("type") == "object" and not schema.get("properties") and schema.get("additionalProperties", True):
        yield at
    for key, sub in schema.get("properties", {}).items():
        yield from _free_form(spec, sub, (*at, key))


def _with_key(body: Any, at: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(body)
    target = out
    for key in at:
        target = target.setdefault(key, {}) if isinstance(target, dict) else target[key]
    if not isinstance(target, dict):
        return None
    target["x"] = value
    return out


def _replaced(body: Any, at: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(body)
    target = out
    for key in at[:-1]:
        target = target[key]
    target[at[-1]] = value
    return out


def calls(spec: dict[str, Any]) -> Iterator[tuple[str, list[Call]]]:
    """Per operation (``METHOD path``): one request per (place, hostile value)."""
    for path, item in sorted(spec["paths"].items()):
        for method, op in sorted(item.items()):
            params = [p for p in op.get("parameters", []) if p["in"] in ("path", "query")]
            base_path = {p["name"]: _minimal(spec, p["schema"]) for p in params if p["in"] == "path"}
            base_query = {
                p["name"]: _minimal(spec, p["schema"]) for p in params if p["in"] == "query" and p["required"]
            }
            body = _body_example(spec, op)
            out: list[Call] = []

            def url(values: dict[str, Any], path: str = path) -> str:
                return re.sub(r"\{(\w+)\}", lambda m: quote(str(values[m.group(1)]), safe=""), path)

            for p in params:
                base = base_path if p["in"] == "path" else base_query
                choices = hostile_for(base.get(p["name"]), p["schema"]) or STRINGS
                for bad in choices:
                    if bad is None and p["in"] == "path":
                        continue
                    if p["in"] == "path":
                        out.append(
                            Call(method, url({**base_path, p["name"]: bad}), base_query, body, f"{p['name']}={bad!r}")
                        )
                    else:
                        query = {**base_query, p["name"]: bad} if bad is not None else base_query
                        out.append(Call(method, url(base_path), query, body, f"?{p['name']}={bad!r}"))
            if body is not None:
                if (top := _at_the_top(body)) is not None:
                    out.append(Call(method, url(base_path), base_query, top, "every amount and quantity at the top"))
                for at, value in _leaves(body):
                    for bad in hostile_for(value):
                        where = ".".join(map(str, at)) + f"={bad!r}"
                        out.append(Call(method, url(base_path), base_query, _replaced(body, at, bad), where))
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                for at in _free_form(spec, schema):
                    for bad in NUMBERS:
                        if (extra := _with_key(body, at, bad)) is not None:
                            where = ".".join(map(str, (*at, "x"))) + f"={bad!r}"
                            out.append(Call(method, url(base_path), base_query, extra, where))
            if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
                out += list(_multipart(method, url(base_path)))
            if out:
                yield f"{method.upper()} {path}", out


def _multipart(method: str, path: str) -> Iterator[Call]:
    """The CSV upload of a month: hostile month, totals and detail amounts."""
    totals = [{"scheme": "resident", "count": 0, "total": "0.00", "fund_pay": "0.00", "account_pay": "0.00"}]
    for bad in MONTHS:
        yield Call(method, path, {}, {"month": bad, "totals": json.dumps(totals), "csv": ""}, f"month={bad!r}")
    for bad in NUMBERS:
        raw = json.dumps([{**totals[0], "count": bad}])
        yield Call(method, path, {}, {"month": "2026-03", "totals": raw, "csv": ""}, f"totals.count={bad!r}")
    for bad in AMOUNTS:
        row = f"x,resident,{bad},0.00,0.00\n"
        yield Call(method, path, {}, {"month": "2026-03", "totals": "[]", "csv": row}, f"csv total={bad!r}")


# ---------------------------------------------------------------- the private system


@dataclass
class System:
    client: httpx.AsyncClient
    callers: dict[str, dict[str, str]]


@pytest_asyncio.fixture(scope="module")
async def system(settings: Settings) -> AsyncIterator[System]:
    from api.app import create_app
    from yibao.auth.tokens import create_institution_key, create_staff_token

    run = secrets.token_hex(4)
    own = settings.model_copy(
        update={
            "database_url": settings.database_url.rsplit("/", 1)[0] + f"/yibao_hostile_{run}",
            "broker_namespace": f"{settings.broker_namespace}-hostile-{run}",
            "rate_limit_enabled": False,
        }
    )
    await admin.create_database(own.database_url)
    try:
        await asyncio.to_thread(admin.upgrade, own.database_url)
        await _load_reference(own)
        app: FastAPI = create_app(own)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://hostile") as client:
                async with app.state.runtime.sessionmaker() as s, s.begin():
                    staff = await create_staff_token(s, "admin", "hostile-admin")
                    key = await create_institution_key(s, "H430522100")
                admin_h = {"Authorization": f"Bearer {staff}"}
                member_h = await _member(client, admin_h)
                yield System(
                    client,
                    {"institution": {"Authorization": f"Bearer {key}"}, "member": member_h, "admin": admin_h},
                )
    finally:
        await admin.drop_database(own.database_url)


async def _member(client: httpx.AsyncClient, admin_h: dict[str, str]) -> dict[str, str]:
    """The example's person (so the examples' ID is someone here), enrolled, with the app."""
    r = await client.post(
        "/api/v1/persons", json={"id_number": ID, "name": "张三", "region": "430522"}, headers=admin_h
    )
    assert r.status_code == 201, r.text
    body = {"id_number": ID, "scheme": "resident", "year": 2026, "coverage_start": "2026-01-01"}
    assert (await client.post("/api/v1/enrolments", json=body, headers=admin_h)).status_code == 201
    code = (await client.post(f"/api/v1/persons/{ID}/activation-codes", headers=admin_h)).json()["activation_code"]
    token = (await client.post("/api/v1/me/activate", json={"activation_code": code})).json()["token"]
    return {"Authorization": f"Bearer {token}"}


_keys = itertools.count(1)


async def _send(client: httpx.AsyncClient, call: Call, headers: dict[str, str]) -> httpx.Response:
    headers = {**headers, "Idempotency-Key": f"hostile-{next(_keys)}"}  # a fresh key: no replays
    if isinstance(call.body, dict) and "csv" in call.body:
        form = {k: v for k, v in call.body.items() if k != "csv"}
        files = {"details": ("d.csv", f"settlement_id,scheme,total,fund_pay,account_pay\n{call.body['csv']}")}
        return await client.request(call.method, call.path, params=call.params, data=form, files=files, headers=headers)
    if call.body is None:
        return await client.request(call.method, call.path, params=call.params, headers=headers)
    content = json.dumps(call.body, allow_nan=True).encode()  # NaN/Infinity as a careless client sends them
    headers["content-type"] = "application/json"
    return await client.request(call.method, call.path, params=call.params, content=content, headers=headers)


async def test_no_hostile_number_or_date_produces_a_server_error(system: System) -> None:
    spec = (await system.client.get("/openapi.json")).json()
    operations = list(calls(spec))
    sent, failures, began = 0, [], time.perf_counter()
    statuses: Counter[tuple[str, int]] = Counter()
    for caller, headers in system.callers.items():
        for name, requests in operations:
            if name == "POST /api/v1/me/logout":  # would end the member's session for the rest
                continue
            for i, call in enumerate(requests):
                r = await _send(system.client, call, headers)
                sent += 1
                statuses[(caller, r.status_code)] += 1
                if r.status_code >= 500:
                    failures.append(f"{caller} {name} [{call.where}] → {r.status_code} {r.text[:200]}")
                if i == 0 and r.status_code in (401, 403):
                    break  # not this caller's operation: every further request is refused alike
    # and afterwards every listing still answers (one stored row it cannot render broke them all)
    for caller, headers in system.callers.items():
        for path, item in spec["paths"].items():
            if (
                "get" in item
                and "{" not in path
                and not any(p.get("required") for p in item["get"].get("parameters", []))
            ):
                r = await system.client.get(path, headers=headers)
                sent += 1
                if r.status_code >= 500:
                    failures.append(f"{caller} GET {path} after the run → {r.status_code} {r.text[:200]}")
    seconds = time.perf_counter() - began
    print(
        f"\nhostile OpenAPI fuzz: {len(operations)} operations, {sent} requests, {len(failures)} 5xx, {seconds:.1f} s"
    )
    print("answers by caller and status:", dict(sorted(statuses.items())))
    assert sent > 1500, sent
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"
