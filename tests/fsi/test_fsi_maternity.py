"""Maternity through the envelope (DOMAIN §10): med_type 51 (生育门诊) and 52 (生育住院) settle as
the native maternity_outpatient / maternity_inpatient bills, the maternity fund in oth_pay and
setldetail 510100."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from tests.builders import make_person
from tests.fsi.helpers import assert_identities, assert_same_as_native, call, d, fee, ok, refused, today

pytestmark = pytest.mark.asyncio

CT = "002101010010000-210101001"  # S-CTHD, class A, 180.00
SURGERY = "003311030020000-331103002"  # S-APPX, class A, 1500.00


def _admission(idn: str, ipt_no: str, **extra: Any) -> dict[str, Any]:
    return {
        "mdtrtinfo": {
            "psn_no": idn,
            "insutype": "310",
            "begntime": f"{today()} 08:00:00",
            "med_type": "52",
            "ipt_no": ipt_no,
            "dscg_maindiag_code": "O80",
            **extra,
        }
    }


async def test_prenatal_check_and_delivery_are_paid_from_the_maternity_fund(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="employee", gender="F", born=date(1995, 5, 5))

    # 51: a prenatal check, paid in full by the maternity fund (within the pregnancy limit)
    reg = {"psn_no": idn, "insutype": "310", "begntime": today(), "med_type": "51", "ipt_otp_no": f"SY-{idn[-8:]}"}
    mdtrt_id = ok(await call(client, hospital, "2201", {"data": reg}))["data"]["mdtrt_id"]
    ok(
        await call(
            client, hospital, "2204", {"feedetail": [fee("1", CT, "1", "180.00", mdtrt_id=mdtrt_id, psn_no=idn)]}
        )
    )
    out = ok(await call(client, hospital, "2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}))
    s = out["setlinfo"]
    assert_identities(s)
    assert s["med_type"] == "51" and s["clr_type"] == "51"
    assert d(s["oth_pay"]) == d("180.00") == d(s["fund_pay_sumamt"]) and d(s["hifp_pay"]) == 0
    assert {x["fund_pay_type"]: d(x["fund_payamt"]) for x in out["setldetail"]} == {"510100": d("180.00")}
    native = (await client.get(f"/api/v1/settlements/{s['setl_id']}", headers=hospital)).json()
    assert native["visit_type"] == "maternity_outpatient" and d(native["totals"]["maternity_fund"]) == d("180.00")
    assert_same_as_native(s, native)

    # 52: a vaginal delivery (matn_type 1) at this level-2 hospital: 4,500.00 limited to 3,000.00
    adm = ok(await call(client, hospital, "2401", _admission(idn, f"SZ-{idn[-8:]}", matn_type="1", fetus_cnt="1")))
    stay = adm["result"]["mdtrt_id"]
    ok(
        await call(
            client, hospital, "2301", {"feedetail": [fee("1", SURGERY, "3", "1500.00", mdtrt_id=stay, psn_no=idn)]}
        )
    )
    dscg = {"mdtrt_id": stay, "psn_no": idn, "endtime": f"{today()} 10:00:00"}
    ok(await call(client, hospital, "2402", {"dscginfo": dscg}))
    out = ok(await call(client, hospital, "2304", {"data": {"psn_no": idn, "mdtrt_id": stay}}))
    s = out["setlinfo"]
    assert_identities(s)
    assert s["med_type"] == "52" and s["clr_type"] == "52"
    assert d(s["oth_pay"]) == d("3000.00") == d(s["fund_pay_sumamt"])
    assert d(s["psn_part_amt"]) == d("1500.00")
    native = (await client.get(f"/api/v1/settlements/{s['setl_id']}", headers=hospital)).json()
    assert native["visit_type"] == "maternity_inpatient" and native["status"] == "settled"
    assert_same_as_native(s, native)

    # a settled delivery's type changes only after its cancel
    refused(await call(client, hospital, "2402", {"dscginfo": {**dscg, "matn_type": "2"}}), "INVALID_STATE")

    codes = ok(await call(client, hospital, "1901", {"data": {"type": "med_type"}}))["list"]
    assert {"51", "52"} <= {c["value"] for c in codes}


async def test_a_delivery_needs_its_type(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="employee", gender="F", born=date(1994, 4, 4))
    refused(await call(client, hospital, "2401", _admission(idn, f"SA-{idn[-8:]}", matn_type="9")), "INVALID_REQUEST")
    stay = ok(await call(client, hospital, "2401", _admission(idn, f"SB-{idn[-8:]}")))["result"]["mdtrt_id"]
    lines = {"feedetail": [fee("1", SURGERY, "1", "1500.00", mdtrt_id=stay, psn_no=idn)]}
    msg = refused(await call(client, hospital, "2301", lines), "INVALID_REQUEST")
    assert "matn_type" in msg
    # given at discharge, the stay settles (a caesarean: 1,500.00 within the 5,000.00 limit)
    dscg = {"mdtrt_id": stay, "psn_no": idn, "endtime": f"{today()} 10:00:00", "matn_type": "2"}
    ok(await call(client, hospital, "2402", {"dscginfo": dscg}))
    ok(await call(client, hospital, "2301", lines))
    s = ok(await call(client, hospital, "2304", {"data": {"psn_no": idn, "mdtrt_id": stay}}))["setlinfo"]
    assert d(s["oth_pay"]) == d("1500.00")
