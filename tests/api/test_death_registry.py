"""The death registry feed (issue #16 item 4, deaths): a file matched against the register,
one idempotent job run per file, every row classified and downloadable.

Each test builds its own people and its own file (IDs from the builders' per-run counter, so the
file's SHA-256 is new in every run); bills go to the county hospital and assert no money.
"""

from __future__ import annotations

import csv
import io

import httpx

from tests.builders import idem, make_bill, make_person, new_id_number, register_person
from yibao.people.id_number import mask


def refused(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text


async def upload(client: httpx.AsyncClient, admin: dict[str, str], content: str, source: str = "公安 2026-11"):  # type: ignore[no-untyped-def]
    return await client.post(
        "/api/v1/persons/imports",
        data={"kind": "death_registry", "source": source},
        files={"file": ("deaths.csv", content.encode(), "text/csv")},
        headers=admin,
    )


async def name_of(client: httpx.AsyncClient, admin: dict[str, str], idn: str) -> str:
    r = await client.get(f"/api/v1/persons/{idn}", headers=admin)
    return str(r.json()["name"])


def bad_checksum(idn: str) -> str:
    last = "0" if idn[-1] != "0" else "1"
    return idn[:17] + last


async def test_a_death_file_classifies_every_row_and_records_the_matched(client, admin_headers, hospital) -> None:
    # given: five people: one with a bill after the death to come, one already recorded dead,
    # one recorded with another date, one alive whose name differs in the file, one alive
    billed = await make_person(client, admin_headers)
    settled = await client.post(
        "/api/v1/settlements", json=make_bill(billed, service_date="2026-03-10"), headers={**hospital, **idem()}
    )
    assert settled.status_code == 201, settled.text
    already = await register_person(client, admin_headers, death_date="2026-05-01")
    other_date = await register_person(client, admin_headers, death_date="2026-05-01")
    renamed = await register_person(client, admin_headers)
    alive = await register_person(client, admin_headers)
    unknown = new_id_number()
    lines = [
        "id_number,name,death_date",
        f"{billed},{await name_of(client, admin_headers, billed)},2026-03-05",  # 1 recorded
        f"{already},,2026-05-01",  # 2 already recorded
        f"{other_date},,2026-04-01",  # 3 conflicting date
        f"{renamed},别人,2026-06-01",  # 4 name mismatch
        f"{unknown},王五,2026-06-01",  # 5 unknown person
        f"{alive},,2099-01-01",  # 6 in the future
        f"{alive},,1970-01-01",  # 7 before birth
        f"{bad_checksum(alive)},,2026-06-01",  # 8 bad ID number
        f"{alive},,2026-13-01",  # 9 bad date
        f"{billed},,2026-03-05",  # 10 duplicate
    ]
    content = "\n".join(lines) + "\n"
    # when
    r = await upload(client, admin_headers, content)
    # then: one finished run with its counts
    assert r.status_code == 201, r.text
    run = r.json()
    assert (run["kind"], run["state"], run["processed"], run["total"]) == ("death_registry", "succeeded", 10, 10)
    counts = run["result"]["counts"]
    assert {k: v for k, v in counts.items() if v} == {
        "recorded": 1,
        "already_recorded": 1,
        "conflicting_date": 1,
        "name_mismatch": 1,
        "unknown_person": 1,
        "date_in_future": 1,
        "before_birth": 1,
        "bad_id_number": 1,
        "bad_date": 1,
        "duplicate_in_file": 1,
    }
    assert run["result"]["suspects_raised"] == 1
    first = run["result"]["rows"][0]
    assert first["id_number"] == mask(billed)
    assert first["settled_after_death"] == [settled.json()["settlement_id"]]
    # and: only the matched row changed a person; the conflicting date was left for a clerk
    person = (await client.get(f"/api/v1/persons/{billed}", headers=admin_headers)).json()
    assert person["death_date"] == "2026-03-05"
    assert (await client.get(f"/api/v1/persons/{other_date}", headers=admin_headers)).json()[
        "death_date"
    ] == "2026-05-01"
    for idn in (renamed, alive):
        assert (await client.get(f"/api/v1/persons/{idn}", headers=admin_headers)).json()["death_date"] is None
    # and: the death is audited on the person, naming the run
    h = (await client.get(f"/api/v1/persons/{billed}/history", headers=admin_headers)).json()["entries"]
    assert h[-1]["action"] == "person.changed" and h[-1]["detail"]["job_run"] == run["id"]
    # and: a later bill is refused at once
    later = await client.post(
        "/api/v1/settlements", json=make_bill(billed, service_date="2026-03-12"), headers={**hospital, **idem()}
    )
    refused(later, 422, "PERSON_DECEASED")
    # and: the classification downloads as CSV, one line per row
    dl = await client.get(f"/api/v1/persons/imports/{run['id']}/rows.csv", headers=admin_headers)
    assert dl.status_code == 200 and dl.headers["content-type"].startswith("text/csv"), dl.text
    table = list(csv.DictReader(io.StringIO(dl.text)))
    assert [row["class"] for row in table] == [
        "recorded",
        "already_recorded",
        "conflicting_date",
        "name_mismatch",
        "unknown_person",
        "date_in_future",
        "before_birth",
        "bad_id_number",
        "bad_date",
        "duplicate_in_file",
    ]
    assert table[2]["recorded_death_date"] == "2026-05-01"
    assert billed not in dl.text  # IDs are masked


async def test_the_same_file_twice_changes_nothing(client, admin_headers) -> None:
    # given: a file that records one death
    idn = await register_person(client, admin_headers)
    content = f"id_number,name,death_date\n{idn},,2026-09-01\n"
    first = await upload(client, admin_headers, content)
    assert first.status_code == 201, first.text
    # when: the same file again
    again = await upload(client, admin_headers, content)
    # then: the first run, with 200, and no second change in the person's history
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    h = (await client.get(f"/api/v1/persons/{idn}/history", headers=admin_headers)).json()["entries"]
    assert [e["action"] for e in h] == ["person.registered", "person.changed"]


async def test_a_json_batch_is_the_same_import(client, admin_headers) -> None:
    # given
    idn = await register_person(client, admin_headers)
    body = {"source": "公安 2026-11", "rows": [{"id_number": idn, "death_date": "2026-10-01"}]}
    # when
    r = await client.post("/api/v1/persons/deaths", json=body, headers=admin_headers)
    again = await client.post("/api/v1/persons/deaths", json=body, headers=admin_headers)
    # then
    assert r.status_code == 201 and r.json()["result"]["counts"]["recorded"] == 1, r.text
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    assert (await client.get(f"/api/v1/persons/{idn}", headers=admin_headers)).json()["death_date"] == "2026-10-01"


async def test_a_file_that_is_not_a_death_file_is_refused_whole(client, admin_headers) -> None:
    refused(await upload(client, admin_headers, "a,b,c\n1,2,3\n"), 400, "INVALID_REQUEST")
    refused(await upload(client, admin_headers, "id_number,name,death_date\n"), 400, "INVALID_REQUEST")
    r = await client.post(
        "/api/v1/persons/imports",
        data={"kind": "death_registry", "source": "x"},
        files={"file": ("d.csv", b"\xff\xfe\x00", "text/csv")},
        headers=admin_headers,
    )
    refused(r, 400, "INVALID_REQUEST")
    r = await client.post(
        "/api/v1/persons/imports",
        data={"kind": "group_feed", "source": "x"},
        files={"file": ("d.csv", b"id_number,name,death_date\n", "text/csv")},
        headers=admin_headers,
    )
    refused(r, 400, "INVALID_REQUEST")
    # and: an inline kind cannot be started through the job API
    r = await client.post("/api/v1/jobs", json={"kind": "death_registry", "params": {}}, headers=admin_headers)
    refused(r, 400, "INVALID_REQUEST")
