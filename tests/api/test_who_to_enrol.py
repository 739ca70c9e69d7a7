"""Who to enrol (issue #16 item 6): ``GET /api/v1/ops/unenrolled`` lists everyone registered and alive
who is not enrolled for the year, with why (``special_group``, ``lapsed`` since a year,
``never_enrolled``), age band, region and groups; a deceased person leaves the list.

Every test registers its people in a pooling region of its own (``own_region``) and filters on it,
so the tests pass alone and in any order.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import httpx

from tests.builders import make_person, register_person
from tests.settlement.helpers import own_region
from yibao.people.id_number import mask


async def listed(client: httpx.AsyncClient, admin: dict[str, str], **params: Any) -> dict[str, dict[str, Any]]:
    r = await client.get("/api/v1/ops/unenrolled", params=params, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return {i["id_number"]: i for i in r.json()["items"]}


async def test_who_to_enrol_says_why_and_leaves_out_the_enrolled_and_the_dead(
    client, admin_headers, sessionmaker
) -> None:
    # given: in a region of this test, a resident enrolled for 2026, one never enrolled (aged 70 on
    # 2027-01-01), one in a special group, one who died in 2026 and one whose death is recorded later
    region = await own_region(sessionmaker, 2026)
    lapsed = await make_person(client, admin_headers, region=region)
    never = await register_person(client, admin_headers, region=region, born=date(1956, 6, 1))
    special = await register_person(client, admin_headers, region=region)
    r = await client.post(
        f"/api/v1/persons/{special}/groups",
        json={"group": "destitute", "valid_from": "2026-01-01"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    dead = await register_person(client, admin_headers, region=region, death_date="2026-06-01")
    dies_later = await register_person(client, admin_headers, region=region)
    # when: staff ask who is still to enrol for 2027
    items = await listed(client, admin_headers, year=2027, region=region)
    # then: each with why; the dead are not there
    assert set(items) == {lapsed, never, special, dies_later}
    assert (items[lapsed]["reason"], items[lapsed]["lapsed_since"]) == ("lapsed", 2027)
    assert (items[never]["reason"], items[never]["lapsed_since"], items[never]["age_band"]) == (
        "never_enrolled",
        None,
        "70-79",
    )
    assert (items[special]["reason"], items[special]["groups"]) == ("special_group", "destitute")
    assert items[lapsed]["age_band"] == "18-59" and items[lapsed]["region"] == region
    assert dead not in items
    # and for 2026, the enrolled resident is not listed
    assert lapsed not in await listed(client, admin_headers, year=2026, region=region)
    # when: a death is recorded later, the person leaves the list (and the special-group ledger too)
    r = await client.patch(f"/api/v1/persons/{dies_later}", json={"death_date": "2026-11-01"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    r = await client.patch(f"/api/v1/persons/{special}", json={"death_date": "2026-11-02"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert set(await listed(client, admin_headers, year=2027, region=region)) == {lapsed, never}
    old = await client.get(
        "/api/v1/ops/unenrolled-special-groups", params={"year": 2027, "region": region}, headers=admin_headers
    )
    assert old.status_code == 200 and old.json()["items"] == [], old.text


async def test_who_to_enrol_filters_pages_and_exports_csv(client, admin_headers, sessionmaker) -> None:
    region = await own_region(sessionmaker, 2026)
    lapsed = await make_person(client, admin_headers, region=region)
    never = [await register_person(client, admin_headers, region=region) for _ in range(3)]
    # filters: reason and age band
    assert set(await listed(client, admin_headers, year=2027, region=region, reason="lapsed")) == {lapsed}
    assert set(await listed(client, admin_headers, year=2027, region=region, reason="never_enrolled")) == set(never)
    assert await listed(client, admin_headers, year=2027, region=region, age_band="80+") == {}
    assert await listed(client, admin_headers, year=2027, region=region, group="destitute") == {}
    # keyset pages: two pages of two walk all four once
    first = await client.get(
        "/api/v1/ops/unenrolled", params={"year": 2027, "region": region, "limit": 2}, headers=admin_headers
    )
    assert first.status_code == 200 and first.json()["next_cursor"], first.text
    second = await client.get(
        "/api/v1/ops/unenrolled",
        params={"year": 2027, "region": region, "limit": 2, "cursor": first.json()["next_cursor"]},
        headers=admin_headers,
    )
    ids = [i["id_number"] for i in first.json()["items"] + second.json()["items"]]
    assert sorted(ids) == sorted([lapsed, *never])
    # CSV export of every row
    out = await client.get(
        "/api/v1/ops/unenrolled", params={"year": 2027, "region": region, "format": "csv"}, headers=admin_headers
    )
    assert out.status_code == 200 and out.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(out.text)))
    assert {r["id_number"]: r["reason"] for r in rows} == {lapsed: "lapsed", **{n: "never_enrolled" for n in never}}
    # bad input: a clear 4xx, never a 500
    bad = await client.get("/api/v1/ops/unenrolled", params={"year": 2027, "reason": "x"}, headers=admin_headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST", bad.text
    bad = await client.get("/api/v1/ops/unenrolled", params={"year": 2027, "cursor": "!!"}, headers=admin_headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST", bad.text


async def test_the_enrolment_rate_splits_by_age_band(client, admin_headers, sessionmaker) -> None:
    # given: in a region of this test, an enrolled resident born 1980 and a man of 69 never enrolled
    region = await own_region(sessionmaker, 2026)
    await make_person(client, admin_headers, region=region)
    await register_person(client, admin_headers, region=region, born=date(1956, 6, 1))
    # when: the rate for 2026 is exported by age band, and without
    by_band = await client.get(
        "/api/v1/ops/enrolment-rate",
        params={"year": 2026, "by_age_band": "true", "format": "csv"},
        headers=admin_headers,
    )
    whole = await client.get(
        "/api/v1/ops/enrolment-rate", params={"year": 2026, "format": "csv"}, headers=admin_headers
    )
    assert by_band.status_code == 200 and whole.status_code == 200, (by_band.text, whole.text)

    def mine(text: str) -> list[tuple[str, str, str, str, str]]:
        rows = csv.DictReader(io.StringIO(text))
        return [
            (r["group"], r["age_band"], r["people"], r["enrolled"], r["rate"]) for r in rows if r["region"] == region
        ]

    # then: one row per band, or one row for all
    assert mine(by_band.text) == [("none", "18-59", "1", "1", "1.0000"), ("none", "60-69", "1", "0", "0.0000")]
    assert mine(whole.text) == [("none", "all", "2", "1", "0.5000")]


async def test_who_to_enrol_masks_id_numbers_for_roles_that_do_not_serve_people(
    client, admin_headers, sessionmaker
) -> None:
    # given: an unenrolled person in a region of this test, and an inspector and a clerk
    from yibao.auth.tokens import create_staff_token

    region = await own_region(sessionmaker, 2026)
    person = await register_person(client, admin_headers, region=region)
    headers = {}
    for role in ("clerk", "inspector"):
        async with sessionmaker() as s, s.begin():
            headers[role] = {"Authorization": f"Bearer {await create_staff_token(s, role, f'{role}-enrol')}"}
    # when: each lists who to enrol, as JSON and as CSV
    by_clerk = await listed(client, headers["clerk"], year=2027, region=region)
    by_inspector = await listed(client, headers["inspector"], year=2027, region=region)
    r = await client.get(
        "/api/v1/ops/unenrolled", params={"year": 2027, "region": region, "format": "csv"}, headers=headers["inspector"]
    )
    # then: the clerk sees the whole number, the inspector only its masked form, in both formats
    assert set(by_clerk) == {person}
    assert set(by_inspector) == {mask(person)}
    assert r.status_code == 200, r.text
    assert [row["id_number"] for row in csv.DictReader(io.StringIO(r.text))] == [mask(person)]
