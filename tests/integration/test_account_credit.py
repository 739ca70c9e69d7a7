"""Concurrent credits with one reference credit the account once, and every caller gets an answer."""

from __future__ import annotations

import asyncio

from tests.builders import make_person


async def test_concurrent_twins_credit_once(client, admin_headers) -> None:
    idn = await make_person(client, admin_headers, scheme="employee")
    body = {"amount": "100.00", "reference": "contrib:twins"}
    answers = await asyncio.gather(
        *(client.post(f"/api/v1/accounts/{idn}/credits", json=body, headers=admin_headers) for _ in range(8))
    )
    assert [r.status_code for r in answers] == [201] * 8, [r.text for r in answers]
    assert sorted(r.json()["created"] for r in answers) == [False] * 7 + [True]
    assert {r.json()["balance"] for r in answers if r.json()["created"]} == {"100.00"}
    again = await client.post(f"/api/v1/accounts/{idn}/credits", json=body, headers=admin_headers)
    assert again.json()["balance"] == "100.00" and again.json()["created"] is False
