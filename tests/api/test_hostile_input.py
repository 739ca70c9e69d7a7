"""Hostile and impossible input (issues #13.6, #14.1, #14.2): every number and date has a bound
the domain justifies, refused with a 400 and a code before anything is written; bills and people
from the future are refused; an answer that cannot be rendered commits nothing.

Every test owns its people (builders: a per-run counter); refused requests write nothing, so
nothing here touches a day, an institution or a month another test settles.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.builders import idem, line, make_bill, make_person, new_id_number
from tests.settlement.helpers import at
from yibao import clock
from yibao.clock import CHINA
from yibao.people.id_number import make


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


async def count(sessionmaker, table: str) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return int(await s.scalar(text(f"SELECT count(*) FROM {table}")))


# ---------------------------------------------------------------- bills from the future (#13.6)


async def test_a_bill_dated_after_today_is_refused_by_preview_and_settle(client, admin_headers, hospital) -> None:
    # given: an enrolled person and a bill dated 22 days ahead (refused before enrolment is read)
    idn = await make_person(client, admin_headers, year=clock.today().year)
    bill = make_bill(idn, service_date=(clock.today() + timedelta(days=22)).isoformat())
    # when
    preview = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    settle = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    # then: both refuse with the same code, and no settlement names the visit
    assert preview.status_code == 422 and code(preview) == "SERVICE_DATE_IN_FUTURE", preview.text
    assert settle.status_code == 422 and code(settle) == "SERVICE_DATE_IN_FUTURE", settle.text
    listed = await client.get("/api/v1/settlements", headers=hospital)
    assert bill["visit_no"] not in {s["visit_no"] for s in listed.json()["items"]}


async def test_a_fee_line_dated_after_today_is_refused(client, admin_headers, hospital) -> None:
    # given: a bill dated today with one line dated next week
    idn = await make_person(client, admin_headers, year=clock.today().year)
    today = clock.today()
    later = today + timedelta(days=7)
    bill = make_bill(idn, [line("S-BLRT", "1", "20.00", day=later.isoformat())], service_date=today.isoformat())
    # when
    r = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    # then
    assert r.status_code == 422 and code(r) == "SERVICE_DATE_IN_FUTURE", r.text


async def test_a_clock_a_few_minutes_ahead_is_tolerated(client, admin_headers, hospital) -> None:
    # given: 23:58 China time on March 9; the HIS clock already says March 10
    idn = await make_person(client, admin_headers, year=2026)
    bill = make_bill(idn, service_date="2026-03-10")
    with at(datetime(2026, 3, 9, 23, 58, tzinfo=CHINA)):
        # when: previewed two minutes before midnight (inside the default 10-minute tolerance)
        near = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    with at(datetime(2026, 3, 9, 23, 0, tzinfo=CHINA)):
        # and an hour before midnight (outside it)
        far = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    # then
    assert near.status_code == 200, near.text
    assert far.status_code == 422 and code(far) == "SERVICE_DATE_IN_FUTURE", far.text


# ---------------------------------------------------------------- people from the future, unknown regions


@pytest.mark.parametrize("born", ["20300101", "30000101"])
async def test_a_person_born_after_today_is_refused(client, admin_headers, born: str) -> None:
    # given: a well-formed ID (valid checksum) whose birth date is after today
    idn = make(f"430522{born}123")
    # when
    r = await client.post(
        "/api/v1/persons", json={"id_number": idn, "name": "未来人", "region": "430522"}, headers=admin_headers
    )
    # then
    assert r.status_code == 400 and code(r) == "INVALID_ID_NUMBER", r.text
    assert "future" in r.json()["error"]["message"]
    assert (await client.get(f"/api/v1/persons/{idn}", headers=admin_headers)).status_code == 404


async def test_a_person_born_today_is_registered(client, admin_headers) -> None:
    # given: a newborn's ID (born today, China time)
    idn = new_id_number(born=clock.today())
    # when
    r = await client.post(
        "/api/v1/persons", json={"id_number": idn, "name": "新生儿", "region": "430522"}, headers=admin_headers
    )
    # then
    assert r.status_code == 201, r.text
    assert r.json()["birth_date"] == clock.today().isoformat()


@pytest.mark.parametrize("death", ["2999-01-01", "+tomorrow"])
async def test_a_death_date_after_today_is_refused(client, admin_headers, death: str) -> None:
    # given: a death date in the future
    when = (clock.today() + timedelta(days=1)).isoformat() if death == "+tomorrow" else death
    idn = new_id_number()
    # when
    r = await client.post(
        "/api/v1/persons",
        json={"id_number": idn, "name": "x", "region": "430522", "death_date": when},
        headers=admin_headers,
    )
    # then
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST", r.text
    assert (await client.get(f"/api/v1/persons/{idn}", headers=admin_headers)).status_code == 404


async def test_an_employer_in_an_unknown_region_is_refused(client, admin_headers) -> None:
    from yibao.employers.credit_code import make as make_code

    code_ = make_code(f"91999999MA4L{next(_employers):05d}")
    r = await client.post(
        "/api/v1/employers", json={"code": code_, "name": "无此统筹区", "region": "999999"}, headers=admin_headers
    )
    assert r.status_code == 422 and code(r) == "UNKNOWN_REGION", r.text
    assert (await client.get(f"/api/v1/employers/{code_}", headers=admin_headers)).status_code == 404


_employers = itertools.count(1)


async def test_an_unknown_region_is_refused_at_registration(client, admin_headers) -> None:
    # given: 999999 is no pooling region of the reference data
    idn = new_id_number()
    # when
    r = await client.post(
        "/api/v1/persons", json={"id_number": idn, "name": "x", "region": "999999"}, headers=admin_headers
    )
    # then
    assert r.status_code == 422 and code(r) == "UNKNOWN_REGION", r.text
    assert "999999" in r.json()["error"]["message"]
    assert (await client.get(f"/api/v1/persons/{idn}", headers=admin_headers)).status_code == 404


# ---------------------------------------------------------------- numbers beyond any bill (#14.1)

HUGE_LINE = {"quantity": "9999999999.9999", "unit_price": "999999999999.99"}


@pytest.mark.parametrize(
    "hostile",
    [
        HUGE_LINE,
        {"quantity": "1000001", "unit_price": "1.00"},  # more units than any line holds
        {"quantity": "1", "unit_price": "10000000.01"},  # above the highest unit price
        {"quantity": "100000", "unit_price": "9999999.99"},  # each bound alone, but a line above the bill bound
    ],
)
async def test_an_impossible_line_is_refused_alike_by_preview_and_settle(
    client, admin_headers, hospital, hostile: dict[str, str]
) -> None:
    # given: an enrolled person and a line whose amount no bill can have
    idn = await make_person(client, admin_headers)
    bill = make_bill(idn, [{**line("S-BLRT", "1", "1.00"), **hostile}])
    # when
    preview = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    settle = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    # then: the same 400 from both, before anything is computed or written
    assert preview.status_code == 400 and code(preview) == "INVALID_REQUEST", preview.text
    assert settle.status_code == 400 and code(settle) == "INVALID_REQUEST", settle.text


async def test_a_bill_whose_lines_add_up_beyond_the_bound_is_refused(client, admin_headers, hospital) -> None:
    # given: 2,000 lines of 9,999,999.99 each (each line fine, the bill ~20 billion yuan)
    idn = await make_person(client, admin_headers)
    lines = [line("S-BLRT", "1", "9999999.99", no=n) for n in range(1, 2001)]
    bill = make_bill(idn, lines)
    # when
    preview = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    settle = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    # then
    assert preview.status_code == 400 and code(preview) == "INVALID_REQUEST", preview.text
    assert settle.status_code == 400 and code(settle) == "INVALID_REQUEST", settle.text


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31"])
async def test_bill_dates_outside_the_sane_range_are_refused(client, admin_headers, hospital, day: str) -> None:
    idn = await make_person(client, admin_headers)
    for bill in (make_bill(idn, service_date=day), make_bill(idn, [line("S-BLRT", "1", "20.00", day=day)])):
        r = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
        assert r.status_code in (400, 422) and code(r) in ("INVALID_REQUEST", "SERVICE_DATE_IN_FUTURE"), r.text


@pytest.mark.parametrize(
    "query",
    ["from=0001-01-01&to=9999-12-31", "to=9999-12-31", "from=9999-12-31", "from=0001-01-01", "limit=100000000000000"],
)
async def test_listing_settlements_with_absurd_dates_is_a_400(client, hospital, admin_headers, query: str) -> None:
    for who in (hospital, admin_headers):
        r = await client.get(f"/api/v1/settlements?{query}", headers=who)
        assert r.status_code == 400 and code(r) == "INVALID_REQUEST", r.text


# ---------------------------------------------------------------- monthly reconcile (#14.1)


def submission(month: str = "2026-03", count_: Any = 0) -> dict[str, Any]:
    return {
        "month": month,
        "totals": [{"scheme": "resident", "count": count_, "total": "0.00", "fund_pay": "0.00", "account_pay": "0.00"}],
        "details": [],
    }


@pytest.mark.parametrize(
    "body",
    [
        submission(month="9999-12"),
        submission(month="0000-01"),
        submission(month="1899-12"),
        submission(month="2026-13"),
        submission(count_=10**30),
        submission(count_=-1),
        submission(count_=1e20),
    ],
    ids=["year-9999", "year-0", "year-1899", "month-13", "count-1e30", "count-negative", "count-float-1e20"],
)
async def test_a_reconcile_submission_out_of_bounds_is_a_400(client, hospital, sessionmaker, body) -> None:
    before = await count(sessionmaker, "reconcile_submissions")
    r = await client.post("/api/v1/reconcile/submissions", json=body, headers=hospital)
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST", r.text
    assert await count(sessionmaker, "reconcile_submissions") == before


@pytest.mark.parametrize(
    ("month", "totals", "csv"),
    [
        ("9999-12", '[{"scheme":"resident","count":0,"total":"0","fund_pay":"0","account_pay":"0"}]', ""),
        (
            "2026-03",
            '[{"scheme":"resident","count":1000000000000000000000000000000,"total":"0",'
            '"fund_pay":"0","account_pay":"0"}]',
            "",
        ),
        ("2026-03", "[]", "x,resident,1e30,0,0\n"),
        ("2026-03", "[]", "x,resident,-5.00,0,0\n"),
        ("2026-03", "[]", "x,resident,NaN,0,0\n"),
        ("2026-03", "[]", "x,nobody,1.00,0,0\n"),
    ],
    ids=["year-9999", "count-1e30", "amount-1e30", "amount-negative", "amount-nan", "scheme-unknown"],
)
async def test_a_reconcile_csv_upload_out_of_bounds_is_a_400(
    client, hospital, sessionmaker, month, totals, csv
) -> None:
    before = await count(sessionmaker, "reconcile_submissions")
    r = await client.post(
        "/api/v1/reconcile/submissions/csv",
        data={"month": month, "totals": totals},
        files={"details": ("d.csv", f"settlement_id,scheme,total,fund_pay,account_pay\n{csv}".encode())},
        headers=hospital,
    )
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST", r.text
    assert await count(sessionmaker, "reconcile_submissions") == before


# ---------------------------------------------------------------- jobs (#14.1, #14.2)


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2019-06-30", "x": 1e20},
        {"date": "2019-06-30", "x": 1e16},
        {"date": "2019-06-30", "x": 10**30},
        {"date": 1e20},
        {"date": "9999-12-31"},
        {"date": "0001-01-01"},
        {"date": "２０１９-06-30"},
        {},
    ],
    ids=["float-1e20", "float-1e16", "int-1e30", "date-float", "date-9999", "date-0001", "date-fullwidth", "missing"],
)
async def test_a_job_with_params_it_cannot_take_is_refused_and_nothing_is_written(
    client, admin_headers, sessionmaker, params: dict[str, Any]
) -> None:
    # given
    runs, audits = await count(sessionmaker, "job_runs"), await count(sessionmaker, "audit_log")
    # when: a daily settle whose params are not what the kind takes
    r = await client.post("/api/v1/jobs", json={"kind": "daily_settle", "params": params}, headers=admin_headers)
    # then: a 400 with a code, no run, no audit entry, and the list still answers
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST", r.text
    assert (await count(sessionmaker, "job_runs"), await count(sessionmaker, "audit_log")) == (runs, audits)
    listed = await client.get("/api/v1/jobs", headers=admin_headers)
    assert listed.status_code == 200, listed.text


async def test_a_stored_run_with_numbers_json_cannot_carry_still_lists(client, admin_headers, sessionmaker) -> None:
    """A row written before params were validated (a 10^20 in its params and result) must not
    turn every later listing into a 500."""
    import uuid

    # given: a run stored with out-of-range integers (as the unvalidated API stored them)
    rid = uuid.uuid4()
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO job_runs (id, kind, params, state, attempts, processed, requested_by, result) "
                "VALUES (:id, 'legacy_kind_of_test', CAST(:p AS jsonb), 'failed', 1, 0, 'pytest', CAST(:p AS jsonb))"
            ),
            {"id": rid, "p": '{"x": 100000000000000000000, "y": 1.5}'},
        )
    # when
    listed = await client.get("/api/v1/jobs?kind=legacy_kind_of_test", headers=admin_headers)
    one = await client.get(f"/api/v1/jobs/{rid}", headers=admin_headers)
    # then: both answer, the big number as a string
    assert listed.status_code == 200, listed.text
    assert one.status_code == 200, one.text
    assert one.json()["params"] == {"x": "100000000000000000000", "y": 1.5}


async def test_a_job_naming_an_unknown_region_is_refused(client, admin_headers, sessionmaker) -> None:
    runs = await count(sessionmaker, "job_runs")
    body = {"kind": "dip_presettle", "params": {"year": 2019, "month": 6, "region": "999999"}}
    r = await client.post("/api/v1/jobs", json=body, headers=admin_headers)
    assert r.status_code == 422 and code(r) == "UNKNOWN_REGION", r.text
    assert await count(sessionmaker, "job_runs") == runs


async def test_the_kinds_say_what_params_they_take(client, admin_headers) -> None:
    r = await client.get("/api/v1/jobs/kinds", headers=admin_headers)
    kinds = {k["kind"]: k["params"] for k in r.json()}
    assert kinds["daily_settle"] == {"date": "date"}
    assert kinds["year_end_clearing"] == {"year": "year", "commit": "flag?", "region": "region?"}
