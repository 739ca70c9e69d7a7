"""Special-group feeds (issue #16 items 4-5, DOMAIN §8): a file is the full list of one group in
one region on its date: new people are tagged, missing ones' tags end on that date (核减),
the rest are left alone; every row is classified; the same file twice changes nothing.

A feed ends tags region-wide, so every test here owns its pooling region (``own_region``).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import httpx

from tests.builders import new_id_number, register_person
from tests.settlement.helpers import own_region


async def feed(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    region: str,
    group: str,
    lines: list[str],
    feed_date: str = "2026-11-01",
) -> httpx.Response:
    content = "\n".join(["id_number,name,group,valid_from", *lines]) + "\n"
    return await client.post(
        "/api/v1/persons/imports",
        data={"kind": "group_feed", "source": "民政 2026-11", "group": group, "region": region, "feed_date": feed_date},
        files={"file": ("feed.csv", content.encode(), "text/csv")},
        headers=admin,
    )


async def tags(client: httpx.AsyncClient, admin: dict[str, str], idn: str) -> list[tuple[str, str, str | None]]:
    r = await client.get(f"/api/v1/persons/{idn}/groups", headers=admin)
    assert r.status_code == 200, r.text
    return [(t["group"], t["valid_from"], t["valid_to"]) for t in r.json()]


async def person(client: httpx.AsyncClient, admin: dict[str, str], region: str, *groups: str) -> tuple[str, str]:
    idn = await register_person(client, admin, region=region)
    for g in groups:
        r = await client.post(
            f"/api/v1/persons/{idn}/groups", json={"group": g, "valid_from": "2026-01-01"}, headers=admin
        )
        assert r.status_code == 201, r.text
    name = (await client.get(f"/api/v1/persons/{idn}", headers=admin)).json()["name"]
    return idn, name


def nonzero(run: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in run["result"]["counts"].items() if v}


async def test_a_feed_tags_the_new_ends_the_missing_and_classifies_every_row(
    client, admin_headers, sessionmaker
) -> None:
    # given: in a region of this test, A untagged, B and C 低保 since 2026-01-01; D elsewhere
    region = await own_region(sessionmaker, 2026)
    a, a_name = await person(client, admin_headers, region)
    b, b_name = await person(client, admin_headers, region, "min_living")
    c, _ = await person(client, admin_headers, region, "min_living")
    d, _ = await person(client, admin_headers, "430522")
    lines = [
        f"{a},{a_name},min_living,2026-10-01",  # 1 added
        f"{b},{b_name},min_living,2026-01-01",  # 2 unchanged
        f"{new_id_number()},,min_living,2026-10-01",  # 3 unknown person (no name: nothing to register)
        f"{d},,min_living,2026-10-01",  # 4 other region
        f"{a},,min_living,2026-10-01",  # 5 duplicate
        f"{b},别人,min_living,2026-10-01",  # 6 duplicate (B's first row counts)
        f"{a[:17]}{'0' if a[-1] != '0' else '1'},,min_living,2026-10-01",  # 7 bad ID number
        f"{b},,marginal,2026-10-01",  # 8 another group than the file's
        f"{b},,min_living,2026-02-30",  # 9 bad date
        f"{b},,min_living,2099-01-01",  # 10 in the future
    ]
    # when: the 低保 list of 2026-11-01 (C is not on it)
    r = await feed(client, admin_headers, region, "min_living", lines)
    # then
    assert r.status_code == 201, r.text
    run = r.json()
    assert (run["kind"], run["state"], run["processed"]) == ("group_feed", "succeeded", 10)
    assert nonzero(run) == {
        "added": 1,
        "unchanged": 1,
        "ended": 1,
        "unknown_person": 1,
        "other_region": 1,
        "duplicate_in_file": 2,
        "bad_id_number": 1,
        "unknown_group": 1,
        "bad_date": 1,
        "date_in_future": 1,
    }
    assert await tags(client, admin_headers, a) == [("min_living", "2026-10-01", None)]
    assert await tags(client, admin_headers, b) == [("min_living", "2026-01-01", None)]
    assert await tags(client, admin_headers, c) == [("min_living", "2026-01-01", "2026-11-01")]  # 核减
    assert await tags(client, admin_headers, d) == []
    # and: the ending is audited on C with before and after, naming the run
    h = (await client.get(f"/api/v1/persons/{c}/history", headers=admin_headers)).json()["entries"]
    assert h[-1]["action"] == "person.group_ended"
    assert (h[-1]["detail"]["before"], h[-1]["detail"]["after"]) == ({"valid_to": None}, {"valid_to": "2026-11-01"})
    assert h[-1]["detail"]["job_run"] == run["id"]
    # and: the classification downloads as CSV, the ended tag after the file's rows
    dl = await client.get(f"/api/v1/persons/imports/{run['id']}/rows.csv", headers=admin_headers)
    assert dl.status_code == 200, dl.text
    table = list(csv.DictReader(io.StringIO(dl.text)))
    assert [row["class"] for row in table][:2] == ["added", "unchanged"]
    assert (table[-1]["line"], table[-1]["class"]) == ("", "ended")


async def test_the_same_feed_twice_changes_nothing(client, admin_headers, sessionmaker) -> None:
    # given: a region with one 防返贫监测 person, fed once
    region = await own_region(sessionmaker, 2026)
    a, a_name = await person(client, admin_headers, region)
    lines = [f"{a},{a_name},poverty_monitoring,2026-10-01"]
    first = await feed(client, admin_headers, region, "poverty_monitoring", lines)
    assert first.status_code == 201 and nonzero(first.json()) == {"added": 1}, first.text
    # when: the same file again, and the same list as another file (a trailing blank line)
    again = await feed(client, admin_headers, region, "poverty_monitoring", lines)
    other_file = await feed(client, admin_headers, region, "poverty_monitoring", [*lines, ""])
    # then: the first run, then a run that changes nothing
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert other_file.status_code == 201 and nonzero(other_file.json()) == {"unchanged": 1}, other_file.text
    assert await tags(client, admin_headers, a) == [("poverty_monitoring", "2026-10-01", None)]


async def test_feeds_of_two_groups_overlap_and_end_only_their_own(client, admin_headers, sessionmaker) -> None:
    # given: one person on both the 低保 and the 防返贫监测 lists of October
    region = await own_region(sessionmaker, 2026)
    a, a_name = await person(client, admin_headers, region)
    for g in ("min_living", "poverty_monitoring"):
        r = await feed(client, admin_headers, region, g, [f"{a},{a_name},{g},2026-10-01"], feed_date="2026-10-01")
        assert r.status_code == 201 and nonzero(r.json()) == {"added": 1}, r.text
    # when: November's 低保 list no longer has them
    b, b_name = await person(client, admin_headers, region)
    r = await feed(client, admin_headers, region, "min_living", [f"{b},{b_name},min_living,2026-11-01"])
    # then: only the 低保 tag ends
    assert r.status_code == 201 and nonzero(r.json()) == {"added": 1, "ended": 1}, r.text
    assert sorted(await tags(client, admin_headers, a)) == [
        ("min_living", "2026-10-01", "2026-11-01"),
        ("poverty_monitoring", "2026-10-01", None),
    ]


async def test_a_feed_that_cannot_be_is_refused_whole(client, admin_headers, sessionmaker) -> None:
    region = await own_region(sessionmaker, 2026)
    a, a_name = await person(client, admin_headers, region)
    line = [f"{a},{a_name},vip,2026-10-01"]
    r = await feed(client, admin_headers, region, "vip", line)
    assert r.status_code == 422 and r.json()["error"]["code"] == "UNKNOWN_GROUP", r.text
    assert "min_living 城乡低保户" in r.json()["error"]["message"]
    r = await feed(client, admin_headers, "999999", "min_living", line)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_REQUEST", r.text
    r = await feed(client, admin_headers, region, "min_living", line, feed_date="2099-01-01")
    assert r.status_code == 400, r.text
    r = await client.post(
        "/api/v1/persons/imports",
        data={"kind": "group_feed", "source": "x", "group": "min_living"},
        files={"file": ("f.csv", b"id_number,name,group,valid_from\n", "text/csv")},
        headers=admin_headers,
    )
    assert r.status_code == 400, r.text
    assert await tags(client, admin_headers, a) == []


async def test_a_person_not_registered_is_created_from_a_row_with_a_name(client, admin_headers, sessionmaker) -> None:
    # given: a region of this test and three ID numbers nobody registered
    region = await own_region(sessionmaker, 2026)
    newcomer, nameless = new_id_number(date(1960, 3, 4), "F"), new_id_number()
    bad = new_id_number()
    bad = bad[:17] + ("0" if bad[-1] != "0" else "1")
    lines = [
        f"{newcomer},赵六,min_living,2026-10-01",  # 1 created (registered and tagged)
        f"{nameless},,min_living,2026-10-01",  # 2 no name: reported only
        f"{bad},钱七,min_living,2026-10-01",  # 3 a bad checksum stays a bad ID number
    ]
    # when: the 低保 list of the region is imported
    r = await feed(client, admin_headers, region, "min_living", lines)
    # then: the newcomer is registered in the feed's region, birth date and sex from the ID, and tagged
    assert r.status_code == 201, r.text
    run = r.json()
    assert nonzero(run) == {"created": 1, "unknown_person": 1, "bad_id_number": 1}
    p = await client.get(f"/api/v1/persons/{newcomer}", headers=admin_headers)
    assert p.status_code == 200, p.text
    assert {k: p.json()[k] for k in ("name", "region", "birth_date", "gender", "death_date")} == {
        "name": "赵六",
        "region": region,
        "birth_date": "1960-03-04",
        "gender": "F",
        "death_date": None,
    }
    assert await tags(client, admin_headers, newcomer) == [("min_living", "2026-10-01", None)]
    gone = await client.get(f"/api/v1/persons/{nameless}", headers=admin_headers)
    assert gone.status_code == 404, gone.text
    # and: staff find them (and no one else of the file) in the search and in the list of people to enrol
    found = await client.get("/api/v1/persons", params={"q": newcomer}, headers=admin_headers)
    assert [i["id_number"] for i in found.json()["items"]] == [newcomer], found.text
    found = await client.get("/api/v1/persons", params={"region": region}, headers=admin_headers)
    assert [i["id_number"] for i in found.json()["items"]] == [newcomer], found.text
    todo = await client.get("/api/v1/ops/unenrolled", params={"year": 2027, "region": region}, headers=admin_headers)
    assert {i["id_number"]: i["reason"] for i in todo.json()["items"]} == {newcomer: "special_group"}, todo.text
    # and: their registration and tag are in the run's audit entry, naming the run
    h = (await client.get(f"/api/v1/persons/{newcomer}/history", headers=admin_headers)).json()["entries"]
    assert [(e["action"], e["detail"]["job_run"]) for e in h] == [
        ("person.registered", run["id"]),
        ("person.group_tagged", run["id"]),
    ]
    assert h[0]["detail"]["region"] == region
    # and: the classification CSV says created, with the tag
    dl = await client.get(f"/api/v1/persons/imports/{run['id']}/rows.csv", headers=admin_headers)
    table = list(csv.DictReader(io.StringIO(dl.text)))
    assert [row["class"] for row in table] == ["created", "unknown_person", "bad_id_number"]
    assert table[0]["tag_id"] != ""


async def test_a_feed_that_created_a_person_twice_creates_no_one_again(client, admin_headers, sessionmaker) -> None:
    # given: a feed that registered a newcomer
    region = await own_region(sessionmaker, 2026)
    newcomer = new_id_number()
    lines = [f"{newcomer},孙八,marginal,2026-10-01"]
    first = await feed(client, admin_headers, region, "marginal", lines)
    assert first.status_code == 201 and nonzero(first.json()) == {"created": 1}, first.text
    # when: the same file again, and the same list as another file
    again = await feed(client, admin_headers, region, "marginal", lines)
    other_file = await feed(client, admin_headers, region, "marginal", [*lines, ""])
    # then: the first run, then a run that finds them tagged: one person, one tag
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert other_file.status_code == 201 and nonzero(other_file.json()) == {"unchanged": 1}, other_file.text
    found = await client.get("/api/v1/persons", params={"region": region}, headers=admin_headers)
    assert [i["id_number"] for i in found.json()["items"]] == [newcomer], found.text
    assert await tags(client, admin_headers, newcomer) == [("marginal", "2026-10-01", None)]
