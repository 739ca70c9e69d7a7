"""README "National interface (infno)": the conversations as the README runs them, on the
README's day (2026-12-03, 10:00 Beijing), give the answers the README shows."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.builders import make_person
from tests.fsi.helpers import assert_identities, d, msgid
from yibao import clock

pytestmark = pytest.mark.asyncio


@pytest.fixture
def readme_day() -> Iterator[None]:
    clock.set_clock(lambda: datetime(2026, 12, 3, 2, tzinfo=UTC))
    try:
        yield
    finally:
        clock.set_clock(None)


async def _fsi(
    client: httpx.AsyncClient, his: dict[str, str], infno: str, node: dict[str, Any], mid: str | None = None
) -> dict[str, Any]:
    """The README's ``fsi`` shell function: the minimal envelope."""
    r = await _post(client, his, infno, node, mid)
    assert r.json()["infcode"] == 0, r.text
    out: dict[str, Any] = r.json()["output"]
    return out


async def _post(
    client: httpx.AsyncClient, his: dict[str, str], infno: str, node: dict[str, Any], mid: str | None = None
) -> httpx.Response:
    body = {"infno": infno, "msgid": mid or msgid(), "fixmedins_code": "H430522100", "input": node}
    r = await client.post(f"/fsi/api/{infno}", json=body, headers=his)
    assert r.status_code == 200, r.text
    return r


