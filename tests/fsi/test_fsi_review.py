"""3101/3102 smart review through the envelope: the in-settlement monitoring rules (the settle's
own path) on fee details, with the rule and the lines concerned named, nothing settled."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.builders import make_person
from tests.fsi.helpers import BLOOD_TEST, call, d, fee, ok, refused, today

pytestmark = pytest.mark.asyncio

HPV = "002504030480000-250403048"  # S-HPV, restricted to women, 150.00 cap
BED = "001102000010000-110200001"  # S-BED-2, at most 1 unit per day, 40.00


def _order(rx_id: str, code: str, cnt: str, pric: str) -> dict[str, Any]:
    return {"rx_id": rx_id, "hilist_code": code, "cnt": cnt, "pric": pric, "drord_begn_date": today()}


def _pre(idn: str, orders: list[dict[str, Any]]) -> dict[str, Any]:
    """A 3101 input: one patient, one encounter, its orders."""
    encounter = {
        "mdtrt_id": "",
        "med_type": "11",
        "adm_date": today(),
        "insutype": "390",
        "fsi_diagnose_dtos": [{"dise_codg": "J06.9"}],
        "fsi_order_dtos": orders,
    }
    return {"data": {"trig_scen": "2", "patient_dtos": [{"patn_id": idn, "fsi_encounter_dtos": [encounter]}]}}


async def test_pre_review_names_the_rule_and_the_line(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="resident", gender="M")
    orders = [_order("RX1", BLOOD_TEST, "1", "20.00"), _order("RX2", HPV, "1", "120.00")]
    result = ok(await call(client, hospital, "3101", _pre(idn, orders)))["result"]
    assert [r["rule_id"] for r in result] == ["gender_restriction"]
    hit = result[0]
    assert hit["rule_name"] and "S-HPV" in hit["vola_cont"] and hit["patn_id"] == idn
    assert d(hit["vola_amt"]) == d("120.00") and hit["sev_deg"] == "2"  # warn mode: lets the bill through
    assert [(x["rx_id"], d(x["vola_amt"])) for x in hit["judge_result_detail_dtos"]] == [("RX2", d("120.00"))]

    clean = ok(await call(client, hospital, "3101", _pre(idn, [_order("RX1", BLOOD_TEST, "2", "20.00")])))
    assert clean["result"] == []

    # what refuses a bill still refuses: an unmapped national code names its line
    msg = refused(await call(client, hospital, "3101", _pre(idn, [_order("RX9", "NO-SUCH", "1", "1")])), "UNKNOWN_ITEM")
    assert "RX9" in msg


async def test_in_review_of_uploaded_details_settles_nothing(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="resident")
    reg = {"psn_no": idn, "insutype": "390", "begntime": today(), "ipt_otp_no": f"RV-{idn[-8:]}"}
    mdtrt_id = ok(await call(client, hospital, "2201", {"data": reg}))["data"]["mdtrt_id"]
    lines = [
        fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn),
        fee("2", BED, "3", "40.00", mdtrt_id=mdtrt_id, psn_no=idn),
    ]
    ok(await call(client, hospital, "2204", {"feedetail": lines}))

    node = {"data": {"patient_dtos": [{"patn_id": idn, "curr_mdtrt_id": mdtrt_id}], "trig_scen": "7"}}
    result = ok(await call(client, hospital, "3102", node))["result"]
    assert [r["rule_id"] for r in result] == ["units_per_day"]
    assert result[0]["mdtrt_id"] == mdtrt_id and d(result[0]["vola_amt"]) == d("120.00")
    assert [x["feedetl_sn"] for x in result[0]["judge_result_detail_dtos"]] == ["2"]

    # nothing was settled: the visit settles afterwards as usual, once
    setl = ok(await call(client, hospital, "2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}))["setlinfo"]
    assert d(setl["medfee_sumamt"]) == d("140.00")

    # the clean part alone: an empty result
    mdtrt_2 = ok(await call(client, hospital, "2201", {"data": {**reg, "ipt_otp_no": f"RW-{idn[-8:]}"}}))["data"][
        "mdtrt_id"
    ]
    ok(
        await call(
            client, hospital, "2204", {"feedetail": [fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_2, psn_no=idn)]}
        )
    )
    assert ok(await call(client, hospital, "3102", {"data": {"mdtrt_id": mdtrt_2, "psn_no": idn}}))["result"] == []
    refused(await call(client, hospital, "3102", {"data": {"mdtrt_id": "nope", "psn_no": idn}}), "NOT_FOUND")
