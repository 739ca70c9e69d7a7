"""The OpenAPI document is the bureau staff's manual: real response schemas, the error codes
each status carries with their real messages, required headers marked required."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from api.errors import STATUS


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_no_json_operation_is_documented_as_a_bare_string(spec) -> None:  # type: ignore[no-untyped-def]
    bare = []
    for method, path, op in _operations(spec):
        for status, response in op["responses"].items():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if status.startswith("2") and schema is not None and schema in ({"type": "string"}, {}):
                bare.append(f"{method.upper()} {path} {status}")
    assert bare == []
    assert len(_operations(spec)) >= 70  # the check saw the whole API


def test_each_error_status_shows_the_codes_it_carries_with_their_messages(spec) -> None:  # type: ignore[no-untyped-def]
    _, _, settle = next(o for o in _operations(spec) if o[:2] == ("post", "/api/v1/settlements"))
    for status in ("400", "404", "409", "422"):
        examples = settle["responses"][status]["content"]["application/json"]["examples"]
        assert set(examples) == {code for code, s in STATUS.items() if str(s) == status}
        for code, example in examples.items():
            error = example["value"]["error"]
            assert error["code"] == code and error["message"] != code  # a real message, not the code again
    assert "NOT_ENROLLED" in settle["responses"]["422"]["content"]["application/json"]["examples"]
    assert "PERSON_NOT_FOUND" not in settle["responses"]["409"]["content"]["application/json"]["examples"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/settlements"),
        ("post", "/api/v1/me/premiums/payments"),
        ("post", "/api/v1/payouts/prepayments"),
    ],
)
def test_idempotency_key_is_documented_as_required(spec, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    op = spec["paths"][path][method]
    (key,) = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header" and key["required"] is True


def test_the_registration_example_is_a_living_person(spec) -> None:  # type: ignore[no-untyped-def]
    schema = spec["components"]["schemas"]["PersonCreate"]
    (example,) = schema["examples"]
    assert "death_date" not in example and example["region"] == "430522"


async def test_a_missing_idempotency_key_names_the_header(client, hospital) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/v1/settlements", json={}, headers=hospital)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "INVALID_REQUEST"
    assert "the Idempotency-Key header is required" in r.json()["error"]["message"]


async def test_malformed_json_says_where_and_no_content_type_says_what(client, admin_headers) -> None:  # type: ignore[no-untyped-def]
    broken = await client.post(
        "/api/v1/persons",
        content=b'{\n  "name": "\xe5\xbc\xa0\xe4\xb8\x89",\n  "region": 430522,\n}',
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert "malformed JSON at line 4, column 1" in broken.json()["error"]["message"]
    untyped = await client.post("/api/v1/persons", content=b'{"name": "x"}', headers=admin_headers)
    assert untyped.status_code == 400
    assert "Content-Type: application/json" in untyped.json()["error"]["message"]


async def test_an_error_body_carries_the_request_id_of_its_header(client, admin_headers) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/api/v1/persons/430522199001011235", headers=admin_headers)
    assert r.status_code == 404
    assert r.json()["error"]["request_id"] == r.headers["X-Request-ID"]
