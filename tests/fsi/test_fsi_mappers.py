"""The pure translations: national fund fields per scheme, the mirror, the code map's loader."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from yibao.errors import InvalidRequest, UnknownItem
from yibao.nhsa import mappers as m
from yibao.reference.loader import nhsa_code_rows

BODY = {
    "settlement_id": "s1",
    "service_date": "2026-12-03",
    "visit_type": "inpatient",
    "settled_at": "2026-12-03T10:00:00+08:00",
    "cancelled_at": "2026-12-03T11:00:00+08:00",
    "totals": {
        "total": "10000.00",
        "full_self_pay": "300.00",
        "over_cap_self_pay": "200.00",
        "pre_self_pay": "500.00",
        "policy_range": "9000.00",
        "deductible": "800.00",
        "basic_fund": "6000.00",
        "critical_illness": "1000.00",
        "medical_assistance": "400.00",
        "fund_total": "7400.00",
        "personal_part": "2600.00",
        "personal_account": "600.00",
        "cash": "2000.00",
    },
}
PERSON = {
    "psn_no": "430522198005170011",
    "psn_name": "张三",
    "gend": "1",
    "brdy": "1980-05-17",
    "age": 46,
    "psn_type": "11",
}


def _setlinfo(scheme: str, sign: int = 1) -> dict[str, object]:
    return m.setlinfo(
        BODY,
        scheme=scheme,
        mdtrt_id="m",
        setl_id="s1",
        person=PERSON,
        med_type="21",
        msgid="H430522100202612031000000001",
        balc=12345,
        clr_optins="430522",
        sign=sign,
    )


def _d(v: object) -> Decimal:
    return Decimal(str(v))


@pytest.mark.parametrize(
    ("scheme", "layer", "basic_code", "layer_code"),
    [
        ("employee", "hifob_pay", "310100", "330100"),
        ("resident", "hifmi_pay", "390100", "390200"),
    ],
)
def test_funds_by_scheme_and_identities(scheme: str, layer: str, basic_code: str, layer_code: str) -> None:
    for sign in (1, -1):
        s = _setlinfo(scheme, sign)
        assert _d(s["hifp_pay"]) == sign * Decimal("6000.00") and _d(s[layer]) == sign * Decimal("1000.00")
        assert _d(s["maf_pay"]) == sign * Decimal("400.00")
        funds = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay", "hifdm_pay")
        assert _d(s["fund_pay_sumamt"]) == sum(_d(s[f]) for f in funds)
        assert _d(s["medfee_sumamt"]) == _d(s["fund_pay_sumamt"]) + _d(s["psn_part_amt"]) + _d(s["hosp_part_amt"])
        assert _d(s["psn_part_amt"]) == _d(s["acct_pay"]) + _d(s["psn_cash_pay"])
        assert s["refd_setl_flag"] == ("1" if sign < 0 else "0")
        assert s["setl_time"] == (BODY["cancelled_at"] if sign < 0 else BODY["settled_at"])
        assert s["insutype"] == m.INSUTYPE_OF_SCHEME[scheme] and s["clr_type"] == "21"
        detail = {x["fund_pay_type"]: _d(x["fund_payamt"]) for x in m.setldetail(BODY, scheme=scheme, sign=sign)}
        assert detail == {
            basic_code: sign * Decimal("6000.00"),
            layer_code: sign * Decimal("1000.00"),
            "610100": sign * Decimal("400.00"),
            "310200": sign * Decimal("600.00"),
        }


def test_fee_lines_name_the_line() -> None:
    line = {"feedetl_sn": "9", "med_list_codg": "N1", "cnt": 3, "pric": 1.5, "det_item_fee_sumamt": 4.5}
    assert m.fee_lines([line], None, {"N1": "S-BLRT"})[0]["pric"] == 150
    with pytest.raises(UnknownItem, match="feedetl_sn 9"):
        m.fee_lines([line], None, {})
    with pytest.raises(InvalidRequest, match="feedetl_sn 9"):
        m.fee_lines([{**line, "det_item_fee_sumamt": 4.51}], None, {"N1": "S-BLRT"})
    with pytest.raises(InvalidRequest, match="med_type"):
        m.visit_type("99")


def test_the_code_map_refuses_an_item_the_catalogue_lacks(tmp_path: Path) -> None:
    path = tmp_path / "nhsa-catalog-map.csv"
    path.write_text("national_code,item_code,name\nN1,S-BLRT,a\nN2,NOPE,b\n", encoding="utf-8")
    with pytest.raises(InvalidRequest, match="line 3"):
        nhsa_code_rows(path, {"S-BLRT"})
    assert [r["item_code"] for r in nhsa_code_rows(path)] == ["S-BLRT", "NOPE"]
