"""The national envelope's reply, for the OpenAPI document (the body is built in ``api.fsi``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

EXAMPLE_2207: dict[str, Any] = {
    "infno": "2207",
    "msgid": "H43052210020261203101500" + "0007",
    "mdtrtarea_admvs": "430522",
    "insuplc_admdvs": "430522",
    "recer_sys_code": "YBXT",
    "infver": "V1.0",
    "opter_type": "1",
    "opter": "001",
    "opter_name": "收费员",
    "inf_time": "2026-12-03 10:15:00",
    "fixmedins_code": "H430522100",
    "fixmedins_name": "新邵县人民医院",
    "sign_no": "",
    "input": {
        "data": {
            "psn_no": "430522199001011235",
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": "430522199001011235",
            "med_type": "11",
            "medfee_sumamt": 36.0,
            "psn_setlway": "01",
            "mdtrt_id": "0193a1f2c3d47e8f9a0b1c2d3e4f5a6b",
            "chrg_bchno": "0000",
            "insutype": "390",
            "acct_used_flag": "0",
            "invono": "",
        }
    },
}


class FsiReply(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "infcode": -1,
                    "inf_refmsgid": "4305222026120310150000012340000001",
                    "refmsg_time": "20261203101500123",
                    "respond_time": "20261203101500145",
                    "err_msg": "未参保 person is not enrolled in any scheme for 2026",
                    "err_code": "NOT_ENROLLED",
                    "warn_msg": None,
                    "output": {},
                }
            ]
        }
    }

    infcode: Literal[0, -1] = Field(description="0 success, -1 refused")
    inf_refmsgid: str = Field(description="receiver message id: admin division (6) + yyyyMMddHHmmss + serial (10)")
    refmsg_time: str = Field(description="received, yyyyMMddHHmmssSSS (China time)")
    respond_time: str = Field(description="answered, yyyyMMddHHmmssSSS (China time)")
    err_msg: str | None = Field(description="why it was refused (bilingual)")
    err_code: str | None = Field(description="the native machine-readable error code of a refusal")
    warn_msg: str | None = Field(description="warnings of the settlement rules, `rule: message; …`")
    output: dict[str, Any] = Field(description="the transaction's output nodes (setlinfo, setldetail, result, …)")
