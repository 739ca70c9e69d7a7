"""The README's example files (issue #16 "Done when"): ``data/examples/death-registry.csv`` and
``data/examples/dibao-feed.csv`` import as the README says and classify every row.

The files carry the README's fixed ID numbers; so that this test passes alone and in any order, each
distinct ID is mapped to one of this run (a valid one to a fresh valid one, the file's bad checksum
to a fresh bad checksum), and the 低保 list is fed for a pooling region of this test alone."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx

from tests.builders import idem, make_bill, new_id_number
from tests.settlement.helpers import own_region
from yibao.people import id_number as ids

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


def remap(text: str, known: dict[str, str]) -> str:
    """The file with each ID number replaced by this run's (same mapping for the same ID)."""
    out = []
    for line in text.splitlines():
        first, _, rest = line.partition(",")
        if len(first) == 18 and first[:17].isdigit():
            if first not in known:
                fresh = new_id_number()
                if ids.check_char(first[:17]) != first[-1]:  # keep a bad checksum bad
                    fresh = fresh[:17] + ("0" if fresh[-1] != "0" else "1")
                known[first] = fresh
            first = known[first]
        out.append(f"{first},{rest}")
    return "\n".join(out) + "\n"


def counts(run: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in run["result"]["counts"].items() if v}


async def upload(client: httpx.AsyncClient, admin: dict[str, str], data: dict[str, str], text: str) -> dict[str, Any]:
    files = {"file": ("f.csv", text.encode(), "text/csv")}
    r = await client.post("/api/v1/persons/imports", data=data, files=files, headers=admin)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_the_readme_example_files_import_and_classify_every_row(
    client, admin_headers, hospital, sessionmaker
) -> None:
    known: dict[str, str] = {}
    remap("id_number\n430522199001011235\n430522198505050014\n", known)
    zhang, li = known["430522199001011235"], known["430522198505050014"]
    # given: 张三 enrolled with a bill settled on 2026-03-08, and 李四 registered in a region of this test
    region = await own_region(sessionmaker, 2026)
    r = await client.post(
        "/api/v1/persons", json={"id_number": zhang, "name": "张三", "region": "430522"}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/enrolments",
        json={"id_number": zhang, "scheme": "resident", "year": 2026, "coverage_start": "2026-01-01"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    bill = await client.post(
        "/api/v1/settlements", json=make_bill(zhang, service_date="2026-03-08"), headers={**hospital, **idem()}
    )
    assert bill.status_code == 201, bill.text
    r = await client.post(
        "/api/v1/persons", json={"id_number": li, "name": "李四", "region": region}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    # when: the death registry example is imported
    deaths = remap((EXAMPLES / "death-registry.csv").read_text("utf-8"), known)
    run = await upload(client, admin_headers, {"kind": "death_registry", "source": "公安 2026-11"}, deaths)
    # then: every class of the README's table the file can show
    assert counts(run) == {
        "recorded": 1,
        "unknown_person": 1,
        "name_mismatch": 1,
        "bad_id_number": 1,
        "bad_date": 1,
        "date_in_future": 1,
        "duplicate_in_file": 1,
    }, run["result"]
    assert run["result"]["suspects_raised"] == 1
    # and: a later bill of 张三 is refused
    later = await client.post(
        "/api/v1/settlements", json=make_bill(zhang, service_date="2026-03-10"), headers={**hospital, **idem()}
    )
    assert later.status_code == 422 and later.json()["error"]["code"] == "PERSON_DECEASED", later.text
    # when: the 低保 example is fed for the region (张三's row is of another region here)
    feed = remap((EXAMPLES / "dibao-feed.csv").read_text("utf-8"), known)
    data = {"kind": "group_feed", "source": "民政 2026-11", "group": "min_living", "region": region}
    run = await upload(client, admin_headers, {**data, "feed_date": "2026-11-01"}, feed)
    assert counts(run) == {
        "added": 1,
        "other_region": 1,
        "created": 1,
        "unknown_person": 1,
        "duplicate_in_file": 1,
        "unknown_group": 1,
        "date_in_future": 1,
    }, run["result"]
    table = await client.get(f"/api/v1/persons/imports/{run['id']}/rows.csv", headers=admin_headers)
    assert table.status_code == 200, table.text
    assert [row["class"] for row in csv.DictReader(io.StringIO(table.text))] == [
        "added",
        "other_region",
        "created",
        "unknown_person",
        "duplicate_in_file",
        "unknown_group",
        "date_in_future",
    ]
    # and: 李四 and 王五 (registered by the feed) are to enrol for 2027 as a special group; 张三, dead, is not listed
    wang = known["430522197007070026"]
    r = await client.get("/api/v1/ops/unenrolled", params={"year": 2027, "region": region}, headers=admin_headers)
    listed = [(i["id_number"], i["reason"]) for i in r.json()["items"]]
    assert listed == [(li, "special_group"), (wang, "special_group")]
    r = await client.get(
        "/api/v1/ops/unenrolled", params={"year": 2027, "region": "430522", "format": "csv"}, headers=admin_headers
    )
    assert r.status_code == 200 and r.text.startswith("id_number,") and zhang not in r.text
