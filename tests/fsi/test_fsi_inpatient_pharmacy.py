"""The inpatient (2401 → 2301 → 2303 → 2304 → 2402 → 2305) and pharmacy (2101 → 2102 → 5203 →
2103) conversations through the envelope; the native API sees the same settlements."""

from __future__ import annotations

import httpx
import pytest

from tests.builders import make_person
from tests.fsi.helpers import (
    AMOXICILLIN,
    BED,
    BLOOD_TEST,
    MONEY,
    PHARMACY,
    VITAMIN_C,
    assert_identities,
    assert_same_as_native,
    call,
    d,
    fee,
    msgid,
    ok,
    refused,
    today,
)

pytestmark = pytest.mark.asyncio


async def test_inpatient_conversation(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="resident")
    adm = ok(
        await call(
            client,
            hospital,
            "2401",
            {
                "mdtrtinfo": {
                    "psn_no": idn,
                    "insutype": "390",
                    "begntime": f"{today()} 08:00:00",
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": idn,
                    "med_type": "21",
                    "ipt_no": f"ZY-{idn[-8:]}",
                    "adm_diag_dscr": "肺炎",
                    "dscg_maindiag_code": "J18.9",
                    "dscg_maindiag_name": "肺炎",
                },
                "diseinfo": [{"diag_type": "1", "diag_code": "J18.9", "diag_name": "肺炎", "maindiag_flag": "1"}],
            },
        )
    )
    mdtrt_id = adm["result"]["mdtrt_id"]
    # an outpatient transaction on an inpatient stay is refused
    refused(
        await call(
            client, hospital, "2204", {"feedetail": [fee("1", BED, "1", "40.00", mdtrt_id=mdtrt_id, psn_no=idn)]}
        ),
        "INVALID_STATE",
    )
    ok(
        await call(
            client,
            hospital,
            "2301",
            {
                "feedetail": [
                    fee("1", BED, "1", "40.00", mdtrt_id=mdtrt_id, psn_no=idn),
                    fee("2", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn),
                    fee("3", VITAMIN_C, "1", "8.00", mdtrt_id=mdtrt_id, psn_no=idn),
                ]
            },
        )
    )
    ok(await call(client, hospital, "2302", {"data": [{"feedetl_sn": "3", "mdtrt_id": mdtrt_id, "psn_no": idn}]}))
    pre = ok(
        await call(client, hospital, "2303", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id, "medfee_sumamt": 60.0}})
    )
    assert_identities(pre["setlinfo"])
    setl = ok(
        await call(client, hospital, "2304", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id, "medfee_sumamt": 60.0}})
    )
    s = setl["setlinfo"]
    assert_identities(s)
    assert s["clr_type"] == "21" and s["med_type"] == "21"
    assert {k: s[k] for k in MONEY} == {k: pre["setlinfo"][k] for k in MONEY}
    native = (await client.get(f"/api/v1/settlements/{s['setl_id']}", headers=hospital)).json()
    assert native["visit_type"] == "inpatient" and native["service_date"] == today()
    assert_same_as_native(s, native)

    # discharge after the settlement, on the day it was settled to; another day is refused
    dscg = {"mdtrt_id": mdtrt_id, "psn_no": idn, "endtime": f"{today()} 10:00:00", "dscg_way": "1"}
    ok(await call(client, hospital, "2402", {"dscginfo": dscg}))
    refused(
        await call(client, hospital, "2402", {"dscginfo": {**dscg, "endtime": "2099-01-01 10:00:00"}}), "INVALID_STATE"
    )
    refused(await call(client, hospital, "2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": idn}}), "INVALID_STATE")

    cancel = ok(
        await call(client, hospital, "2305", {"data": {"mdtrt_id": mdtrt_id, "setl_id": s["setl_id"], "psn_no": idn}})
    )
    assert_identities(cancel["setlinfo"])
    for k in MONEY:
        assert d(cancel["setlinfo"][k]) == -d(s[k]), k
    native = (await client.get(f"/api/v1/settlements/{s['setl_id']}", headers=hospital)).json()
    assert native["status"] == "cancelled"


async def test_pharmacy_conversation(
    client: httpx.AsyncClient, institution_keys: dict[str, str], admin_headers: dict[str, str]
) -> None:
    pharmacy = {"Authorization": f"Bearer {institution_keys[PHARMACY]}"}
    idn = await make_person(client, admin_headers, scheme="employee", account="50.00")
    druginfo = {
        "psn_no": idn,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": idn,
        "begntime": f"{today()} 11:00:00",
        "medfee_sumamt": 20.0,
        "insutype": "310",
        "med_type": "41",
        "acct_used_flag": "1",
    }
    detail = [
        {
            **fee("1", AMOXICILLIN, "2", "10.00", mdtrt_id="", psn_no=idn),
            "drugtracinfo": [{"drug_trac_codg": f"T{idn}"}],
        }
    ]
    node = {"druginfo": druginfo, "drugdetail": detail}
    pre = ok(await call(client, pharmacy, "2101", node, institution=PHARMACY))
    assert_identities(pre["setlinfo"])
    assert [r["feedetl_sn"] for r in pre["detlcutinfo"]] == ["1"]
    mid = msgid(PHARMACY)
    setl = ok(await call(client, pharmacy, "2102", node, institution=PHARMACY, mid=mid))
    s = setl["setlinfo"]
    assert_identities(s)
    assert s["clr_type"] == "41" and s["medins_setl_id"] == mid and s["mdtrt_id"]
    assert d(s["acct_pay"]) == d("20.00") and d(s["balc"]) == d("30.00")
    assert {x["fund_pay_type"]: d(x["fund_payamt"]) for x in setl["setldetail"]} == {"310200": d("20.00")}
    native = (await client.get(f"/api/v1/settlements/{s['setl_id']}", headers=pharmacy)).json()
    assert native["visit_type"] == "pharmacy"
    assert_same_as_native(s, native)

    query = ok(
        await call(
            client,
            pharmacy,
            "5203",
            {"data": {"psn_no": idn, "setl_id": s["setl_id"], "mdtrt_id": s["mdtrt_id"]}},
            institution=PHARMACY,
        )
    )
    assert query["setlinfo"]["vali_flag"] == "1" and query["setlinfo"]["mdtrt_id"] == s["mdtrt_id"]
    cancel_node = {"data": {"setl_id": s["setl_id"], "mdtrt_id": s["mdtrt_id"], "psn_no": idn}}
    cancel = ok(await call(client, pharmacy, "2103", cancel_node, institution=PHARMACY))
    assert d(cancel["setlinfo"]["acct_pay"]) == d("-20.00") and d(cancel["setlinfo"]["balc"]) == d("50.00")
    refused(await call(client, pharmacy, "2103", cancel_node, institution=PHARMACY), "ALREADY_CANCELLED")
