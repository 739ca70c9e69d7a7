"""Nobody reads or touches what is not theirs, on every endpoint.

1. Every staff endpoint refuses an institution key and a member token (401/403), whatever
   the path parameters — walked over the whole OpenAPI document, so a new endpoint is
   covered the day it is added.
2. Every endpoint an institution may call answers 404 for another institution's records,
   and the answer carries none of that record's data.
3. Every member endpoint answers 404 for another person's data.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.builders import idem, make_bill, make_person

#: operations open to institutions (their own records only) or to anyone (login, activation)
INSTITUTION_OPS = {
    ("POST", "/api/v1/settlements/preview"),
    ("POST", "/api/v1/settlements"),
    ("GET", "/api/v1/settlements"),
    ("POST", "/api/v1/settlements/{settlement_id}/cancel"),
    ("GET", "/api/v1/settlements/{settlement_id}"),
    ("GET", "/api/v1/payouts/orders"),
    ("GET", "/api/v1/payouts/orders/{order_id}"),
    ("GET", "/api/v1/deductions"),
    ("POST", "/api/v1/reconcile/submissions"),
    ("POST", "/api/v1/reconcile/submissions/csv"),
    ("GET", "/api/v1/reconcile/submissions/{submission_id}"),
    ("GET", "/api/v1/reconcile/dip-presettlements"),
    ("GET", "/api/v1/clearing/{year}/statements"),
    ("GET", "/api/v1/monitoring/suspects"),
    ("GET", "/api/v1/monitoring/suspects/{suspect_id}"),
    ("POST", "/api/v1/monitoring/suspects/{suspect_id}/refund"),
    ("POST", "/api/v1/monitoring/suspects/{suspect_id}/appeal"),
    ("POST", "/fsi/api/callService"),  # the national envelope: an institution's own visits only
    ("POST", "/fsi/api/{infno}"),
    # budgets: an institution reads and negotiates only its own (tests/api/test_budgets.py)
    ("GET", "/api/v1/budgets/{year}"),
    ("GET", "/api/v1/budgets/{year}/institutions/{code}/history"),
    ("POST", "/api/v1/budgets/{year}/institutions/{code}/counter"),
    ("POST", "/api/v1/budgets/{year}/institutions/{code}/accept"),
    # chronic diseases and e-prescriptions (issue #17): a hospital files a recognition for its patient;
    # prescriptions are issued, read (a pharmacy: with the pickup code) and cancelled by institutions only
    ("POST", "/api/v1/chronic-recognitions"),
    ("POST", "/api/v1/prescriptions"),
    ("GET", "/api/v1/prescriptions/{rx_id}"),
    ("POST", "/api/v1/prescriptions/{rx_id}/cancel"),
}
PUBLIC_OPS = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/me/activate"), ("GET", "/healthz")}
SAMPLE = {
    "year": "2026",
    "code": "H430522100",
    "region": "430522",
    "id_number": "430522198005170011",
    "decision": "confirm",
    "username": "someone",
    "key_id": "ybk_00000000",
    "rule_id": "bed_hogging",
}


def _staff_only_operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    ops = []
    for path, methods in spec["paths"].items():
        for method in methods:
            op = (method.upper(), path)
            if op in INSTITUTION_OPS or op in PUBLIC_OPS or path.startswith("/api/v1/me"):
                continue
            ops.append(op)
    return ops


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "1"), path)


async def _member_token(client: httpx.AsyncClient, admin: dict[str, str], idn: str) -> dict[str, str]:
    r = await client.post(f"/api/v1/persons/{idn}/activation-codes", headers=admin)
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/me/activate", json={"activation_code": r.json()["activation_code"]})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_staff_endpoints_refuse_institutions_and_members(client, admin_headers, institution_keys) -> None:
    spec = (await client.get("/openapi.json")).json()
    member = await _member_token(client, admin_headers, await make_person(client, admin_headers))
    callers = {"institution": {"Authorization": f"Bearer {institution_keys['H430522100']}"}, "member": member}
    ops = _staff_only_operations(spec)
    assert len(ops) > 30
    leaks = []
    for method, path in ops:
        for who, headers in callers.items():
            r = await client.request(method, _concrete(path), headers=headers, json={})
            if r.status_code not in (401, 403):
                leaks.append(f"{who} {method} {path} → {r.status_code}")
    assert leaks == []


async def test_member_endpoints_refuse_institutions_and_staff_tokens(client, admin_headers, institution_keys) -> None:
    spec = (await client.get("/openapi.json")).json()
    ops = [
        (m.upper(), p)
        for p, ms in spec["paths"].items()
        for m in ms
        if p.startswith("/api/v1/me") and (m.upper(), p) not in PUBLIC_OPS
    ]
    leaks = []
    for method, path in ops:
        for headers in ({"Authorization": f"Bearer {institution_keys['H430522100']}"}, admin_headers):
            r = await client.request(method, _concrete(path), headers=headers, json={})
            if r.status_code != 401:
                leaks.append(f"{method} {path} → {r.status_code}")
    assert leaks == []


@pytest.fixture
async def a_settlement(client, admin_headers, institution_keys) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    idn = await make_person(client, admin_headers)
    r = await client.post(
        "/api/v1/settlements",
        json=make_bill(idn),
        headers={"Authorization": f"Bearer {institution_keys['H430522100']}", **idem()},
    )
    assert r.status_code == 201, r.text
    return {**r.json(), "id_number": idn}


async def test_an_institution_never_sees_another_institutions_records(client, institution_keys, a_settlement) -> None:
    owner = {"Authorization": f"Bearer {institution_keys['H430522100']}"}
    other = {"Authorization": f"Bearer {institution_keys['H430522101']}"}
    sid = a_settlement["settlement_id"]
    # what the other institution did not send itself and must never learn
    secret_bits = [a_settlement["id_number"], a_settlement["visit_no"]]

    answers = [
        await client.get(f"/api/v1/settlements/{sid}", headers=other),
        await client.post(f"/api/v1/settlements/{sid}/cancel", headers=other),
    ]
    assert [r.status_code for r in answers] == [404, 404]
    listed = await client.get("/api/v1/settlements?limit=500", headers=other)
    assert listed.status_code == 200 and sid not in listed.text
    answers.append(listed)

    sub = await client.post(
        "/api/v1/reconcile/submissions",
        headers=owner,
        json={
            "month": "2026-03",
            "totals": [],
            "details": [
                {"settlement_id": sid, "scheme": "resident", "total": "1.00", "fund_pay": "0.00", "account_pay": "0.00"}
            ],
        },
    )
    assert sub.status_code == 200, sub.text
    r = await client.get(f"/api/v1/reconcile/submissions/{sub.json()['id']}", headers=other)
    assert r.status_code == 404
    answers.append(r)

    for r in answers:
        for bit in secret_bits:
            assert bit not in r.text, f"{r.request.method} {r.request.url} leaks {bit}"
    # the cancel by the other institution changed nothing
    assert (await client.get(f"/api/v1/settlements/{sid}", headers=owner)).json()["status"] == "settled"


async def test_a_member_never_sees_another_persons_data(client, admin_headers, institution_keys, a_settlement) -> None:
    stranger = await _member_token(client, admin_headers, await make_person(client, admin_headers))
    idn, sid = a_settlement["id_number"], a_settlement["settlement_id"]
    answers = [
        await client.get(f"/api/v1/me/settlements/{sid}", headers=stranger),
        await client.get(f"/api/v1/me/enrolments/2026?id_number={idn}", headers=stranger),
        await client.get(f"/api/v1/me/premiums/2026?id_number={idn}", headers=stranger),
        await client.get(f"/api/v1/me/settlements?id_number={idn}", headers=stranger),
        await client.get(f"/api/v1/me/account?id_number={idn}", headers=stranger),
    ]
    assert [r.status_code for r in answers] == [404] * len(answers), [
        (idn, str(r.request.url), r.text) for r in answers
    ]
    own = await client.get("/api/v1/me/settlements", headers=stranger)
    assert own.status_code == 200
    for r in [*answers, own]:  # the 404s echo nothing but what the caller sent
        assert a_settlement["visit_no"] not in r.text
    assert sid not in own.text and idn not in own.text
