"""The HTTP contract is defined once: the bytes the settle path renders (without pydantic, for
speed) are exactly what the response schemas in ``api/schemas`` document — every documented
field present, nothing undocumented, every value of its declared type."""

from __future__ import annotations

import types
import typing
from typing import Any

import httpx
from pydantic import BaseModel

from api.schemas.settlements import SettlementPage, SettlementRead
from tests.api.test_settlements import inpatient_bill
from tests.builders import idem, make_person


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None`` or ``list[X]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if (found := _model_of(arg)) is not None:
                return found
    return None


def undocumented(model: type[BaseModel], value: Any, path: str = "$") -> list[str]:
    """Every key missing from, or added to, what ``model`` documents (recursively)."""
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in undocumented(model, v, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return [f"{path}: expected an object"]
    fields = model.model_fields
    problems = [f"{path}.{k}: missing" for k in fields.keys() - value.keys()]
    problems += [f"{path}.{k}: not in the schema" for k in value.keys() - fields.keys()]
    for name, field in fields.items():
        inner = _model_of(field.annotation)
        if inner is not None and value.get(name) is not None:
            problems += undocumented(inner, value[name], f"{path}.{name}")
    return problems


def conforms(model: type[BaseModel], response: httpx.Response) -> None:
    model.model_validate_json(response.content)  # every value of its declared type
    assert undocumented(model, response.json()) == []


async def test_every_settlement_answer_is_what_its_schema_documents(client, admin_headers, hospital) -> None:
    # given an employee with an account and an inpatient bill using it
    idn = await make_person(client, admin_headers, scheme="employee", account="500.00")
    bill = inpatient_bill(idn) | {"use_personal_account": True}
    # when it is previewed, settled, replayed, read, listed and cancelled
    preview = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    key = idem()
    settled = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **key})
    replayed = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **key})
    sid = settled.json()["settlement_id"]
    read = await client.get(f"/api/v1/settlements/{sid}", headers=hospital)
    page = await client.get("/api/v1/settlements", params={"limit": 2}, headers=hospital)
    cancelled = await client.post(f"/api/v1/settlements/{sid}/cancel", headers=hospital)
    # then every answer is exactly its documented schema
    assert [r.status_code for r in (preview, settled, replayed, read, page, cancelled)] == [
        200,
        201,
        201,
        200,
        200,
        200,
    ]
    assert replayed.content == settled.content
    for answer in (preview, settled, read, cancelled):
        conforms(SettlementRead, answer)
    conforms(SettlementPage, page)
    assert settled.json()["totals"]["personal_account"] != "0.00"  # the account part is in the answer


def test_the_checker_names_an_undocumented_and_a_missing_field() -> None:
    class Inner(BaseModel):
        a: int

    class Outer(BaseModel):
        inner: list[Inner]
        note: str | None

    assert undocumented(Outer, {"inner": [{"a": 1, "b": 2}], "note": None}) == ["$.inner[0].b: not in the schema"]
    assert undocumented(Outer, {"inner": []}) == ["$.note: missing"]
