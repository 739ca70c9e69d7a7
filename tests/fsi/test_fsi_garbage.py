"""Garbage inside a well-formed envelope, for every transaction served: always an HTTP 200
envelope (infcode -1 with a code), never a server error."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from api.fsi.transactions import TRANSACTIONS
from tests.builders import make_person
from tests.fsi.helpers import BLOOD_TEST, call, fee, ok, today

pytestmark = pytest.mark.asyncio

JUNK: list[Any] = [None, 0, -1, 1.5, 1e308, True, "", "x" * 300, "2026-13-45", [], {}, [1], [{}], {"a": 1}, "0000"]
NODES = ("data", "mdtrtinfo", "feedetail", "druginfo", "drugdetail", "dscginfo", "diseinfo")
FIELDS = (
    "psn_no",
    "mdtrt_id",
    "setl_id",
    "begntime",
    "endtime",
    "medfee_sumamt",
    "acct_used_flag",
    "type",
    "insutype",
    "med_type",
    "omsgid",
    "oinfno",
    "chrg_bchno",
    "ipt_otp_no",
    "ipt_no",
    "mdtrt_cert_no",
    "stmt_begndate",
    "stmt_enddate",
    "clr_type",
    "setl_optins",
    "fixmedins_setl_cnt",
    "feedetl_sn",
)
LINE_FIELDS = (
    "feedetl_sn",
    "mdtrt_id",
    "med_list_codg",
    "cnt",
    "pric",
    "det_item_fee_sumamt",
    "fee_ocur_time",
    "prd_days",
    "drugtracinfo",
    "drug_trac_codg",
    "chrg_bchno",
)


async def test_garbage_is_always_an_envelope(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    rng = random.Random(2026)
    idn = await make_person(client, admin_headers, scheme="employee", account="10.00")
    reg = {"psn_no": idn, "insutype": "310", "begntime": today(), "ipt_otp_no": f"G-{idn[-6:]}"}
    mdtrt_id = ok(await call(client, hospital, "2201", {"data": reg}))["data"]["mdtrt_id"]
    good_line = fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn)
    good = {
        "psn_no": idn,
        "mdtrt_id": mdtrt_id,
        "insutype": "310",
        "begntime": today(),
        "ipt_otp_no": "G2",
        "type": "med_type",
        "setl_id": "x",
        "omsgid": "x",
        "oinfno": "2207",
        "chrg_bchno": "B1",
    }
    for infno in sorted(TRANSACTIONS):
        for _ in range(10):
            node = rng.choice(NODES)
            shape = rng.random()
            if shape < 0.3:
                payload: Any = rng.choice(JUNK)
            elif node in ("feedetail", "drugdetail"):
                line = dict(good_line)
                line[rng.choice(LINE_FIELDS)] = rng.choice(JUNK)
                payload = [line]
            else:
                payload = dict(good)
                for _ in range(rng.randint(1, 3)):
                    payload[rng.choice(FIELDS)] = rng.choice(JUNK)
            reply = await call(client, hospital, infno, {"data": dict(good), node: payload})
            assert reply["infcode"] in (0, -1)
            if reply["infcode"] == -1:
                assert reply["err_code"] and reply["err_msg"]
