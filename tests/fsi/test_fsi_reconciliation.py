"""3201 totals reconciliation over the envelope: the platform's figures are the settlement
records the native API holds; a settle unbalances yesterday's agreed totals, its cancel (the
negative mirror record) balances them again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.builders import make_person
from tests.fsi.helpers import BLOOD_TEST, call, d, fee, ok, refused, today

pytestmark = pytest.mark.asyncio


def _stmt(totals: dict[str, Any], clr_type: str = "11") -> dict[str, Any]:
    return {
        "data": {
            "insutype": "310",
            "clr_type": clr_type,
            "setl_optins": "430522",
            "stmt_begndate": today(),
            "stmt_enddate": today(),
            "medfee_sumamt": totals["medfee_sumamt"],
            "fund_pay_sumamt": totals["fund_pay_sumamt"],
            "acct_pay": totals["acct_pay"],
            "fixmedins_setl_cnt": totals["fixmedins_setl_cnt"],
            "refd_setl_flag": "1",
        }
    }


async def test_totals_reconciliation(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    zero = {"medfee_sumamt": 0, "fund_pay_sumamt": 0, "acct_pay": 0, "fixmedins_setl_cnt": 0}
    center = ok(await call(client, hospital, "3201", _stmt(zero)))["stmtinfo"]
    agreed = {k: center[k] for k in zero}
    assert ok(await call(client, hospital, "3201", _stmt(agreed)))["stmtinfo"]["stmt_rslt"] == "0"

    idn = await make_person(client, admin_headers, scheme="employee", account="100.00")
    reg = {"psn_no": idn, "insutype": "310", "begntime": today(), "ipt_otp_no": f"R-{idn[-6:]}"}
    mdtrt_id = ok(await call(client, hospital, "2201", {"data": reg}))["data"]["mdtrt_id"]
    line = fee("1", BLOOD_TEST, "2", "20.00", mdtrt_id=mdtrt_id, psn_no=idn)
    ok(await call(client, hospital, "2204", {"feedetail": [line]}))
    setl = ok(
        await call(client, hospital, "2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id, "acct_used_flag": "1"}})
    )
    s = setl["setlinfo"]

    after = ok(await call(client, hospital, "3201", _stmt(agreed)))["stmtinfo"]
    assert after["stmt_rslt"] == "1" and "medfee_sumamt" in after["stmt_rslt_dscr"]
    assert d(after["medfee_sumamt"]) == d(agreed["medfee_sumamt"]) + d(s["medfee_sumamt"])
    assert d(after["acct_pay"]) == d(agreed["acct_pay"]) + d(s["acct_pay"])
    assert after["fixmedins_setl_cnt"] == agreed["fixmedins_setl_cnt"] + 1
    with_bill = {k: after[k] for k in zero}
    assert ok(await call(client, hospital, "3201", _stmt(with_bill)))["stmtinfo"]["stmt_rslt"] == "0"
    # other classes are not this bill's
    assert ok(await call(client, hospital, "3201", _stmt(with_bill, "21")))["stmtinfo"]["stmt_rslt"] == "1"

    ok(await call(client, hospital, "2208", {"data": {"setl_id": s["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": idn}}))
    back = ok(await call(client, hospital, "3201", _stmt(agreed)))["stmtinfo"]
    assert back["stmt_rslt"] == "0"  # settled and cancelled in the window: nets out


async def test_reconciliation_refusals(client: httpx.AsyncClient, hospital: dict[str, str]) -> None:
    good = _stmt({"medfee_sumamt": 0, "fund_pay_sumamt": 0, "acct_pay": 0, "fixmedins_setl_cnt": 0})
    refused(await call(client, hospital, "3201", {"data": {**good["data"], "clr_type": "99"}}), "INVALID_REQUEST")
    refused(
        await call(client, hospital, "3201", {"data": {**good["data"], "setl_optins": "430100"}}), "INVALID_REQUEST"
    )
    refused(await call(client, hospital, "3201", {"data": {**good["data"], "medfee_sumamt": "x"}}), "INVALID_REQUEST")
    refused(
        await call(client, hospital, "3201", {"data": {**good["data"], "fixmedins_setl_cnt": None}}), "INVALID_REQUEST"
    )
    late = {**good["data"], "stmt_begndate": "2026-12-03", "stmt_enddate": "2026-12-01"}
    refused(await call(client, hospital, "3201", {"data": late}), "INVALID_REQUEST")
