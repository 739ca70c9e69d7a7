"""Staff search of the register (issue #16 item 2): ``GET /api/v1/persons`` by ID number (whole,
prefix, masked), name, region, group held today, enrolment year and death; keyset pages and CSV;
ID numbers whole for clerks, masked for other roles.

Each test searches within a pooling region of its own (``own_region``), so what it finds is its own.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest_asyncio

from tests.builders import register_person
from tests.settlement.helpers import own_region
from yibao.people.id_number import mask


@pytest_asyncio.fixture(scope="module")
async def roles(sessionmaker) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from yibao.auth.tokens import create_staff_token

    out = {}
    for role in ("clerk", "inspector"):
        async with sessionmaker() as s, s.begin():
            out[role] = {"Authorization": f"Bearer {await create_staff_token(s, role, f'{role}-search')}"}
    return out


async def search(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/persons", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_staff_find_people_by_every_filter(client, admin_headers, roles, sessionmaker) -> None:
    # given: in a region of this test: 欧阳甲 (低保, enrolled 2026), 欧阳乙 (deceased), 司马丙
    region = await own_region(sessionmaker, 2026)
    a = await register_person(client, admin_headers, region=region, name="欧阳甲")
    b = await register_person(client, admin_headers, region=region, name="欧阳乙", death_date="2026-05-01")
    c = await register_person(client, admin_headers, region=region, name="司马丙")
    r = await client.post(
        f"/api/v1/persons/{a}/groups", json={"group": "min_living", "valid_from": "2026-01-01"}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/enrolments",
        json={"id_number": a, "scheme": "resident", "year": 2026, "coverage_start": "2026-01-01"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    clerk = roles["clerk"]

    def ids(page: dict[str, Any]) -> list[str]:
        return [p["id_number"] for p in page["items"]]

    # then
    assert ids(await search(client, clerk, region=region)) == [a, b, c]
    assert ids(await search(client, clerk, region=region, name="欧阳")) == [a, b]
    assert ids(await search(client, clerk, region=region, q="司马")) == [c]
    assert ids(await search(client, clerk, q=a)) == [a]
    assert ids(await search(client, clerk, q=mask(b))) == [b]
    assert ids(await search(client, clerk, region=region, group="min_living")) == [a]
    assert ids(await search(client, clerk, region=region, enrolled_in=2026)) == [a]
    assert ids(await search(client, clerk, region=region, deceased="true")) == [b]
    assert ids(await search(client, clerk, region=region, deceased="false")) == [a, c]
    found = (await search(client, clerk, q=a))["items"][0]
    assert (found["name"], found["groups"], found["death_date"]) == ("欧阳甲", ["min_living"], None)
    # and: keyset pages walk every row once
    first = await search(client, clerk, region=region, limit=2)
    second = await search(client, clerk, region=region, limit=2, cursor=first["next_cursor"])
    assert (ids(first), ids(second), second["next_cursor"]) == ([a, b], [c], None)


async def test_other_roles_see_masked_id_numbers_and_csv_exports_every_row(
    client, admin_headers, roles, sessionmaker
) -> None:
    # given
    region = await own_region(sessionmaker, 2026)
    people = [await register_person(client, admin_headers, region=region) for _ in range(3)]
    # when: an inspector searches; a clerk exports
    inspected = await search(client, roles["inspector"], region=region)
    r = await client.get(
        "/api/v1/persons", params={"region": region, "format": "csv", "limit": 1}, headers=roles["clerk"]
    )
    # then
    assert [p["id_number"] for p in inspected["items"]] == [mask(i) for i in people]
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    assert [row["id_number"] for row in csv.DictReader(io.StringIO(r.text))] == people


async def test_bad_search_input_is_a_clear_400(client, admin_headers) -> None:
    for params in ({"cursor": "not-ours"}, {"region": "43"}, {"limit": "0"}, {"enrolled_in": "1800"}):
        r = await client.get("/api/v1/persons", params=params, headers=admin_headers)
        assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_REQUEST", (params, r.text)
