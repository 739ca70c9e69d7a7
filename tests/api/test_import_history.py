"""A person's history shows their part of a register import (issue #16): the import writes one
audit entry listing everyone it changed, by column, and ``GET /persons/{id}/history`` gives each
person their own changes from it, with before and after, naming the run. Entries written before
the columns (an object per person) are immutable and still read the same way.

Each test owns its pooling region (a feed ends tags region-wide).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from tests.api.test_death_registry import upload
from tests.api.test_group_feeds import person
from tests.builders import new_id_number
from tests.settlement.helpers import own_region
from yibao import audit
from yibao.people import group_feed
from yibao.people.orm import PersonRow


async def feed_with_ends(
    client: httpx.AsyncClient, admin: dict[str, str], region: str, lines: list[str]
) -> dict[str, Any]:
    content = "\n".join(["id_number,name,group,valid_from,valid_to", *lines]) + "\n"
    r = await client.post(
        "/api/v1/persons/imports",
        data={
            "kind": "group_feed",
            "source": "民政 2026-11",
            "group": "min_living",
            "region": region,
            "feed_date": "2026-11-01",
        },
        files={"file": ("feed.csv", content.encode(), "text/csv")},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def history(client: httpx.AsyncClient, admin: dict[str, str], idn: str) -> list[tuple[str, dict[str, Any]]]:
    r = await client.get(f"/api/v1/persons/{idn}/history", headers=admin)
    assert r.status_code == 200, r.text
    return [(e["action"], e["detail"]) for e in r.json()["entries"]]


async def tag_ids(client: httpx.AsyncClient, admin: dict[str, str], idn: str) -> list[int]:
    r = await client.get(f"/api/v1/persons/{idn}/groups", headers=admin)
    return [int(t["id"]) for t in r.json()]


async def test_history_shows_each_persons_part_of_a_group_feed_and_a_death_import(
    client, admin_headers, sessionmaker
) -> None:
    # given: in a region of this test, A and B untagged, C 低保 since 2026-01-01, D not registered
    region = await own_region(sessionmaker, 2026)
    a, a_name = await person(client, admin_headers, region)
    b, b_name = await person(client, admin_headers, region)
    c, _ = await person(client, admin_headers, region, "min_living")
    d = new_id_number()
    (c_tag,) = await tag_ids(client, admin_headers, c)
    # when: the 低保 list has A (open-ended), B (until the year's end, another start) and D, not C
    run = await feed_with_ends(
        client,
        admin_headers,
        region,
        [
            f"{a},{a_name},min_living,2026-10-01,",
            f"{b},{b_name},min_living,2026-09-01,2026-12-31",
            f"{d},周九,min_living,2026-10-01,",
        ],
    )
    # and: the death registry records A and B on two days
    deaths = await upload(client, admin_headers, f"id_number,name,death_date\n{a},,2026-11-20\n{b},,2026-11-21\n")
    assert deaths.status_code == 201, deaths.text
    died = deaths.json()["id"]
    # then: each person's history has their own changes of each run, field for field
    reason = "死亡信息比对 death registry 公安 2026-11"
    (a_tag,), (b_tag,), (d_tag,) = [await tag_ids(client, admin_headers, i) for i in (a, b, d)]
    assert (await history(client, admin_headers, a))[1:] == [
        (
            "person.group_tagged",
            {"tag": a_tag, "group": "min_living", "valid_from": "2026-10-01", "valid_to": None, "job_run": run["id"]},
        ),
        (
            "person.changed",
            {
                "before": {"death_date": None},
                "after": {"death_date": "2026-11-20"},
                "reason": reason,
                "job_run": died,
            },
        ),
    ]
    assert (await history(client, admin_headers, b))[1:] == [
        (
            "person.group_tagged",
            {
                "tag": b_tag,
                "group": "min_living",
                "valid_from": "2026-09-01",
                "valid_to": "2026-12-31",
                "job_run": run["id"],
            },
        ),
        (
            "person.changed",
            {
                "before": {"death_date": None},
                "after": {"death_date": "2026-11-21"},
                "reason": reason,
                "job_run": died,
            },
        ),
    ]
    assert (await history(client, admin_headers, c))[-1] == (
        "person.group_ended",
        {
            "tag": c_tag,
            "group": "min_living",
            "before": {"valid_to": None},
            "after": {"valid_to": "2026-11-01"},
            "job_run": run["id"],
        },
    )
    assert await history(client, admin_headers, d) == [
        ("person.registered", {"region": region, "job_run": run["id"]}),
        (
            "person.group_tagged",
            {"tag": d_tag, "group": "min_living", "valid_from": "2026-10-01", "valid_to": None, "job_run": run["id"]},
        ),
    ]


async def test_history_reads_an_import_entry_written_with_an_object_per_person(
    client, admin_headers, sessionmaker
) -> None:
    # given: a person, and a group feed's entry as imports wrote them before the columns
    region = await own_region(sessionmaker, 2026)
    a, _ = await person(client, admin_headers, region)
    run_id = str(uuid.uuid4())
    async with sessionmaker() as s, s.begin():
        pid = await s.scalar(select(PersonRow.id).where(PersonRow.id_number == a))
        other = pid + 10**9  # nobody: the entry's other person
        changes = [
            {"person": other, "action": "person.registered", "region": region},
            {"person": pid, "action": "person.registered", "region": region},
            {
                "person": pid,
                "action": "person.group_tagged",
                "tag": 7,
                "group": "min_living",
                "valid_from": "2026-10-01",
                "valid_to": None,
            },
            {
                "person": other,
                "action": "person.group_ended",
                "tag": 8,
                "group": "min_living",
                "before": {"valid_to": None},
                "after": {"valid_to": "2026-11-01"},
            },
        ]
        await audit.record(
            s,
            audit.Actor("staff", "admin"),
            group_feed.IMPORTED_ACTION,
            ("job_run", run_id),
            {"counts": {"added": 1}, "changes": changes},
        )
    # when / then: their history shows their part of it, as before
    assert (await history(client, admin_headers, a))[1:] == [
        ("person.registered", {"region": region, "job_run": run_id}),
        (
            "person.group_tagged",
            {"tag": 7, "group": "min_living", "valid_from": "2026-10-01", "valid_to": None, "job_run": run_id},
        ),
    ]
