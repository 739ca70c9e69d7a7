"""Chronic disease recognitions and the gated chronic tier (issue #17, DOMAIN §9), through the API.

Recognitions are approved on 2026-03-01 (clock frozen), so they are valid for the bills of
2026-03-02 (the builders' default service date); every test owns its fresh person."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.builders import idem, line, make_bill, make_person
from tests.settlement.helpers import at, china, own_institution, own_region
from yibao.audit.orm import AuditRow
from yibao.auth.tokens import create_staff_token
from yibao.config import REPO_ROOT
from yibao.money import yuan_to_fen as fen

_RUN = secrets.token_hex(3)
EVIDENCE = [{"sha256": "ab" * 32, "name": "门诊病历.pdf", "type": "medical_record"}]
BASE = "/api/v1/chronic-recognitions"


async def staff(sessionmaker, role: str, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        return {"Authorization": f"Bearer {await create_staff_token(s, role, f'{name}-{_RUN}')}"}


@pytest.fixture
async def team(sessionmaker) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    tag = secrets.token_hex(2)
    return {
        "clerk": await staff(sessionmaker, "clerk", f"clerk-{tag}"),
        "clerk_admin": await staff(sessionmaker, "admin", f"clerk-{tag}"),  # the clerk, as admin
        "a": await staff(sessionmaker, "first_reviewer", f"rev-a-{tag}"),
        "a_second": await staff(sessionmaker, "second_reviewer", f"rev-a-{tag}"),  # reviewer a, other role
        "b": await staff(sessionmaker, "second_reviewer", f"rev-b-{tag}"),
        "admin": await staff(sessionmaker, "admin", f"admin-{tag}"),
    }


async def apply(
    client: httpx.AsyncClient,
    clerk: dict[str, str],
    idn: str,
    disease: str = "HTN",
    diagnosis: str = "I10",
    **extra: Any,
) -> httpx.Response:
    body = {"id_number": idn, "disease": disease, "diagnosis": diagnosis, "evidence": EVIDENCE, **extra}
    return await client.post(BASE, json=body, headers=clerk)


async def recognise(
    client: httpx.AsyncClient,
    team: dict[str, dict[str, str]],
    idn: str,
    disease: str = "HTN",
    diagnosis: str = "I10",
    on: datetime | None = None,
) -> dict[str, Any]:
    """Apply and approve through both reviews ``on`` (default 2026-03-01)."""
    with at(on or china(2026, 3, 1)):
        r = await apply(client, team["clerk"], idn, disease, diagnosis)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert (await client.post(f"{BASE}/{rid}/approve", headers=team["a"])).status_code == 200
        r = await client.post(f"{BASE}/{rid}/approve", headers=team["b"])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def chronic_bill(
    idn: str, disease: str | None = "HTN", qty: str = "1", day: str = "2026-03-02", **extra: Any
) -> dict[str, Any]:
    bill = make_bill(
        idn, [line("S-BLRT", qty, "20.00", day=day)], visit_type="chronic_outpatient", service_date=day, **extra
    )
    if disease is not None:
        bill["chronic_disease"] = disease
    return bill


async def test_two_reviews_by_two_people_approve_for_the_disease_validity(
    client, admin_headers, team, sessionmaker
) -> None:
    idn = await make_person(client, admin_headers)
    with at(china(2026, 3, 1)):
        r = await apply(client, team["clerk"], idn)
        assert r.status_code == 201, r.text
        rec = r.json()
        assert rec["status"] == "applied" and rec["disease_name"] == "高血压" and rec["valid_from"] is None
        rid = rec["id"]
        # a second open application of the same disease is a duplicate
        assert (await apply(client, team["clerk"], idn)).json()["error"]["code"] == "DUPLICATE"
        # the filing clerk cannot review, even as admin; step 1 needs a first reviewer
        assert (await client.post(f"{BASE}/{rid}/approve", headers=team["clerk_admin"])).json()["error"][
            "code"
        ] == "SAME_ACTOR"
        assert (await client.post(f"{BASE}/{rid}/approve", headers=team["b"])).json()["error"]["code"] == "FORBIDDEN"
        first = await client.post(f"{BASE}/{rid}/approve", headers=team["a"])
        assert first.status_code == 200 and first.json()["status"] == "first_reviewed"
        # the first reviewer cannot also take the second review, in another role either
        same = await client.post(f"{BASE}/{rid}/approve", headers=team["a_second"])
        assert same.status_code == 403 and same.json()["error"]["code"] == "SAME_ACTOR"
        done = await client.post(f"{BASE}/{rid}/approve", headers=team["b"])
    assert done.status_code == 200, done.text
    approved = done.json()
    assert approved["status"] == "approved"
    assert (approved["valid_from"], approved["valid_to"]) == ("2026-03-01", "2028-02-29")  # 24 months
    again = await client.post(f"{BASE}/{rid}/approve", headers=team["admin"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "INVALID_STATE"

    listed = await client.get(BASE, params={"id_number": idn}, headers=team["a"])
    assert [i["id"] for i in listed.json()["items"]] == [rid]
    assert (await client.get(f"{BASE}/{rid}", headers=team["clerk"])).json()["status"] == "approved"
    async with sessionmaker() as session:  # every step is in the audit chain, by its actor
        rows = (
            await session.execute(
                select(AuditRow.action, AuditRow.actor)
                .where(AuditRow.subject_type == "chronic_recognition", AuditRow.subject_id == rid)
                .order_by(AuditRow.id)
            )
        ).all()
    assert [a for a, _ in rows] == [
        "chronic_recognition.applied",
        "chronic_recognition.first_reviewed",
        "chronic_recognition.approved",
    ]
    assert len({actor for _, actor in rows}) == 3


async def test_bad_applications_are_refused(client, admin_headers, team) -> None:
    idn = await make_person(client, admin_headers)
    unknown = await apply(client, team["clerk"], idn, disease="FLU", diagnosis="J10")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "INVALID_REQUEST"
    wrong = await apply(client, team["clerk"], idn, disease="DM", diagnosis="I10")
    assert wrong.status_code == 400 and "E10" in wrong.json()["error"]["message"]
    no_evidence = await client.post(
        BASE, json={"id_number": idn, "disease": "HTN", "diagnosis": "I10", "evidence": []}, headers=team["clerk"]
    )
    assert no_evidence.status_code in (400, 422)
    nobody = await apply(client, team["clerk"], "430522199001010000")
    assert nobody.status_code in (400, 404)
    assert (await client.get(BASE, params={"id_number": idn}, headers=team["a"])).json()["items"] == []


async def test_chronic_bill_refused_before_approval_and_paid_after(client, admin_headers, hospital, team) -> None:
    idn = await make_person(client, admin_headers)
    bill = chronic_bill(idn, qty="10")  # 200.00 of blood tests, all policy range
    for path in ("/api/v1/settlements/preview", "/api/v1/settlements"):
        r = await client.post(path, json=bill, headers={**hospital, **idem()})
        assert r.status_code == 422 and r.json()["error"]["code"] == "CHRONIC_NOT_RECOGNISED", r.text
    # a bill without a disease and without a diagnosis of one is refused alike
    r = await client.post("/api/v1/settlements", json=chronic_bill(idn, None), headers={**hospital, **idem()})
    assert r.json()["error"]["code"] == "CHRONIC_NOT_RECOGNISED"

    # applied and first-reviewed is not yet recognised
    with at(china(2026, 3, 1)):
        rid = (await apply(client, team["clerk"], idn)).json()["id"]
        await client.post(f"{BASE}/{rid}/approve", headers=team["a"])
    r = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    assert r.json()["error"]["code"] == "CHRONIC_NOT_RECOGNISED"
    with at(china(2026, 3, 1)):
        assert (await client.post(f"{BASE}/{rid}/approve", headers=team["b"])).json()["status"] == "approved"

    # before the approval day the recognition does not hold
    early = chronic_bill(idn, day="2026-02-28")
    r = await client.post("/api/v1/settlements", json=early, headers={**hospital, **idem()})
    assert r.json()["error"]["code"] == "CHRONIC_NOT_RECOGNISED"

    r = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    assert r.status_code == 201, r.text
    paid = r.json()
    assert paid["totals"]["basic_fund"] == "130.00"  # resident level 2 chronic ratio 0.65 × 200.00
    assert any("HTN 高血压" in e["detail"] and rid in e["detail"] for e in paid["explanation"])
    # another disease than the recognised one, or a diagnosis outside it, is not recognised
    for other in (chronic_bill(idn, "DM"), chronic_bill(idn, "HTN", diagnoses=["E11.9"])):
        r = await client.post("/api/v1/settlements", json=other, headers={**hospital, **idem()})
        assert r.json()["error"]["code"] == "CHRONIC_NOT_RECOGNISED", r.text
    # the disease may come from the diagnosis alone
    by_diagnosis = chronic_bill(idn, None, diagnoses=["I10"])
    r = await client.post("/api/v1/settlements", json=by_diagnosis, headers={**hospital, **idem()})
    assert r.status_code == 201 and r.json()["totals"]["basic_fund"] == "13.00", r.text


async def test_rejected_and_revoked_recognitions_do_not_pay(client, admin_headers, hospital, team) -> None:
    idn = await make_person(client, admin_headers)
    rid = (await apply(client, team["clerk"], idn)).json()["id"]
    r = await client.post(f"{BASE}/{rid}/reject", json={"reason": "血压记录不全"}, headers=team["a"])
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["reason"] == "血压记录不全"
    r = await client.post("/api/v1/settlements", json=chronic_bill(idn), headers={**hospital, **idem()})
    assert r.json()["error"]["code"] == "CHRONIC_NOT_RECOGNISED"

    rec = await recognise(client, team, idn)  # a new application after the rejection
    assert (
        await client.post("/api/v1/settlements", json=chronic_bill(idn), headers={**hospital, **idem()})
    ).status_code == 201
    assert (
        await client.post(f"{BASE}/{rec['id']}/revoke", json={"reason": "复审不符"}, headers=team["a"])
    ).status_code == 403
    r = await client.post(f"{BASE}/{rec['id']}/revoke", json={"reason": "复审不符"}, headers=team["admin"])
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    r = await client.post("/api/v1/settlements", json=chronic_bill(idn), headers={**hospital, **idem()})
    assert r.json()["error"]["code"] == "CHRONIC_NOT_RECOGNISED"


async def test_expiry_and_the_rereview_list(client, admin_headers, team) -> None:
    idn = await make_person(client, admin_headers)
    rec = await recognise(client, team, idn, "ESRD", "N18.5")  # approved on 2026-03-01; ESRD lasts 12 months
    assert rec["valid_to"] == "2027-02-28"
    due = await client.get(
        BASE, params={"disease": "ESRD", "expiring_before": "2027-03-01", "id_number": idn}, headers=team["a"]
    )
    assert [i["id"] for i in due.json()["items"]] == [rec["id"]]
    assert (
        await client.get(BASE, params={"expiring_before": "2027-02-28", "id_number": idn}, headers=team["a"])
    ).json()["items"] == []
    with at(china(2027, 3, 1)):
        assert (await client.get(f"{BASE}/{rec['id']}", headers=team["a"])).json()["status"] == "expired"
        expired = await client.get(BASE, params={"status": "expired", "id_number": idn}, headers=team["a"])
        assert [i["id"] for i in expired.json()["items"]] == [rec["id"]]


async def test_disease_limit_holds_under_20_concurrent_bills_and_cancel_restores_it(
    client, admin_headers, hospital, team
) -> None:
    idn = await make_person(client, admin_headers)
    await recognise(client, team, idn)

    async def one() -> httpx.Response:  # 400.00 policy range: 260.00 wanted each
        return await client.post(
            "/api/v1/settlements", json=chronic_bill(idn, qty="20"), headers={**hospital, **idem()}
        )

    responses = await asyncio.gather(*(one() for _ in range(20)))
    assert {r.status_code for r in responses} == {201}
    basic = [fen(r.json()["totals"]["basic_fund"]) for r in responses]
    assert sum(basic) == fen("1500.00")  # HTN resident limit; 20 × 260.00 wanted

    # cancelling a paid bill gives its part of the limit back to the next bill
    paid = next(r.json() for r, b in zip(responses, basic, strict=True) if b == fen("260.00"))
    r = await client.post(f"/api/v1/settlements/{paid['settlement_id']}/cancel", headers=hospital)
    assert r.status_code == 200, r.text
    again = await one()
    assert again.json()["totals"]["basic_fund"] == "260.00"
    assert (await one()).json()["totals"]["basic_fund"] == "0.00"


async def test_a_region_may_settle_unrecognised_bills_as_outpatient_and_list_a_disease_items(
    client, admin_headers, sessionmaker, team
) -> None:
    doc = json.loads((REPO_ROOT / "data" / "reference" / "policy-2026.json").read_text("utf-8"))
    diseases = doc["chronic_diseases"]
    next(d for d in diseases if d["code"] == "DM")["items"] = ["D-INSG-300", "S-HDLY"]
    region = await own_region(
        sessionmaker, 2026, changes={"chronic_unrecognised": "outpatient", "chronic_diseases": diseases}
    )
    township = await own_institution(client, sessionmaker, admin_headers, level=1, region=region)
    idn = await make_person(client, admin_headers, region=region)

    # not recognised: settled as an ordinary outpatient bill (resident pooling at level 1: 0.50), with a warning
    r = await client.post(
        "/api/v1/settlements", json=chronic_bill(idn, "DM", qty="10"), headers={**township.headers, **idem()}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["totals"]["basic_fund"] == "100.00"  # 200.00 × 0.50 (chronic at level 1 would pay 0.70)
    assert [w["rule"] for w in body["warnings"]] == ["chronic_not_recognised"]
    assert "ordinary outpatient" in body["warnings"][0]["message"]

    # recognised for DM: the blood test is not on DM's items list, so fully self-paid on this bill
    await recognise(client, team, idn, "DM", "E11.9")
    r = await client.post(
        "/api/v1/settlements", json=chronic_bill(idn, "DM", qty="10"), headers={**township.headers, **idem()}
    )
    assert r.status_code == 201, r.text
    paid = r.json()
    assert paid["totals"]["full_self_pay"] == "200.00" and paid["totals"]["basic_fund"] == "0.00"
    assert paid["warnings"] == []
    assert "not in DM items" in paid["lines"][0]["reasons"]


async def test_the_member_applies_in_the_app_and_sees_only_their_own(client, admin_headers, team) -> None:
    from tests.api.test_members import login

    idn = await make_person(client, admin_headers)
    stranger = await make_person(client, admin_headers)
    me = await login(client, admin_headers, idn)
    body = {"disease": "DM", "diagnosis": "E11.9", "evidence": EVIDENCE}
    r = await client.post("/api/v1/me/chronic-recognitions", json=body, headers=me)
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["status"] == "applied" and mine["filed_by"].startswith("member:")
    # the bureau reviews it like any other
    assert (await client.post(f"{BASE}/{mine['id']}/approve", headers=team["a"])).json()["status"] == "first_reviewed"
    listed = await client.get("/api/v1/me/chronic-recognitions", headers=me)
    assert [i["id"] for i in listed.json()["items"]] == [mine["id"]]
    assert listed.json()["items"][0]["status"] == "first_reviewed"
    theirs = (await apply(client, team["clerk"], stranger)).json()["id"]
    r = await client.get(f"/api/v1/me/chronic-recognitions/{theirs}", headers=me)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    # a staff token is not a member token
    assert (await client.get("/api/v1/me/chronic-recognitions", headers=team["clerk"])).status_code == 401


async def test_the_rereview_job_expires_lapsed_recognitions_and_lists_those_due(
    client, admin_headers, hospital, sessionmaker, team
) -> None:
    import settlement.jobs
    from yibao.jobs.runner import execute

    lapsed_idn = await make_person(client, admin_headers)
    due_idn = await make_person(client, admin_headers)
    lapsed = await recognise(client, team, lapsed_idn, "ESRD", "N18.5", on=china(2026, 2, 10))  # to 2027-02-09
    due = await recognise(client, team, due_idn, "ESRD", "N18.5", on=china(2026, 3, 20))  # to 2027-03-19
    assert (lapsed["valid_to"], due["valid_to"]) == ("2027-02-09", "2027-03-19")

    job = {"kind": "chronic_rereview", "params": {"date": "2027-02-15"}}
    r = await client.post("/api/v1/jobs", json=job, headers=team["clerk"])
    assert r.status_code in (200, 201, 202), r.text
    run_id = r.json()["id"]
    await execute(sessionmaker, run_id, settlement.jobs.HANDLERS)
    run = (await client.get(f"/api/v1/jobs/{run_id}", headers=admin_headers)).json()
    assert run["state"] == "succeeded", run
    result = run["result"]
    assert result["due_before"] == "2027-04-16"  # 60 days (chronic_rereview_days_ahead)
    assert lapsed["id"] in result["expired_ids"] and lapsed["id"] not in result["due_ids"]
    assert due["id"] in result["due_ids"] and due["id"] not in result["expired_ids"]
    gone = (await client.get(f"{BASE}/{lapsed['id']}", headers=team["a"])).json()
    assert gone["status"] == "expired" and gone["reason"] == "not renewed: validity ended before 2027-02-15"
    assert (await client.get(f"{BASE}/{due['id']}", headers=team["a"])).json()["status"] == "approved"
    listed = await client.get(BASE, params={"status": "expired", "id_number": lapsed_idn}, headers=team["a"])
    assert [i["id"] for i in listed.json()["items"]] == [lapsed["id"]]
    as_csv = await client.get(BASE, params={"expiring_before": "2027-04-16", "format": "csv"}, headers=team["a"])
    assert as_csv.headers["content-type"].startswith("text/csv")
    header, *rows = as_csv.text.splitlines()
    assert header.startswith("id,id_number,disease,disease_name,diagnosis,status")
    mine = [r for r in rows if r.startswith(due["id"])]
    assert len(mine) == 1 and ",ESRD,尿毒症透析,N18.5,approved," in mine[0] and mine[0].endswith(",2027-03-19")

    # a bill dated within the expired recognition's validity is still paid under it
    bill = make_bill(lapsed_idn, [line("S-HDLY", "1", "400.00")], visit_type="chronic_outpatient")
    r = await client.post(
        "/api/v1/settlements", json={**bill, "chronic_disease": "ESRD"}, headers={**hospital, **idem()}
    )
    assert r.status_code == 201 and r.json()["totals"]["basic_fund"] == "280.00", r.text  # 400.00 × 0.70


async def test_a_hospital_files_with_its_key_and_other_roles_cannot(client, admin_headers, hospital, team) -> None:
    idn = await make_person(client, admin_headers)
    r = await apply(client, hospital, idn, "COPD", "J44.1")
    assert r.status_code == 201, r.text
    assert r.json()["filed_by"] == "institution:H430522100"
    # a reviewer files nothing (role), and reviewing stays the bureau's: the key cannot approve
    assert (await apply(client, team["a"], idn, "CHD", "I25.1")).json()["error"]["code"] == "FORBIDDEN"
    assert (await client.post(f"{BASE}/{r.json()['id']}/approve", headers=hospital)).status_code in (401, 403)


async def test_a_chronic_counter_claim_needs_the_recognition_too(client, admin_headers, team) -> None:
    from tests.claims.test_reimbursements import claim_body

    idn = await make_person(client, admin_headers)
    body = claim_body(idn, [line("S-BLRT", "10", "20.00", day="2026-11-20")], visit_type="chronic_outpatient")
    body["diagnoses"] = ["I10"]  # the disease comes from the diagnosis (HTN)
    r = await client.post("/api/v1/reimbursements", json=body, headers={**team["clerk"], **idem()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "CHRONIC_NOT_RECOGNISED", r.text
    await recognise(client, team, idn)
    r = await client.post("/api/v1/reimbursements", json=body, headers={**team["clerk"], **idem()})
    assert r.status_code == 201, r.text
    # cross-region (440100) without a filing: 200.00 × (0.60 level-3 chronic − 0.10) = 100.00
    assert r.json()["fund_estimate"] == "100.00"
