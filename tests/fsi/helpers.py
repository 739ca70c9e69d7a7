"""Drive the national envelope as an HIS does: one envelope per call, msgids from a counter."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from yibao import clock

HOSPITAL = "H430522100"
PHARMACY = "P430522500"

#: national catalogue codes of data/reference/nhsa-catalog-map.csv used by the conversations
BLOOD_TEST = "002501010010000-250101001"  # S-BLRT, class A, 20.00
AMOXICILLIN = "XJ01CAA040A001010100001"  # D-AMOX-250, class A, cap 12.00
ATORVASTATIN = "XC10AAA048A001010100457"  # D-ATOR-20, class B 10 %, cap 25.00
BED = "001102000010000-110200001"  # S-BED-2, class A, 40.00
VITAMIN_C = "XA11GAW104A001010100032"  # D-VITC-100, class C

_STAMP = datetime.now().strftime("%Y%m%d%H%M%S")
_seq = itertools.count(1)


def msgid(institution: str = HOSPITAL) -> str:
    """institution code + yyyyMMddHHmmss + 4-digit sequence, never repeated in a run."""
    n = next(_seq)
    return f"{institution}{_STAMP[:-4]}{n // 10000:04d}{n % 10000:04d}"


def envelope(
    infno: str, node: dict[str, Any], *, institution: str = HOSPITAL, mid: str | None = None
) -> dict[str, Any]:
    return {
        "infno": infno,
        "msgid": mid or msgid(institution),
        "mdtrtarea_admvs": "430522",
        "insuplc_admdvs": "430522",
        "recer_sys_code": "YBXT",
        "infver": "V1.0",
        "opter_type": "1",
        "opter": "001",
        "opter_name": "收费员",
        "inf_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "fixmedins_code": institution,
        "fixmedins_name": "",
        "sign_no": "",
        "input": node,
    }


async def call(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    infno: str,
    node: dict[str, Any],
    *,
    institution: str = HOSPITAL,
    mid: str | None = None,
    single_endpoint: bool = False,
) -> dict[str, Any]:
    """One transaction; an HTTP status other than 200 fails the test (refusals are envelopes)."""
    url = "/fsi/api/callService" if single_endpoint else f"/fsi/api/{infno}"
    r = await client.post(url, json=envelope(infno, node, institution=institution, mid=mid), headers=headers)
    assert r.status_code == 200, r.text
    reply: dict[str, Any] = r.json()
    assert set(reply) == {
        "infcode",
        "inf_refmsgid",
        "refmsg_time",
        "respond_time",
        "err_msg",
        "err_code",
        "warn_msg",
        "output",
    }
    return reply


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["infcode"] == 0, reply
    assert reply["err_msg"] is None and reply["err_code"] is None
    out: dict[str, Any] = reply["output"]
    return out


def refused(reply: dict[str, Any], code: str) -> str:
    assert reply["infcode"] == -1, reply
    assert reply["err_code"] == code, reply
    assert reply["output"] == {}
    msg: str = reply["err_msg"]
    assert msg
    return msg


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def assert_identities(s: dict[str, Any]) -> None:
    """docs/NHSA-INTERFACE.md §3.3 I1–I4 on a ``setlinfo``."""
    medfee = d(s["medfee_sumamt"])
    assert medfee == d(s["fulamt_ownpay_amt"]) + d(s["overlmt_selfpay"]) + d(s["preselfpay_amt"]) + d(
        s["inscp_scp_amt"]
    )
    assert medfee == d(s["fund_pay_sumamt"]) + d(s["psn_part_amt"]) + d(s["hosp_part_amt"])
    assert d(s["psn_part_amt"]) == d(s["acct_pay"]) + d(s["psn_cash_pay"])
    funds = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay", "hifdm_pay")
    assert d(s["fund_pay_sumamt"]) == sum(d(s[f]) for f in funds)


MONEY = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "hosp_part_amt",
)

#: native totals → national fields (what GET /api/v1/settlements/{id} must agree with)
NATIVE = {
    "total": "medfee_sumamt",
    "full_self_pay": "fulamt_ownpay_amt",
    "over_cap_self_pay": "overlmt_selfpay",
    "pre_self_pay": "preselfpay_amt",
    "policy_range": "inscp_scp_amt",
    "deductible": "act_pay_dedc",
    "basic_fund": "hifp_pay",
    "medical_assistance": "maf_pay",
    "fund_total": "fund_pay_sumamt",
    "personal_part": "psn_part_amt",
    "personal_account": "acct_pay",
    "cash": "psn_cash_pay",
}


def assert_same_as_native(setlinfo: dict[str, Any], native: dict[str, Any]) -> None:
    for native_name, national in NATIVE.items():
        assert d(native["totals"][native_name]) == d(setlinfo[national]), native_name


def today() -> str:
    return clock.today().isoformat()


def fee(sn: str, code: str, cnt: str, pric: str, *, mdtrt_id: str, psn_no: str, batch: str = "B1") -> dict[str, Any]:
    return {
        "feedetl_sn": sn,
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "chrg_bchno": batch,
        "rxno": "",
        "rx_circ_flag": "0",
        "fee_ocur_time": f"{today()} 09:30:00",
        "med_list_codg": code,
        "medins_list_codg": f"HIS-{code[:8]}",
        "det_item_fee_sumamt": float(d(cnt) * d(pric)),
        "cnt": float(cnt),
        "pric": float(pric),
        "bilg_dept_codg": "A01",
        "bilg_dr_codg": "D001",
        "hosp_appr_flag": "1",
    }