async def test_readme_conversations(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str], readme_day: None
) -> None:
    p = await make_person(client, admin_headers, scheme="resident")  # the README's 张三, fresh
    await _fsi(client, hospital, "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": p}})
    reg = {"psn_no": p, "insutype": "390", "begntime": "2026-12-03 09:00:00", "ipt_otp_no": f"MZ-{p}"}
    m = (await _fsi(client, hospital, "2201", {"data": reg}))["data"]["mdtrt_id"]
    await _fsi(
        client,
        hospital,
        "2203",
        {"mdtrtinfo": {"mdtrt_id": m, "psn_no": p, "med_type": "11"}, "diseinfo": [{"diag_code": "J06.9"}]},
    )
    lines = [
        {
            "feedetl_sn": "1",
            "mdtrt_id": m,
            "chrg_bchno": "B1",
            "med_list_codg": "002501010010000-250101001",
            "cnt": 1,
            "pric": 20.00,
            "det_item_fee_sumamt": 20.00,
            "fee_ocur_time": "2026-12-03 09:30:00",
        },
        {
            "feedetl_sn": "2",
            "mdtrt_id": m,
            "chrg_bchno": "B1",
            "med_list_codg": "XC10AAA048A001010100457",
            "cnt": 2,
            "pric": 20.00,
            "det_item_fee_sumamt": 40.00,
            "fee_ocur_time": "2026-12-03 09:30:00",
        },
    ]
    split = await _fsi(client, hospital, "2204", {"feedetail": lines})
    assert [(r["feedetl_sn"], r["chrgitm_lv"], r["preselfpay_amt"]) for r in split["result"]] == [
        ("1", "01", 0.0),
        ("2", "02", 4.0),
    ]
    data = {"psn_no": p, "mdtrt_id": m, "medfee_sumamt": 60.00, "acct_used_flag": "0"}
    pre = await _fsi(client, hospital, "2206", {"data": data})
    setl = await _fsi(client, hospital, "2207", {"data": data})
    s = setl["setlinfo"]
    assert_identities(s)
    assert s["setl_id"] and pre["setlinfo"]["fund_pay_sumamt"] == s["fund_pay_sumamt"]
    shown = {k: s[k] for k in ("medfee_sumamt", "preselfpay_amt", "inscp_scp_amt", "hifp_pay", "psn_cash_pay")}
    print("README outpatient", shown, setl["setldetail"])
    native = (await client.get(f"/api/v1/settlements/{s['setl_id']}", headers=hospital)).json()
    assert d(native["totals"]["fund_total"]) == d(s["fund_pay_sumamt"])
    cancel = await _fsi(client, hospital, "2208", {"data": {"setl_id": s["setl_id"], "mdtrt_id": m, "psn_no": p}})
    assert d(cancel["setlinfo"]["medfee_sumamt"]) == d("-60.00")

    # inpatient: 2401 → 2301 → 2303 → 2304 → 2402
    adm = {"psn_no": p, "insutype": "390", "begntime": "2026-12-01 08:00:00", "med_type": "21", "ipt_no": f"ZY-{p}"}
    z = (await _fsi(client, hospital, "2401", {"mdtrtinfo": adm, "diseinfo": [{"diag_code": "K35.8"}]}))["result"][
        "mdtrt_id"
    ]
    stay = [
        {"feedetl_sn": "1", "mdtrt_id": z, "med_list_codg": "001102000010000-110200001", "cnt": 2, "pric": 40.00},
        {"feedetl_sn": "2", "mdtrt_id": z, "med_list_codg": "003311030020000-331103002", "cnt": 1, "pric": 1500.00},
    ]
    await _fsi(client, hospital, "2301", {"feedetail": stay})
    await _fsi(client, hospital, "2303", {"data": {"psn_no": p, "mdtrt_id": z, "medfee_sumamt": 1580.00}})
    stay_mid = msgid()
    stay_setl = await _fsi(
        client, hospital, "2304", {"data": {"psn_no": p, "mdtrt_id": z, "medfee_sumamt": 1580.00}}, stay_mid
    )
    si = stay_setl["setlinfo"]
    assert_identities(si)
    print("README inpatient", {k: si[k] for k in ("medfee_sumamt", "act_pay_dedc", "hifp_pay", "psn_cash_pay")})
    await _fsi(client, hospital, "2402", {"dscginfo": {"mdtrt_id": z, "psn_no": p, "endtime": "2026-12-03 10:00:00"}})
    native = (await client.get(f"/api/v1/settlements/{si['setl_id']}", headers=hospital)).json()
    assert native["service_date"] == "2026-12-03" and native["visit_type"] == "inpatient"

    # reconciliation: 3201, then 9101 → 3202 → 9102 with the stay as the README's file lists it
    assert (d(si["medfee_sumamt"]), d(si["fund_pay_sumamt"]), d(si["acct_pay"])) == (d("1580"), d("756"), 0)
    w = {
        "insutype": "390",
        "clr_type": "21",
        "setl_optins": "430522",
        "stmt_begndate": "2026-12-03",
        "stmt_enddate": "2026-12-03",
    }
    total = await _fsi(
        client,
        hospital,
        "3201",
        {"data": {**w, "medfee_sumamt": 1580.00, "fund_pay_sumamt": 756.00, "acct_pay": 0, "fixmedins_setl_cnt": 1}},
    )
    detail = f"{si['setl_id']}\t{z}\t{p}\t1580.00\t756.00\t0.00\t0\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("detail.txt", detail)
    up = {"filename": "detail.zip", "fixmedins_code": "H430522100", "in": base64.b64encode(buf.getvalue()).decode()}
    f = (await _fsi(client, hospital, "9101", {"fsUploadIn": up}))["file_qury_no"]
    figures = {"medfee_sumamt": 1580.00, "fund_pay_sumamt": 756.00, "cash_payamt": 824.00, "fixmedins_setl_cnt": 1}
    stmt = await _fsi(client, hospital, "3202", {"data": {**w, "file_qury_no": f, **figures}})
    info = stmt["fileinfo"]
    down = {"file_qury_no": info["file_qury_no"], "filename": info["filename"], "fixmedins_code": "H430522100"}
    r = await _post(client, hospital, "9102", {"fsDownloadIn": down})
    assert r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        rows = [line.split("\t") for line in zf.read("result.txt").decode().splitlines()]
    print("README reconciliation", total["stmtinfo"], stmt["stmtinfo"], rows)
    mine = [row for row in rows if row[2] == si["setl_id"]]
    assert mine == [[p, z, si["setl_id"], stay_mid, "0", "0", "平", "1580.00", "756.00", "0.00"]]
    # other bills of the day (other tests share this database) are the platform's alone, and
    # 3201 and 3202 agree on whether the day balances
    others = [row for row in rows if row[2] != si["setl_id"]]
    assert all(row[4] == "1" for row in others)
    balanced = "1" if others else "0"
    assert total["stmtinfo"]["stmt_rslt"] == stmt["stmtinfo"]["stmt_rslt"] == balanced
    assert stmt["stmtinfo"]["bal_cnt"] == 1 and stmt["stmtinfo"]["center_more_cnt"] == len(others)
