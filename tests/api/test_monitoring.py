"""Smart monitoring through HTTP: rules as data, in-settlement rules, agreement actions, workflow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import httpx
import pytest_asyncio
from sqlalchemy import select

from api.schemas.settlements import SettleRequest
from tests.builders import idem, line, make_bill, make_person
from tests.monitoring.rows import own_institution
from yibao.audit.orm import AuditRow
from yibao.bill_settlement import service
from yibao.db.statements import SessionDb
from yibao.deductions.orm import DeductionRow
from yibao.errors import InstitutionNotActive
from yibao.institutions.orm import InstitutionRow
from yibao.monitoring.orm import SuspectRow
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import sweep
from yibao.people.orm import PersonRow

RULES = "/api/v1/monitoring/rules"


async def _token(sessionmaker, role: str, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from yibao.auth.tokens import create_staff_token

    async with sessionmaker() as s, s.begin():
        return {"Authorization": f"Bearer {await create_staff_token(s, role, name)}"}


@pytest_asyncio.fixture(scope="session")
async def staff(sessionmaker) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    return {
        "inspector": await _token(sessionmaker, "inspector", "insp-zhou"),
        "first": await _token(sessionmaker, "first_reviewer", "rev-li"),
        "second_same": await _token(sessionmaker, "second_reviewer", "rev-li"),
        "second": await _token(sessionmaker, "second_reviewer", "rev-wang"),
        "clerk": await _token(sessionmaker, "clerk", "clerk-chen"),
    }


def _inst(keys: dict[str, str], code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[code]}"}


# ---------------------------------------------------------------- rules as data


async def test_rules_are_listed_and_only_inspectors_change_them(client: httpx.AsyncClient, staff) -> None:
    r = await client.get(RULES, headers=staff["inspector"])
    assert r.status_code == 200
    by_id = {x["rule_id"]: x for x in r.json()}
    assert by_id["split_admission"]["params"] == {"days": 15} and by_id["split_admission"]["version"] >= 1
    assert by_id["deceased"]["locked"] and by_id["deceased"]["mode"] == "block"
    assert (await client.get(RULES, headers=staff["clerk"])).status_code == 403
    locked = await client.patch(f"{RULES}/deceased", json={"mode": "warn"}, headers=staff["inspector"])
    assert locked.status_code == 400 and locked.json()["error"]["code"] == "INVALID_REQUEST"
    bad = await client.patch(f"{RULES}/split_admission", json={"params": {"nope": 1}}, headers=staff["inspector"])
    assert bad.status_code == 400
    bad = await client.patch(f"{RULES}/split_admission", json={"params": {"days": "x"}}, headers=staff["inspector"])
    assert bad.status_code == 400
    bad = await client.patch(f"{RULES}/split_admission", json={"mode": "block"}, headers=staff["inspector"])
    assert bad.status_code == 400


async def test_units_per_day_warns_then_blocks_once_staff_say_so(client, admin_headers, hospital, staff) -> None:
    # given a bed fee twice on one outpatient day (limit 1 per day)
    idn = await make_person(client, admin_headers)
    bill = make_bill(idn, [line("S-BED-2", "2", "40.00")])
    r = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    assert r.status_code == 200 and "units_per_day" in {w["rule"] for w in r.json()["warnings"]}
    # when an inspector switches the rule to block (a new version, audited)
    r = await client.patch(f"{RULES}/units_per_day", json={"mode": "block", "note": "t"}, headers=staff["inspector"])
    assert r.status_code == 200 and r.json()["mode"] == "block"
    try:
        # then the bill is refused with a clear code, nothing written
        r = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
        assert r.status_code == 422 and r.json()["error"]["code"] == "RULE_BLOCKED"
        assert "units_per_day" in r.json()["error"]["message"]
        # and a near miss (1 unit) still settles
        ok = await client.post(
            "/api/v1/settlements", json=make_bill(idn, [line("S-BED-2", "1", "40.00")]), headers={**hospital, **idem()}
        )
        assert ok.status_code == 201, ok.text
    finally:
        r = await client.patch(f"{RULES}/units_per_day", json={"mode": "warn"}, headers=staff["inspector"])
        assert r.status_code == 200


async def test_region_switch_turns_a_warning_off(client, admin_headers, hospital, staff) -> None:
    idn = await make_person(client, admin_headers)
    bill = make_bill(idn, [line("D-AMOX-250", "1", "12.00", days_supply=30, trace_codes=["TSW1" + idn])])
    r = await client.put(f"{RULES}/days_supply/regions/430522", json={"enabled": False}, headers=staff["inspector"])
    assert r.status_code == 200 and r.json()["regions"] == {"430522": False}
    try:
        r = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
        assert "days_supply" not in {w["rule"] for w in r.json()["warnings"]}
    finally:
        await client.put(f"{RULES}/days_supply/regions/430522", json={"enabled": True}, headers=staff["inspector"])
    r = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    assert "days_supply" in {w["rule"] for w in r.json()["warnings"]}


async def test_outpatient_elsewhere_during_a_stay_warns(client, admin_headers, institution_keys) -> None:
    # given a settled stay at the TCM hospital from 03-01 to 03-10
    idn = await make_person(client, admin_headers)
    tcm, county = _inst(institution_keys, "H430522101"), _inst(institution_keys, "H430522100")
    stay = make_bill(
        idn,
        [line("S-BED-2", "9", "40.00", day="2026-03-02")],
        visit_type="inpatient",
        admitted_on="2026-03-01",
        service_date="2026-03-10",
    )
    assert (await client.post("/api/v1/settlements", json=stay, headers={**tcm, **idem()})).status_code == 201
    # when an outpatient bill at another hospital is dated inside the stay
    inside = await client.post(
        "/api/v1/settlements", json=make_bill(idn, service_date="2026-03-05"), headers={**county, **idem()}
    )
    # then it settles with a warning; on the discharge day (near miss) or at the same hospital it does not
    assert inside.status_code == 201
    assert "inpatient_overlap" in {w["rule"] for w in inside.json()["warnings"]}
    for headers, day in ((county, "2026-03-10"), (tcm, "2026-03-05")):
        bill = make_bill(idn, service_date=day)
        r = await client.post("/api/v1/settlements", json=bill, headers={**headers, **idem()})
        assert r.status_code == 201 and "inpatient_overlap" not in {w["rule"] for w in r.json()["warnings"]}


# ---------------------------------------------------------------- agreement actions


async def test_suspension_takes_effect_at_once_even_with_a_stale_cache(
    client, app, admin_headers, institution_keys, staff, sessionmaker
) -> None:
    clinic = _inst(institution_keys, "H430522010")
    idn = await make_person(client, admin_headers)
    stale = await app.state.runtime.refs.get()  # what another API process may still hold for seconds
    assert stale.institutions["H430522010"].agreement == "active"
    r = await client.post(
        "/api/v1/monitoring/institutions/H430522010/agreement-actions",
        json={"action": "suspend", "days": 30, "reason": "查实违规"},
        headers=staff["inspector"],
    )
    assert r.status_code == 201 and r.json()["suspended_until"]
    try:
        r = await client.post("/api/v1/settlements", json=make_bill(idn), headers={**clinic, **idem()})
        assert r.status_code == 403 and r.json()["error"]["code"] == "INSTITUTION_NOT_ACTIVE"
        # the settle path reads the agreement in its own transaction, whatever the cached copy says
        cmd = SettleRequest.model_validate(make_bill(idn)).to_command()
        async with sessionmaker() as s:
            try:
                await service.preview(SessionDb(s), stale, stale.institutions["H430522010"], cmd)
                raise AssertionError("a stale cache let a suspended institution settle")
            except InstitutionNotActive:
                pass
    finally:
        r = await client.post(
            "/api/v1/monitoring/institutions/H430522010/agreement-actions",
            json={"action": "reinstate", "reason": "整改完成"},
            headers=staff["inspector"],
        )
        assert r.status_code == 201
    r = await client.post("/api/v1/settlements", json=make_bill(idn), headers={**clinic, **idem()})
    assert r.status_code == 201, r.text
    again = await client.post(
        "/api/v1/monitoring/institutions/H430522010/agreement-actions",
        json={"action": "reinstate", "reason": "x"},
        headers=staff["inspector"],
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "INVALID_STATE"


# ---------------------------------------------------------------- workflow
#
# Each workflow test owns its hospital (a committed row of its own, see tests/monitoring/rows.py)
# and person, and runs the split-admission model for that person only: no other test's bills
# become suspects here, and the deductions and credit grade asserted are this test's alone.


@dataclass(frozen=True)
class Suspect:
    id: int
    url: str
    amount: int  # fen
    institution_code: str
    headers: dict[str, str]  # the institution's


async def _split_admission_suspect(  # type: ignore[no-untyped-def]
    client, admin_headers, sessionmaker, hospital: tuple[str, dict[str, str]]
) -> Suspect:
    code, headers = hospital
    idn = await make_person(client, admin_headers)
    for admitted, discharged in (("2026-04-01", "2026-04-06"), ("2026-04-11", "2026-04-16")):
        stay = make_bill(
            idn,
            [line("S-APPX", "1", "1500.00", day=admitted)],
            visit_type="inpatient",
            admitted_on=admitted,
            service_date=discharged,
        )
        r = await client.post("/api/v1/settlements", json=stay, headers={**headers, **idem()})
        assert r.status_code == 201, r.text
    readmission = r.json()["settlement_id"]
    async with sessionmaker() as s, s.begin():
        pid = await s.scalar(select(PersonRow.id).where(PersonRow.id_number == idn))
        found = await sweep(
            s, await load_rules(s), date(2026, 4, 1), date(2026, 4, 30), persons=[pid], only=["split_admission"]
        )
    assert found == {"split_admission": 1}
    async with sessionmaker() as s:
        row = await s.scalar(
            select(SuspectRow).where(SuspectRow.rule_id == "split_admission", SuspectRow.evidence_key == readmission)
        )
    assert row is not None and row.institution_code == code
    assert row.amount == int(r.json()["totals"]["fund_total"].replace(".", "")) > 0
    return Suspect(row.id, f"/api/v1/monitoring/suspects/{row.id}", row.amount, code, headers)


async def _deductions(sessionmaker, suspect: Suspect) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        booked = await s.scalars(select(DeductionRow).where(DeductionRow.source == f"suspect:{suspect.id}"))
        return {d.kind: d.amount for d in booked}


async def _grade(sessionmaker, code: str) -> str:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return str(await s.scalar(select(InstitutionRow.credit_grade).where(InstitutionRow.code == code)))


def _refused(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


async def test_confirmed_suspect_books_deduction_and_penalty_with_two_reviewers(
    client, admin_headers, institution_keys, staff, sessionmaker
) -> None:
    # given a new split-admission suspect at a hospital of this test's own
    sus = await _split_admission_suspect(
        client, admin_headers, sessionmaker, await own_institution(sessionmaker, client, admin_headers)
    )
    url, own, other = sus.url, sus.headers, _inst(institution_keys, "H430522101")
    # a new suspect is not visible to the institution until pushed; never to another institution
    _refused(await client.get(url, headers=own), 404, "NOT_FOUND")
    r = await client.post(f"{url}/push", headers=staff["inspector"])
    assert r.status_code == 200 and r.json()["status"] == "pushed"
    assert (await client.get(url, headers=own)).json()["amount"] == r.json()["amount"]
    _refused(await client.get(url, headers=other), 404, "NOT_FOUND")
    _refused(await client.post(f"{url}/appeal", json={"text": "x"}, headers=other), 404, "NOT_FOUND")
    listed = await client.get("/api/v1/monitoring/suspects", headers=other)
    assert sus.id not in {x["id"] for x in listed.json()["items"]}
    mine = await client.get("/api/v1/monitoring/suspects", headers=own)
    assert [x["id"] for x in mine.json()["items"]] == [sus.id]
    # the institution appeals with evidence
    r = await client.post(
        f"{url}/appeal",
        headers=own,
        json={"text": "病情需要 medically needed", "attachments": [{"name": "病程.pdf", "url": "https://his/att/1"}]},
    )
    assert r.status_code == 200 and r.json()["status"] == "appealed"
    _refused(await client.post(f"{url}/refund", json={}, headers=own), 409, "INVALID_STATE")
    # second review before the first is refused; a clerk cannot review
    early = await client.post(f"{url}/review", json={"stage": "second", "decision": "confirm"}, headers=staff["second"])
    _refused(early, 409, "INVALID_STATE")
    clerk = await client.post(f"{url}/review", json={"stage": "first", "decision": "confirm"}, headers=staff["clerk"])
    _refused(clerk, 403, "FORBIDDEN")
    r = await client.post(
        f"{url}/review", json={"stage": "first", "decision": "confirm", "penalty_multiple": 2}, headers=staff["first"]
    )
    assert r.status_code == 200 and r.json()["status"] == "first_reviewed"
    # the same person cannot do the second review
    same = await client.post(
        f"{url}/review", json={"stage": "second", "decision": "confirm"}, headers=staff["second_same"]
    )
    _refused(same, 403, "SAME_ACTOR")
    assert await _grade(sessionmaker, sus.institution_code) == "A"
    r = await client.post(f"{url}/review", json={"stage": "second", "decision": "confirm"}, headers=staff["second"])
    assert r.status_code == 200 and r.json()["status"] == "confirmed" and r.json()["penalty_multiple"] == 2
    assert await _deductions(sessionmaker, sus) == {"violation": sus.amount, "penalty": 2 * sus.amount}
    # one confirmed violation in the window: grade B (thresholds B 1, C 3, D 5)
    assert await _grade(sessionmaker, sus.institution_code) == "B"
    # a confirmed suspect is final
    again = await client.post(f"{url}/review", json={"stage": "second", "decision": "dismiss"}, headers=staff["second"])
    _refused(again, 409, "INVALID_STATE")


async def test_refund_closes_a_pushed_suspect(client, admin_headers, staff, sessionmaker) -> None:
    sus = await _split_admission_suspect(
        client, admin_headers, sessionmaker, await own_institution(sessionmaker, client, admin_headers)
    )
    url = sus.url
    _refused(await client.post(f"{url}/refund", json={}, headers=sus.headers), 404, "NOT_FOUND")  # not pushed yet
    await client.post(f"{url}/push", headers=staff["inspector"])
    _refused(await client.post(f"{url}/push", headers=staff["inspector"]), 409, "INVALID_STATE")
    r = await client.post(f"{url}/refund", json={"note": "同意退回"}, headers=sus.headers)
    assert r.status_code == 200 and r.json()["status"] == "refunded"
    assert await _deductions(sessionmaker, sus) == {"violation": sus.amount}
    bad = await client.post(f"{url}/review", json={"stage": "first", "decision": "confirm"}, headers=staff["first"])
    _refused(bad, 409, "INVALID_STATE")
    assert await _grade(sessionmaker, sus.institution_code) == "A"  # a self-correction is not a violation


async def test_a_dismissed_suspect_refuses_every_further_step(client, admin_headers, staff, sessionmaker) -> None:
    # given a pushed suspect that the institution appealed and both reviewers dismissed, with a reason
    sus = await _split_admission_suspect(
        client, admin_headers, sessionmaker, await own_institution(sessionmaker, client, admin_headers)
    )
    url = sus.url
    assert (await client.post(f"{url}/push", headers=staff["inspector"])).status_code == 200
    r = await client.post(f"{url}/appeal", json={"text": "转院后再入院 readmitted after transfer"}, headers=sus.headers)
    assert r.status_code == 200
    first = {"stage": "first", "decision": "dismiss", "note": "病历支持再入院"}
    assert (await client.post(f"{url}/review", json=first, headers=staff["first"])).status_code == 200
    reason = "病情变化, 非分解住院 condition changed: not a split admission"
    r = await client.post(
        f"{url}/review", json={"stage": "second", "decision": "dismiss", "note": reason}, headers=staff["second"]
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["second_reviewer"], r.json()["penalty_multiple"]) == (
        "dismissed",
        "rev-wang",
        None,
    )
    # when anyone tries to act on it, then every step is refused as INVALID_STATE (409)
    steps = [
        ("push", staff["inspector"], None),
        ("refund", sus.headers, {"note": "x"}),
        ("appeal", sus.headers, {"text": "x"}),
        ("review", staff["first"], {"stage": "first", "decision": "confirm", "penalty_multiple": 1}),
        ("review", staff["second"], {"stage": "second", "decision": "confirm", "penalty_multiple": 1}),
        ("review", staff["second"], {"stage": "second", "decision": "dismiss"}),
    ]
    for step, headers, body in steps:
        _refused(await client.post(f"{url}/{step}", json=body, headers=headers), 409, "INVALID_STATE")
    # and nothing was booked, the grade is untouched, the institution still sees the outcome and the reason is audited
    assert await _deductions(sessionmaker, sus) == {}
    assert await _grade(sessionmaker, sus.institution_code) == "A"
    assert (await client.get(url, headers=sus.headers)).json()["status"] == "dismissed"
    async with sessionmaker() as s:
        audited = (
            await s.scalars(
                select(AuditRow)
                .where(AuditRow.subject_type == "suspect", AuditRow.subject_id == str(sus.id))
                .order_by(AuditRow.id)
            )
        ).all()
    assert [a.action for a in audited] == [
        "suspect.pushed",
        "suspect.appealed",
        "suspect.first_reviewed",
        "suspect.dismissed",
    ]
    assert audited[-1].actor == "rev-wang" and audited[-1].detail["note"] == reason


async def test_penalty_multiple_is_refused_outside_1_to_5_and_accepted_at_both_edges(
    client, admin_headers, staff, sessionmaker
) -> None:
    # given two pushed suspects at a hospital of this test's own (bounds: penalty rule 1–5)
    hospital = await own_institution(sessionmaker, client, admin_headers)
    low, high = [await _split_admission_suspect(client, admin_headers, sessionmaker, hospital) for _ in range(2)]
    for sus in (low, high):
        assert (await client.post(f"{sus.url}/push", headers=staff["inspector"])).status_code == 200
    r = await client.get(RULES, headers=staff["inspector"])
    assert {x["rule_id"]: x for x in r.json()}["penalty"]["params"] == {"min_multiple": 1, "max_multiple": 5}

    def review(stage: str, multiple: int | None) -> dict[str, object]:
        return {"stage": stage, "decision": "confirm", "penalty_multiple": multiple}

    # when the first review asks for 0× or 6×, then it is refused (400 INVALID_REQUEST) and nothing moves
    for multiple in (0, 6):
        bad = await client.post(f"{low.url}/review", json=review("first", multiple), headers=staff["first"])
        _refused(bad, 400, "INVALID_REQUEST")
        assert "penalty_multiple" in bad.json()["error"]["message"]
    assert (await client.get(low.url, headers=staff["inspector"])).json()["status"] == "pushed"
    # when it asks for exactly 1× and 5×, then both are accepted
    for sus, multiple in ((low, 1), (high, 5)):
        r = await client.post(f"{sus.url}/review", json=review("first", multiple), headers=staff["first"])
        assert r.status_code == 200 and r.json()["status"] == "first_reviewed", r.text
    # and the second review is held to the same bounds
    for multiple in (0, 6):
        bad = await client.post(f"{low.url}/review", json=review("second", multiple), headers=staff["second"])
        _refused(bad, 400, "INVALID_REQUEST")
    assert (await client.get(low.url, headers=staff["inspector"])).json()["status"] == "first_reviewed"
    # and confirming at the edges books amount × 1 and amount × 5
    for sus, multiple in ((low, 1), (high, 5)):
        r = await client.post(f"{sus.url}/review", json=review("second", multiple), headers=staff["second"])
        assert r.status_code == 200 and r.json()["penalty_multiple"] == multiple, r.text
        assert await _deductions(sessionmaker, sus) == {"violation": sus.amount, "penalty": multiple * sus.amount}
    assert await _grade(sessionmaker, hospital[0]) == "B"  # two confirmed: B (C from 3)


async def test_penalty_bounds_follow_the_rule_data(client, admin_headers, staff, sessionmaker) -> None:
    # given an inspector narrows the penalty rule to 2–4 (a new rule version)
    sus = await _split_admission_suspect(
        client, admin_headers, sessionmaker, await own_institution(sessionmaker, client, admin_headers)
    )
    assert (await client.post(f"{sus.url}/push", headers=staff["inspector"])).status_code == 200
    narrow = {"params": {"min_multiple": 2, "max_multiple": 4}, "note": "区域从严"}
    r = await client.patch(f"{RULES}/penalty", json=narrow, headers=staff["inspector"])
    assert r.status_code == 200, r.text
    try:
        # when a review asks for 1× or 5× (inside the schema's 1–5), then the rule refuses it
        for multiple in (1, 5):
            body = {"stage": "first", "decision": "confirm", "penalty_multiple": multiple}
            bad = await client.post(f"{sus.url}/review", json=body, headers=staff["first"])
            _refused(bad, 400, "INVALID_REQUEST")
            assert "between 2 and 4" in bad.json()["error"]["message"]
        # and 2× at the first review, 4× at the second are accepted
        body = {"stage": "first", "decision": "confirm", "penalty_multiple": 2}
        assert (await client.post(f"{sus.url}/review", json=body, headers=staff["first"])).status_code == 200
        body = {"stage": "second", "decision": "confirm", "penalty_multiple": 4}
        r = await client.post(f"{sus.url}/review", json=body, headers=staff["second"])
        assert r.status_code == 200 and r.json()["penalty_multiple"] == 4, r.text
        assert await _deductions(sessionmaker, sus) == {"violation": sus.amount, "penalty": 4 * sus.amount}
    finally:
        wide = {"params": {"min_multiple": 1, "max_multiple": 5}, "note": "恢复"}
        assert (await client.patch(f"{RULES}/penalty", json=wide, headers=staff["inspector"])).status_code == 200
