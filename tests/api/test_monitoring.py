"""Smart monitoring through HTTP: rules as data, in-settlement rules, agreement actions, workflow."""

from __future__ import annotations

from datetime import date

import httpx
import pytest_asyncio
from sqlalchemy import select

from api.schemas.settlements import SettleRequest
from tests.builders import idem, line, make_bill, make_person
from yibao.bill_settlement import service
from yibao.db.statements import SessionDb
from yibao.deductions.orm import DeductionRow
from yibao.errors import InstitutionNotActive
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import sweep

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


async def _split_admission_suspect(client, admin_headers, institution_keys, sessionmaker) -> int:  # type: ignore[no-untyped-def]
    idn = await make_person(client, admin_headers)
    county = _inst(institution_keys, "H430522100")
    first = make_bill(
        idn,
        [line("S-APPX", "1", "1500.00", day="2026-04-02")],
        visit_type="inpatient",
        admitted_on="2026-04-01",
        service_date="2026-04-06",
    )
    second = make_bill(
        idn,
        [line("S-APPX", "1", "1500.00", day="2026-04-12")],
        visit_type="inpatient",
        admitted_on="2026-04-11",
        service_date="2026-04-16",
    )
    assert (await client.post("/api/v1/settlements", json=first, headers={**county, **idem()})).status_code == 201
    r = await client.post("/api/v1/settlements", json=second, headers={**county, **idem()})
    assert r.status_code == 201
    readmission = r.json()["settlement_id"]
    async with sessionmaker() as s, s.begin():
        await sweep(s, await load_rules(s), date(2026, 4, 1), date(2026, 4, 30), only=["split_admission"])
    from yibao.monitoring.orm import SuspectRow

    async with sessionmaker() as s:
        sid = await s.scalar(
            select(SuspectRow.id).where(SuspectRow.rule_id == "split_admission", SuspectRow.evidence_key == readmission)
        )
    assert sid is not None
    return int(sid)


async def test_confirmed_suspect_books_deduction_and_penalty_with_two_reviewers(
    client, admin_headers, institution_keys, staff, sessionmaker
) -> None:
    sid = await _split_admission_suspect(client, admin_headers, institution_keys, sessionmaker)
    url = f"/api/v1/monitoring/suspects/{sid}"
    county, other = _inst(institution_keys, "H430522100"), _inst(institution_keys, "H430522101")
    # a new suspect is not visible to the institution until pushed; never to another institution
    assert (await client.get(url, headers=county)).status_code == 404
    r = await client.post(f"{url}/push", headers=staff["inspector"])
    assert r.status_code == 200 and r.json()["status"] == "pushed"
    assert (await client.get(url, headers=county)).json()["amount"] == r.json()["amount"]
    assert (await client.get(url, headers=other)).status_code == 404
    assert (await client.post(f"{url}/appeal", json={"text": "x"}, headers=other)).status_code == 404
    listed = await client.get("/api/v1/monitoring/suspects", headers=other)
    assert sid not in {x["id"] for x in listed.json()["items"]}
    # the institution appeals with evidence
    r = await client.post(
        f"{url}/appeal",
        headers=county,
        json={"text": "病情需要 medically needed", "attachments": [{"name": "病程.pdf", "url": "https://his/att/1"}]},
    )
    assert r.status_code == 200 and r.json()["status"] == "appealed"
    assert (await client.post(f"{url}/refund", json={}, headers=county)).status_code == 409
    # second review before the first is refused; a clerk cannot review
    early = await client.post(f"{url}/review", json={"stage": "second", "decision": "confirm"}, headers=staff["second"])
    assert early.status_code == 409 and early.json()["error"]["code"] == "INVALID_STATE"
    assert (
        await client.post(f"{url}/review", json={"stage": "first", "decision": "confirm"}, headers=staff["clerk"])
    ).status_code == 403
    r = await client.post(
        f"{url}/review", json={"stage": "first", "decision": "confirm", "penalty_multiple": 2}, headers=staff["first"]
    )
    assert r.status_code == 200 and r.json()["status"] == "first_reviewed"
    # the same person cannot do the second review
    same = await client.post(
        f"{url}/review", json={"stage": "second", "decision": "confirm"}, headers=staff["second_same"]
    )
    assert same.status_code == 403 and same.json()["error"]["code"] == "SAME_ACTOR"
    r = await client.post(f"{url}/review", json={"stage": "second", "decision": "confirm"}, headers=staff["second"])
    assert r.status_code == 200 and r.json()["status"] == "confirmed" and r.json()["penalty_multiple"] == 2
    amount = int(r.json()["amount"].replace(".", ""))
    async with sessionmaker() as s:
        booked = await s.scalars(select(DeductionRow).where(DeductionRow.source == f"suspect:{sid}"))
        rows = {d.kind: d.amount for d in booked}
    assert rows == {"violation": amount, "penalty": 2 * amount}
    # a confirmed suspect is final
    r = await client.post(f"{url}/review", json={"stage": "second", "decision": "dismiss"}, headers=staff["second"])
    assert r.status_code == 409


async def test_refund_closes_a_pushed_suspect(client, admin_headers, institution_keys, staff, sessionmaker) -> None:
    sid = await _split_admission_suspect(client, admin_headers, institution_keys, sessionmaker)
    url = f"/api/v1/monitoring/suspects/{sid}"
    county = _inst(institution_keys, "H430522100")
    assert (await client.post(f"{url}/refund", json={}, headers=county)).status_code == 404  # not pushed yet
    await client.post(f"{url}/push", headers=staff["inspector"])
    assert (await client.post(f"{url}/push", headers=staff["inspector"])).status_code == 409
    r = await client.post(f"{url}/refund", json={"note": "同意退回"}, headers=county)
    assert r.status_code == 200 and r.json()["status"] == "refunded"
    async with sessionmaker() as s:
        kinds = [d.kind for d in await s.scalars(select(DeductionRow).where(DeductionRow.source == f"suspect:{sid}"))]
    assert kinds == ["violation"]
    bad = await client.post(f"{url}/review", json={"stage": "first", "decision": "confirm"}, headers=staff["first"])
    assert bad.status_code == 409
