"""Refusals: the right code, the right status, and nothing written."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.builders import idem, line, make_bill, make_person, new_id_number


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


async def test_no_credentials(client) -> None:
    r = await client.post("/api/v1/settlements", json={})
    assert r.status_code == 401 and code(r) == "UNAUTHENTICATED"
    r = await client.get("/api/v1/settlements", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and code(r) == "UNAUTHENTICATED"


async def test_admin_endpoints_need_a_staff_token(client, hospital) -> None:
    r = await client.post("/api/v1/persons", json={}, headers=hospital)
    assert r.status_code == 401 and code(r) == "UNAUTHENTICATED"


async def test_invalid_id_number(client, hospital, admin_headers) -> None:
    bad = "430522199001011234"
    r = await client.post("/api/v1/settlements", json=make_bill(bad), headers={**hospital, **idem()})
    assert r.status_code == 400 and code(r) == "INVALID_ID_NUMBER"
    r = await client.post(
        "/api/v1/persons", json={"id_number": bad, "name": "x", "region": "430522"}, headers=admin_headers
    )
    assert r.status_code == 400 and code(r) == "INVALID_ID_NUMBER"


async def test_person_not_found(client, hospital) -> None:
    r = await client.post("/api/v1/settlements", json=make_bill(new_id_number()), headers={**hospital, **idem()})
    assert r.status_code == 404 and code(r) == "PERSON_NOT_FOUND"


async def test_not_enrolled(client, hospital, admin_headers) -> None:
    idn = await make_person(client, admin_headers, year=2025)
    r = await client.post("/api/v1/settlements", json=make_bill(idn), headers={**hospital, **idem()})
    assert r.status_code == 422 and code(r) == "NOT_ENROLLED"


async def test_deceased(client, hospital, admin_headers) -> None:
    idn = await make_person(client, admin_headers, death_date="2026-02-01")
    r = await client.post("/api/v1/settlements", json=make_bill(idn), headers={**hospital, **idem()})
    assert r.status_code == 422 and code(r) == "PERSON_DECEASED"


async def test_institution_not_active(client, institution_keys, admin_headers) -> None:
    idn = await make_person(client, admin_headers)
    suspended = {"Authorization": f"Bearer {institution_keys['H430522200']}"}
    r = await client.post("/api/v1/settlements", json=make_bill(idn), headers={**suspended, **idem()})
    assert r.status_code == 403 and code(r) == "INSTITUTION_NOT_ACTIVE"


async def test_unknown_item(client, hospital, admin_headers) -> None:
    idn = await make_person(client, admin_headers)
    r = await client.post(
        "/api/v1/settlements", json=make_bill(idn, [line("X-NOPE", "1", "1.00")]), headers={**hospital, **idem()}
    )
    assert r.status_code == 422 and code(r) == "UNKNOWN_ITEM"


async def test_trace_code_settled_once_ever(client, hospital, admin_headers, institution_keys) -> None:
    idn = await make_person(client, admin_headers)
    box = f"8{secrets.token_hex(9)}"
    drug = [line("D-AMOX-250", "1", "10.00", trace_codes=[box], days_supply=3)]
    pharmacy = {"Authorization": f"Bearer {institution_keys['P430522500']}"}
    first = await client.post(
        "/api/v1/settlements", json=make_bill(idn, drug, visit_type="pharmacy"), headers={**pharmacy, **idem()}
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        "/api/v1/settlements", json=make_bill(idn, drug, visit_type="pharmacy"), headers={**hospital, **idem()}
    )
    assert again.status_code == 409 and code(again) == "TRACE_CODE_ALREADY_SETTLED"
    preview = await client.post(
        "/api/v1/settlements/preview", json=make_bill(idn, drug, visit_type="pharmacy"), headers=hospital
    )
    assert preview.status_code == 409 and code(preview) == "TRACE_CODE_ALREADY_SETTLED"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["lines"][0].update(quantity="0"),
        lambda b: b["lines"][0].update(quantity="-1"),
        lambda b: b["lines"][0].update(unit_price="1.001"),
        lambda b: b["lines"][0].update(unit_price="abc"),
        lambda b: b.update(visit_type="dental"),
        lambda b: b.update(lines=[]),
        lambda b: b.update(service_date="2026-02-30"),
        lambda b: b.update(admitted_on="2026-03-01"),
        lambda b: b.update(unexpected_field=1),
    ],
)
async def test_malformed_bill_is_invalid_request(client, hospital, admin_headers, mutate) -> None:
    idn = await make_person(client, admin_headers)
    bill = make_bill(idn)
    mutate(bill)
    r = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST", r.text
    assert r.json()["error"]["message"]


async def test_missing_idempotency_key(client, hospital, admin_headers) -> None:
    idn = await make_person(client, admin_headers)
    r = await client.post("/api/v1/settlements", json=make_bill(idn), headers=hospital)
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST"


async def test_refused_bill_writes_nothing(client, hospital, admin_headers, sessionmaker) -> None:
    from sqlalchemy import func, select

    from yibao.bill_settlement.orm import IdempotencyKeyRow, SettlementRow

    idn = await make_person(client, admin_headers)
    key = idem()
    bill = make_bill(idn, [line("S-BLRT", "1", "20.00"), line("X-NOPE", "1", "1.00", no=2)])
    r = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **key})
    assert r.status_code == 422
    async with sessionmaker() as s:
        n = await s.scalar(select(func.count()).select_from(SettlementRow).where(SettlementRow.id_number == idn))
        k = await s.scalar(
            select(func.count()).select_from(IdempotencyKeyRow).where(IdempotencyKeyRow.key == key["Idempotency-Key"])
        )
    assert n == 0 and k == 0


async def test_duplicates_are_409(client, admin_headers) -> None:
    idn = await make_person(client, admin_headers)
    r = await client.post(
        "/api/v1/persons", json={"id_number": idn, "name": "again", "region": "430522"}, headers=admin_headers
    )
    assert r.status_code == 409 and code(r) == "DUPLICATE"
    r = await client.post(
        "/api/v1/enrolments",
        json={"id_number": idn, "scheme": "resident", "year": 2026, "coverage_start": "2026-01-01"},
        headers=admin_headers,
    )
    assert r.status_code == 409


async def test_unknown_settlement_is_404(client, hospital) -> None:
    for sid in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        r = await client.get(f"/api/v1/settlements/{sid}", headers=hospital)
        assert r.status_code == 404 and code(r) == "NOT_FOUND"


async def test_unstorable_characters_are_a_400_not_a_500(client, admin_headers) -> None:
    from tests.builders import new_id_number

    r = await client.post(
        "/api/v1/persons",
        headers=admin_headers,
        json={"id_number": new_id_number(), "name": "张\u0000三", "region": "430522"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_REQUEST"


async def test_the_server_process_freezes_startup_objects_out_of_the_collectors_way(settings) -> None:  # type: ignore[no-untyped-def]
    """A full collection would otherwise walk ~160k startup objects (140 ms) mid-request."""
    import gc

    from api.app import create_app

    application = create_app(settings.model_copy(update={"run_outbox_relay": False}), freeze_gc=True)
    try:
        async with application.router.lifespan_context(application):
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
