"""Subsidy mismatches (issue #16 item 5): ``GET /api/v1/premiums/subsidy-mismatches?year=`` lists the
premium payments whose booked subsidy is no longer what the person's groups on the payment day give
now, after a feed ended a tag (核减) or added one, with the groups then and now and why. Read-only.

Each test pays for 2026 in its window (2025-10-15) in a pooling region of its own (``own_region``)
and filters on it, so the tests pass alone and in any order.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest_asyncio

from tests.api.test_members import login, pay
from tests.builders import register_person
from tests.settlement.helpers import own_region

PATH = "/api/v1/premiums/subsidy-mismatches"


@pytest_asyncio.fixture(scope="module")
async def roles(sessionmaker) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from yibao.auth.tokens import create_staff_token

    out = {}
    for role in ("clerk", "finance", "inspector"):
        async with sessionmaker() as s, s.begin():
            out[role] = {"Authorization": f"Bearer {await create_staff_token(s, role, f'{role}-mismatch')}"}
    return out


async def paid(client: httpx.AsyncClient, admin: dict[str, str], region: str, group: str | None, amount: str) -> str:
    """A resident of ``region`` (tagged ``group`` from 2025-09-01) who paid ``amount`` for 2026 on 2025-10-15."""
    idn = await register_person(client, admin, region=region)
    if group:
        r = await client.post(
            f"/api/v1/persons/{idn}/groups", json={"group": group, "valid_from": "2025-09-01"}, headers=admin
        )
        assert r.status_code == 201, r.text
    r = await pay(client, admin, idn, amount, "2025-10-15")
    assert r.status_code == 201, r.text
    return idn


async def feed(
    client: httpx.AsyncClient, admin: dict[str, str], region: str, group: str, lines: list[str], feed_date: str
) -> dict[str, Any]:
    content = "\n".join(["id_number,name,group,valid_from", *lines]) + "\n"
    r = await client.post(
        "/api/v1/persons/imports",
        data={"kind": "group_feed", "source": "民政", "group": group, "region": region, "feed_date": feed_date},
        files={"file": ("feed.csv", content.encode(), "text/csv")},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def listed(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await client.get(PATH, params={"year": 2026, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_a_feed_that_ends_or_adds_a_group_after_payment_lists_the_payment(
    client, admin_headers, sessionmaker
) -> None:
    # given: in a region of this test, three residents paid 2026 on 2025-10-15: A as 低保 (subsidy 160.00),
    # B as 低保 too, C with no group (400.00)
    region = await own_region(sessionmaker, 2026)
    a = await paid(client, admin_headers, region, "min_living", "240.00")
    b = await paid(client, admin_headers, region, "min_living", "240.00")
    c = await paid(client, admin_headers, region, None, "400.00")
    b_name = (await client.get(f"/api/v1/persons/{b}", headers=admin_headers)).json()["name"]
    c_name = (await client.get(f"/api/v1/persons/{c}", headers=admin_headers)).json()["name"]
    assert (await listed(client, admin_headers, region=region))["items"] == []
    # when: the 低保 list of 2025-10-01, imported late, has B but not A (A's tag ends on 2025-10-01, 核减),
    # and the 特困 list has C since 2025-09-01 (fully subsidised)
    ended = await feed(
        client, admin_headers, region, "min_living", [f"{b},{b_name},min_living,2025-09-01"], "2025-10-01"
    )
    assert ended["result"]["counts"]["ended"] == 1 and ended["result"]["counts"]["unchanged"] == 1
    await feed(client, admin_headers, region, "destitute", [f"{c},{c_name},destitute,2025-09-01"], "2026-11-01")
    # then: A and C are listed with the difference and why; B, whose groups are unchanged, is not
    page = await listed(client, admin_headers, region=region)
    items = {i["id_number"]: i for i in page["items"]}
    assert set(items) == {a, c} and page["next_cursor"] is None
    low = {"code": "min_living", "name": "城乡低保户"}
    assert {k: items[a][k] for k in ("booked_subsidy", "expected_subsidy", "difference", "reason")} == {
        "booked_subsidy": "160.00",
        "expected_subsidy": "0.00",
        "difference": "-160.00",
        "reason": "group_ended",
    }
    assert (items[a]["booked_group"], items[a]["expected_group"]) == (low, None)
    assert (items[a]["groups_then"], items[a]["groups_now"]) == ([low], [])
    assert (items[a]["region"], items[a]["year"], items[a]["paid_on"]) == (region, 2026, "2025-10-15")
    assert "min_living" in items[a]["why"] and "160.00" in items[a]["why"]
    destitute = {"code": "destitute", "name": "城乡特困供养人员"}
    assert {k: items[c][k] for k in ("booked_subsidy", "expected_subsidy", "difference", "reason")} == {
        "booked_subsidy": "0.00",
        "expected_subsidy": "400.00",
        "difference": "400.00",
        "reason": "group_added",
    }
    assert (items[c]["groups_then"], items[c]["groups_now"], items[c]["expected_group"]) == ([], [destitute], destitute)
    # and: the group filter keeps the payments booked with, or now holding, the group
    only = await listed(client, admin_headers, region=region, group="destitute")
    assert [i["id_number"] for i in only["items"]] == [c]
    # and: nothing was written: the booked subsidies stay (the assistance fund's totals are those booked)
    again = await listed(client, admin_headers, region=region)
    assert again == page


async def test_pages_and_csv_export_every_row(client, admin_headers, roles, sessionmaker) -> None:
    # given: three residents who paid with no group, then reported 特困 since before paying
    region = await own_region(sessionmaker, 2026)
    people = [await paid(client, admin_headers, region, None, "400.00") for _ in range(3)]
    names = [(await client.get(f"/api/v1/persons/{p}", headers=admin_headers)).json()["name"] for p in people]
    lines = [f"{p},{n},destitute,2025-09-01" for p, n in zip(people, names, strict=True)]
    await feed(client, admin_headers, region, "destitute", lines, "2026-11-01")
    # when: a finance officer pages two at a time
    first = await listed(client, roles["finance"], region=region, limit=2)
    second = await listed(client, roles["finance"], region=region, limit=2, cursor=first["next_cursor"])
    # then: every payment once, oldest first, ID numbers masked for finance
    assert first["next_cursor"] is not None and second["next_cursor"] is None
    ids = [i["payment_id"] for i in first["items"] + second["items"]]
    assert len(ids) == 3 and ids == sorted(ids)
    assert [i["id_number"][10:16] for i in first["items"] + second["items"]] == ["******"] * 3
    # and: a clerk sees them whole; the CSV (by format or Accept) has every row
    clerk = await listed(client, roles["clerk"], region=region)
    assert [i["id_number"] for i in clerk["items"]] == people
    for params, headers in (({"format": "csv"}, {}), ({}, {"Accept": "text/csv"})):
        r = await client.get(
            PATH, params={"year": 2026, "region": region, **params}, headers={**roles["clerk"], **headers}
        )
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
        table = list(csv.DictReader(io.StringIO(r.text)))
        assert [row["id_number"] for row in table] == people
        assert {(row["reason"], row["difference"], row["groups_now"], row["groups_then"]) for row in table} == {
            ("group_added", "400.00", "destitute", "")
        }


async def test_institutions_members_and_other_roles_are_refused(
    client, admin_headers, roles, hospital, sessionmaker
) -> None:
    idn = await register_person(client, admin_headers)
    me = await login(client, admin_headers, idn)
    for headers in (hospital, me, roles["inspector"]):
        r = await client.get(PATH, params={"year": 2026}, headers=headers)
        assert r.status_code in (401, 403), r.text
        assert r.json()["error"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED")
    r = await client.get(PATH, params={"year": 2026})
    assert r.status_code == 401, r.text


async def test_bad_input_is_a_clear_4xx(client, admin_headers) -> None:
    for params, status, code in (
        ({"year": 1999}, 400, "INVALID_REQUEST"),
        ({"year": 2101}, 400, "INVALID_REQUEST"),
        ({}, 400, "INVALID_REQUEST"),
        ({"year": 2026, "region": "999999"}, 422, "UNKNOWN_REGION"),
        ({"year": 2026, "region": "43x522"}, 400, "INVALID_REQUEST"),
        ({"year": 2026, "group": "vip"}, 422, "UNKNOWN_GROUP"),
        ({"year": 2026, "cursor": "not-a-cursor"}, 400, "INVALID_REQUEST"),
        ({"year": 2026, "limit": 0}, 400, "INVALID_REQUEST"),
    ):
        r = await client.get(PATH, params=params, headers=admin_headers)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (params, r.text)


async def test_a_new_policy_amount_for_the_booked_group_lists_the_payment(client, admin_headers, sessionmaker) -> None:
    # given: a region of this test whose policy (groups section only) gives 低保 160.00, and a 低保 resident
    # who paid 240.00 for 2026 on 2025-10-15
    from tests.api.test_policy_groups import DEFAULT_DOC, groups_only
    from yibao.reference.loader import load_policy

    region = await own_region(sessionmaker, 2026)
    doc = groups_only(DEFAULT_DOC)
    doc.update(region=region, year=2026, version=f"{region}-2026-amount")
    doc.pop("monitoring", None)
    idn = await paid(client, admin_headers, region, "min_living", "240.00")
    assert (await listed(client, admin_headers, region=region))["items"] == []
    # when: a new version of the region's policy gives 低保 200.00
    for g in doc["groups"]:
        if g["code"] == "min_living":
            g["amount"] = "200.00"
    async with sessionmaker() as s, s.begin():
        assert await load_policy(s, doc)
    # then: the payment is listed: the same group, another amount
    [item] = (await listed(client, admin_headers, region=region))["items"]
    assert (item["id_number"], item["reason"], item["booked_subsidy"], item["expected_subsidy"]) == (
        idn,
        "amount_changed",
        "160.00",
        "200.00",
    )
    assert item["difference"] == "40.00" and item["groups_then"] == item["groups_now"]
