"""5206 person cumulative figures through the envelope: the year's accumulators the settle path
moves, before a bill, after a 2207 (the bill's own figures) and after its 2208 (back to 0)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.builders import make_person
from tests.fsi.helpers import ATORVASTATIN, BLOOD_TEST, call, d, fee, ok, refused, today
from yibao import clock

pytestmark = pytest.mark.asyncio


def _this_month() -> str:
    return clock.today().strftime("%Y%m")


async def _figures(
    client: httpx.AsyncClient, hospital: dict[str, str], idn: str, insutype: str = "310"
) -> dict[str, dict[str, Any]]:
    out = ok(await call(client, hospital, "5206", {"data": {"psn_no": idn, "cum_ym": _this_month()}}))
    rows = {r["cum_type_code"]: r for r in out["cuminfo"]}
    assert len(rows) == len(out["cuminfo"]) == 12
    for r in rows.values():
        assert r["insutype"] == insutype and r["year"] == str(clock.today().year) and r["cum_ym"] == _this_month()
        assert r["cum_type_name"]
    return rows


async def test_cumulative_figures_follow_settle_and_cancel(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="employee")  # outpatient pooling at level 2
    before = await _figures(client, hospital, idn)
    assert all(d(r["cum"]) == 0 for r in before.values())

    reg = {"psn_no": idn, "insutype": "310", "begntime": today(), "ipt_otp_no": f"CUM-{idn[-8:]}"}
    mdtrt_id = ok(await call(client, hospital, "2201", {"data": reg}))["data"]["mdtrt_id"]
    lines = [
        fee("1", BLOOD_TEST, "10", "20.00", mdtrt_id=mdtrt_id, psn_no=idn),
        fee("2", ATORVASTATIN, "5", "20.00", mdtrt_id=mdtrt_id, psn_no=idn),
    ]
    ok(await call(client, hospital, "2204", {"feedetail": lines}))
    setl = ok(await call(client, hospital, "2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}))["setlinfo"]
    assert d(setl["fund_pay_sumamt"]) > 0 and d(setl["act_pay_dedc"]) > 0

    after = await _figures(client, hospital, idn)
    assert d(after["C009"]["cum"]) == d(setl["fund_pay_sumamt"])  # fund paid
    assert d(after["C010"]["cum"]) == d(setl["psn_part_amt"])  # the person's part
    assert d(after["C001"]["cum"]) == d(setl["act_pay_dedc"])  # outpatient deductible used
    assert d(after["C003"]["cum"]) == d(setl["hifp_pay"])  # outpatient pooled fund paid
    assert after["C012"]["cum"] == 0  # admissions: a count, not money

    # the same figures natively: the accumulators are the settle path's own (nothing re-summed)
    cancel = {"data": {"setl_id": setl["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": idn}}
    ok(await call(client, hospital, "2208", cancel))
    again = await _figures(client, hospital, idn)
    assert all(d(r["cum"]) == 0 for r in again.values())

    codes = ok(await call(client, hospital, "1901", {"data": {"type": "cum_type_code"}}))["list"]
    assert {c["value"] for c in codes} == set(after)


async def test_cumulative_refusals(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="resident")
    for bad in ("2026", "202613", "abcdef", "1800-1"):
        refused(await call(client, hospital, "5206", {"data": {"psn_no": idn, "cum_ym": bad}}), "INVALID_REQUEST")
    future = f"{clock.today().year + 1}01"
    msg = refused(await call(client, hospital, "5206", {"data": {"psn_no": idn, "cum_ym": future}}), "INVALID_REQUEST")
    assert "cum_ym" in msg
    refused(await call(client, hospital, "5206", {"data": {"cum_ym": _this_month()}}), "INVALID_REQUEST")
    unknown = "11010519491231002X"
    refused(
        await call(client, hospital, "5206", {"data": {"psn_no": unknown, "cum_ym": _this_month()}}),
        "PERSON_NOT_FOUND",
    )
    # a year the person was not enrolled in: no figures, said in warn_msg
    last = f"{clock.today().year - 3}12"
    reply = await call(client, hospital, "5206", {"data": {"psn_no": idn, "cum_ym": last}})
    assert ok(reply) == {"cuminfo": []} and "not enrolled" in reply["warn_msg"]
