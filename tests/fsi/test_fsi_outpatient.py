"""The outpatient conversation through the national envelope, end to end:
1101 → 2001 → 2201 → 2203 → 2204 → 2206 → 2207 → (replay) → 2208, and the native API sees
the very same settlement."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.builders import make_person
from tests.fsi.helpers import (
    AMOXICILLIN,
    ATORVASTATIN,
    BLOOD_TEST,
    MONEY,
    assert_identities,
    assert_same_as_native,
    call,
    d,
    envelope,
    fee,
    msgid,
    ok,
    refused,
    today,
)

pytestmark = pytest.mark.asyncio


async def _register(client: httpx.AsyncClient, hospital: dict[str, str], idn: str, visit_no: str) -> str:
    out = ok(
        await call(
            client,
            hospital,
            "2201",
            {
                "data": {
                    "psn_no": idn,
                    "insutype": "390",
                    "begntime": f"{today()} 09:00:00",
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": idn,
                    "ipt_otp_no": visit_no,
                    "atddr_no": "D001",
                    "dr_name": "李医生",
                    "dept_code": "A01",
                    "dept_name": "内科",
                    "caty": "A03",
                }
            },
        )
    )
    assert out["data"]["psn_no"] == idn and out["data"]["ipt_otp_no"] == visit_no
    mdtrt_id: str = out["data"]["mdtrt_id"]
    return mdtrt_id


async def test_outpatient_conversation(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="resident")

    info = ok(await call(client, hospital, "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": idn}}))
    assert info["baseinfo"]["psn_no"] == idn and info["baseinfo"]["certno"] == idn
    assert [row["insutype"] for row in info["insuinfo"]] == ["390"]
    assert info["insuinfo"][0]["insuplc_admdvs"] == "430522"

    check = ok(await call(client, hospital, "2001", {"data": {"psn_no": idn, "insutype": "390", "begntime": today()}}))
    assert check["trtinfo"][0]["trt_enjymnt_flag"] == "1"

    mdtrt_id = await _register(client, hospital, idn, f"MZ-{idn[-8:]}")
    ok(
        await call(
            client,
            hospital,
            "2203",
            {
                "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": idn, "med_type": "11", "begntime": today()},
                "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.9", "diag_name": "上感"}],
            },
        )
    )

    # a first upload, then the same feedetl_sn again with another quantity: replaced, not added
    ok(
        await call(
            client, hospital, "2204", {"feedetail": [fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn)]}
        )
    )
    up = ok(
        await call(
            client,
            hospital,
            "2204",
            {
                "feedetail": [
                    fee("1", BLOOD_TEST, "2", "20.00", mdtrt_id=mdtrt_id, psn_no=idn),
                    fee("2", AMOXICILLIN, "1", "15.00", mdtrt_id=mdtrt_id, psn_no=idn),
                    fee("3", ATORVASTATIN, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn),
                ]
            },
        )
    )
    by_sn = {r["feedetl_sn"]: r for r in up["result"]}
    assert set(by_sn) == {"1", "2", "3"}
    for r in up["result"]:  # the per-line split adds up
        assert d(r["det_item_fee_sumamt"]) == d(r["fulamt_ownpay_amt"]) + d(r["overlmt_amt"]) + d(
            r["preselfpay_amt"]
        ) + d(r["inscp_scp_amt"])
    assert d(by_sn["1"]["det_item_fee_sumamt"]) == d("40.00")
    assert d(by_sn["2"]["overlmt_amt"]) == d("3.00")  # 15.00 over the 12.00 cap
    assert by_sn["3"]["chrgitm_lv"] == "02" and d(by_sn["3"]["preselfpay_amt"]) == d("2.00")  # 乙类 10 %

    pre = ok(
        await call(client, hospital, "2206", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id, "medfee_sumamt": 75.0}})
    )
    assert pre["setlinfo"]["setl_id"] is None
    assert_identities(pre["setlinfo"])
    assert d(pre["setlinfo"]["medfee_sumamt"]) == d("75.00")

    mid = msgid()
    settle_node = {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id, "medfee_sumamt": 75.0, "insutype": "390"}}
    r1 = await client.post("/fsi/api/2207", json=envelope("2207", settle_node, mid=mid), headers=hospital)
    assert r1.status_code == 200
    setl = ok(r1.json())
    s = setl["setlinfo"]
    assert_identities(s)
    assert s["medins_setl_id"] == mid and s["insutype"] == "390" and s["clr_type"] == "11"
    assert {k: s[k] for k in MONEY} == {k: pre["setlinfo"][k] for k in MONEY}  # the preview's split
    setl_id = s["setl_id"]
    assert setl_id

    # the native API sees the very same settlement
    native = (await client.get(f"/api/v1/settlements/{setl_id}", headers=hospital)).json()
    assert native["status"] == "settled" and native["visit_type"] == "outpatient"
    assert_same_as_native(s, native)
    assert {ln["item_code"] for ln in native["lines"]} == {"S-BLRT", "D-AMOX-250", "D-ATOR-20"}
    fund_lines = {ln["fund_pay_type"]: d(ln["fund_payamt"]) for ln in setl["setldetail"]}
    assert sum(fund_lines.values(), d(0)) == d(s["fund_pay_sumamt"]) + d(s["acct_pay"])
    assert fund_lines.get("390100", d(0)) == d(s["hifp_pay"])

    # the same msgid again: the first answer byte for byte, no second settlement
    r2 = await client.post("/fsi/api/2207", json=envelope("2207", settle_node, mid=mid), headers=hospital)
    assert r2.content == r1.content and r2.headers.get("idempotent-replayed") == "true"
    other = {"data": {**settle_node["data"], "acct_used_flag": "1"}}  # the same msgid, another request
    conflict = await client.post("/fsi/api/2207", json=envelope("2207", other, mid=mid), headers=hospital)
    refused(conflict.json(), "IDEMPOTENCY_CONFLICT")
    r3 = await client.post("/fsi/api/2207", json=envelope("2207", settle_node, mid=mid), headers=hospital)
    assert r3.content == r1.content  # the conflict was not journaled over the first answer
    again = await call(client, hospital, "2207", settle_node)  # a new msgid: the visit is settled
    refused(again, "DUPLICATE")

    cancel = ok(
        await call(client, hospital, "2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": idn}})
    )
    mirror = cancel["setlinfo"]
    assert_identities(mirror)
    assert mirror["setl_id"] == setl_id and mirror["refd_setl_flag"] == "1"
    for k in MONEY:
        assert d(mirror[k]) == -d(s[k]), k
    assert {x["fund_pay_type"]: -d(x["fund_payamt"]) for x in cancel["setldetail"]} == fund_lines
    native = (await client.get(f"/api/v1/settlements/{setl_id}", headers=hospital)).json()
    assert native["status"] == "cancelled"

    query = ok(
        await call(client, hospital, "5203", {"data": {"psn_no": idn, "setl_id": setl_id, "mdtrt_id": mdtrt_id}})
    )
    assert query["setlinfo"]["vali_flag"] == "0" and query["setlinfo"]["mdtrt_id"] == mdtrt_id
    assert d(query["setlinfo"]["medfee_sumamt"]) == d(s["medfee_sumamt"])


async def test_details_replaced_after_preview_settle_the_latest(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    """Fee details stay replaceable until settlement: 2205 drops a batch after the preview, the
    settle bills what is left; the single endpoint (callService) routes by infno."""
    idn = await make_person(client, admin_headers, scheme="resident")
    mdtrt_id = await _register(client, hospital, idn, f"MZ2-{idn[-8:]}")
    lines: list[dict[str, Any]] = [
        fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn, batch="B1"),
        fee("2", AMOXICILLIN, "1", "10.00", mdtrt_id=mdtrt_id, psn_no=idn, batch="B2"),
    ]
    ok(await call(client, hospital, "2204", {"feedetail": lines}, single_endpoint=True))
    pre = ok(await call(client, hospital, "2206", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}))
    assert d(pre["setlinfo"]["medfee_sumamt"]) == d("30.00")
    ok(await call(client, hospital, "2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B2", "psn_no": idn}}))
    setl = ok(
        await call(client, hospital, "2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}, single_endpoint=True)
    )
    assert d(setl["setlinfo"]["medfee_sumamt"]) == d("20.00")
    native = (await client.get(f"/api/v1/settlements/{setl['setlinfo']['setl_id']}", headers=hospital)).json()
    assert [ln["item_code"] for ln in native["lines"]] == ["S-BLRT"]


async def test_reversal_by_original_msgid(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    """2601 cancels exactly the settlement the named 2207 made; once, and only that call."""
    idn = await make_person(client, admin_headers, scheme="employee", account="100.00")
    mdtrt_id = await _register(client, hospital, idn, f"MZ3-{idn[-8:]}")
    ok(
        await call(
            client, hospital, "2204", {"feedetail": [fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn)]}
        )
    )
    mid = msgid()
    setl = ok(
        await call(
            client, hospital, "2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id, "acct_used_flag": "1"}}, mid=mid
        )
    )
    s = setl["setlinfo"]
    assert_identities(s)
    assert s["insutype"] == "310" and d(s["acct_pay"]) > 0
    assert d(s["balc"]) == d("100.00") - d(s["acct_pay"])

    refused(
        await call(client, hospital, "2601", {"data": {"psn_no": idn, "omsgid": mid, "oinfno": "2208"}}),
        "INVALID_REQUEST",
    )
    rev = ok(await call(client, hospital, "2601", {"data": {"psn_no": idn, "omsgid": mid, "oinfno": "2207"}}))
    assert d(rev["setlinfo"]["medfee_sumamt"]) == -d(s["medfee_sumamt"])
    assert d(rev["setlinfo"]["balc"]) == d("100.00")  # the account is paid back
    native = (await client.get(f"/api/v1/settlements/{s['setl_id']}", headers=hospital)).json()
    assert native["status"] == "cancelled"
    refused(
        await call(client, hospital, "2601", {"data": {"psn_no": idn, "omsgid": mid, "oinfno": "2207"}}),
        "INVALID_STATE",
    )
    refused(
        await call(client, hospital, "2601", {"data": {"psn_no": idn, "omsgid": msgid(), "oinfno": "2207"}}),
        "NOT_FOUND",
    )
    # the visit can be settled again after the reversal
    again = ok(await call(client, hospital, "2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}))
    assert again["setlinfo"]["setl_id"] != s["setl_id"]


async def test_concurrent_twins_of_one_msgid_settle_once(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    """Two 2207 envelopes with one msgid at the same time: one settlement, the same bytes."""
    import asyncio

    idn = await make_person(client, admin_headers, scheme="resident")
    mdtrt_id = await _register(client, hospital, idn, f"MZ4-{idn[-8:]}")
    line = fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn)
    ok(await call(client, hospital, "2204", {"feedetail": [line]}))
    body = envelope("2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}})
    first, second = await asyncio.gather(
        client.post("/fsi/api/2207", json=body, headers=hospital),
        client.post("/fsi/api/callService", json=body, headers=hospital),
    )
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    setl_id = ok(first.json())["setlinfo"]["setl_id"]
    page = (await client.get("/api/v1/settlements", headers=hospital, params={"limit": 500})).json()
    mine = [x for x in page["items"] if x["visit_no"] == f"MZ4-{idn[-8:]}"]
    assert [x["settlement_id"] for x in mine] == [setl_id]


async def test_concurrent_uploads_never_lose_a_line(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    """Two 2204 at once on one visit: each answered 0 keeps its lines, or is refused
    INVALID_STATE (send again); the visit's details are never the last writer's alone."""
    import asyncio

    idn = await make_person(client, admin_headers, scheme="resident")
    mdtrt_id = await _register(client, hospital, idn, f"MZ5-{idn[-8:]}")
    one = {"feedetail": [fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn)]}
    two = {"feedetail": [fee("2", AMOXICILLIN, "1", "10.00", mdtrt_id=mdtrt_id, psn_no=idn)]}
    a, b = await asyncio.gather(call(client, hospital, "2204", one), call(client, hospital, "2204", two))
    expected = d(0)
    for reply, amount in ((a, d("20.00")), (b, d("10.00"))):
        if reply["infcode"] == 0:
            expected += amount
        else:
            refused(reply, "INVALID_STATE")
    assert expected > 0
    pre = ok(await call(client, hospital, "2206", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}))
    assert d(pre["setlinfo"]["medfee_sumamt"]) == expected
