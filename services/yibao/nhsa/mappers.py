"""Pure translation between the national vocabulary and the native one (no I/O, no rules).

What is translated: the national codes of a visit (``med_type``, ``insutype``) to the native
visit type and scheme; uploaded fee lines (``feedetail``/``drugdetail``) to native bill lines;
the native settlement body to ``setlinfo`` + ``setldetail`` (national field names, the
identities of docs/NHSA-INTERFACE.md §3.3 hold by construction since each national field is one
native total) and its negative mirror for cancels; the native per-line split to the national
per-line result (``result``/``detlcutinfo``); and the code tables 1901 answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from yibao.errors import InvalidRequest, UnknownItem
from yibao.money import round_fen, to_wire, yuan_to_fen
from yibao.values import CatalogueItem, RuleWarning

# ---------------------------------------------------------------- code tables (1901)

INSUTYPE_OF_SCHEME = {"employee": "310", "resident": "390"}
SCHEME_OF_INSUTYPE = {v: k for k, v in INSUTYPE_OF_SCHEME.items()}

#: national med_type → native visit type (the codes this product settles)
VISIT_TYPE_OF_MED_TYPE = {
    "11": "outpatient",
    "13": "outpatient",
    "14": "chronic_outpatient",
    "21": "inpatient",
    "22": "inpatient",
    "41": "pharmacy",
    "51": "maternity_outpatient",  # DOMAIN §10: prenatal checks
    "52": "maternity_inpatient",  # delivery
}
OUTPATIENT_FAMILY = frozenset({"outpatient", "chronic_outpatient", "maternity_outpatient"})
INPATIENT_FAMILY = frozenset({"inpatient", "maternity_inpatient"})
#: 生育类别 ``matn_type`` of a 52 stay (2401/2402) → the native ``delivery_type``
DELIVERY_TYPE_OF_MATN_TYPE = {"1": "vaginal", "2": "caesarean"}

CODE_TABLES: dict[str, dict[str, str]] = {
    "insutype": {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"},
    "med_type": {
        "11": "普通门诊",
        "13": "急诊",
        "14": "门诊慢特病",
        "21": "普通住院",
        "22": "外伤住院",
        "41": "定点药店购药",
        "51": "生育门诊",
        "52": "生育住院",
    },
    "matn_type": {"1": "顺产", "2": "剖宫产"},
    "mdtrt_cert_type": {"01": "医保电子凭证", "02": "居民身份证", "03": "社会保障卡"},
    "psn_cert_type": {"01": "居民身份证"},
    "chrgitm_lv": {"01": "甲类", "02": "乙类", "03": "丙类"},
    "fund_pay_type": {
        "310100": "职工基本医疗保险统筹基金",
        "310200": "职工基本医疗保险个人账户基金",
        "330100": "大额医疗费用补助基金",
        "390100": "城乡居民基本医疗保险基金",
        "390200": "城乡居民大病医疗保险基金",
        "610100": "医疗救助基金",
        "510100": "生育保险基金",
    },
    "clr_type": {"11": "门诊", "21": "住院", "41": "药店", "51": "生育门诊", "52": "生育住院"},
    "gend": {"1": "男", "2": "女"},
    "psn_insu_stas": {"1": "正常参保", "2": "暂停参保"},
    "refd_setl_flag": {"0": "正常", "1": "退费"},
}

#: 5206 ``cum_type_code`` → the native person-year accumulator it reports and whether it is a
#: count (else fen). This product's codes (the platform's list is provincial); 1901 lists them.
CUM_TYPES: dict[str, tuple[str, str, bool]] = {
    "C001": ("outpatient_deductible_used", "门诊起付线累计", False),
    "C002": ("chronic_deductible_used", "门诊慢特病起付线累计", False),
    "C003": ("outpatient_pool_paid", "门诊统筹基金支付累计", False),
    "C004": ("basic_paid", "住院及门诊慢特病统筹基金支付累计", False),
    "C005": ("policy_range_self_pay", "政策范围内个人自付累计", False),
    "C006": ("critical_paid", "大病保险(大额补助)支付累计", False),
    "C007": ("assistance_base", "医疗救助计算基数累计", False),
    "C008": ("assistance_paid", "医疗救助支付累计", False),
    "C009": ("fund_paid", "基金支付累计", False),
    "C010": ("personal_paid", "个人负担累计", False),
    "C011": ("maternity_prenatal_paid", "产前检查生育基金支付累计", False),
    "C012": ("inpatient_admissions", "住院次数累计", True),
}
CODE_TABLES["cum_type_code"] = {code: label for code, (_, label, _) in CUM_TYPES.items()}

CHRGITM_LV = {"A": "01", "B": "02", "C": "03"}
GEND = {"M": "1", "F": "2"}
CLR_TYPE = {
    "outpatient": "11",
    "chronic_outpatient": "11",
    "inpatient": "21",
    "pharmacy": "41",
    "maternity_outpatient": "51",  # DOMAIN §10: 生育门诊
    "maternity_inpatient": "52",  # 生育住院
}

#: per scheme: (fund_pay_type, setlinfo field, native total); the basic fund is 310100 for
#: employees and 390100 for residents, the critical-illness layer 330100 (大额, hifob_pay) for
#: employees and 390200 (大病, hifmi_pay) for residents, assistance 610100 (maf_pay) for both,
#: the maternity fund (DOMAIN §10, employees' 51/52 bills) 510100 in ``oth_pay`` (``setlinfo``
#: has no maternity field of its own)
FUND_LINES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "employee": (
        ("310100", "hifp_pay", "basic_fund"),
        ("330100", "hifob_pay", "critical_illness"),
        ("610100", "maf_pay", "medical_assistance"),
        ("510100", "oth_pay", "maternity_fund"),
    ),
    "resident": (
        ("390100", "hifp_pay", "basic_fund"),
        ("390200", "hifmi_pay", "critical_illness"),
        ("610100", "maf_pay", "medical_assistance"),
        ("510100", "oth_pay", "maternity_fund"),
    ),
}
ACCOUNT_FUND_PAY_TYPE = "310200"


def code_table(kind: str) -> list[dict[str, str]]:
    if kind not in CODE_TABLES:
        known = ", ".join(sorted(CODE_TABLES))
        raise InvalidRequest(f"字典类型不存在 unknown code table {kind!r}; known: {known}")
    return [{"type": kind, "value": v, "label": label, "vali_flag": "1"} for v, label in CODE_TABLES[kind].items()]


def visit_type(med_type: str) -> str:
    try:
        return VISIT_TYPE_OF_MED_TYPE[med_type]
    except KeyError:
        known = ", ".join(VISIT_TYPE_OF_MED_TYPE)
        raise InvalidRequest(f"医疗类别不支持 med_type {med_type!r} is not settled here; supported: {known}") from None


def cuminfo(figures: Mapping[str, int], *, insutype: str, year: int, cum_ym: str) -> list[dict[str, Any]]:
    """5206 ``cuminfo[]``: one row per accumulator, money in yuan, counts as integers."""
    return [
        {
            "insutype": insutype,
            "year": str(year),
            "cum_ym": cum_ym,
            "cum_type_code": code,
            "cum_type_name": label,
            "cum": figures[field] if count else amount(figures[field]),
        }
        for code, (field, label, count) in CUM_TYPES.items()
    ]


#: 3101/3102 ``sev_deg``: a rule that refuses the bill at settlement (``block``) is 1 (严重),
#: one that lets it through with a warning 2 (一般)
SEV_DEG = {"block": "1", "warn": "2"}


def review_results(
    hits: Sequence[RuleWarning],
    body: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    rules: Mapping[str, tuple[str, str]],
    *,
    patn_id: str,
    mdtrt_id: str,
    jr_prefix: str,
) -> list[dict[str, Any]]:
    """3101/3102 ``result[]``: one row per hit of an in-settlement monitoring rule (``rules``:
    rule id → (name, mode); other signals are not rule hits), naming the uploaded lines it
    concerns (``judge_result_detail_dtos[]``, ``rx_id`` = ``feedetl_sn``). ``vola_amt`` is the
    amount of those lines (``vola_amt_stas`` 1: whole line amounts), 0 for a bill-level hit.
    ``body``: the native preview of ``lines`` (lines 1…n in order)."""
    amounts = {ln["line_no"]: _fen(ln["amount"]) for ln in body["lines"]}
    sn_of = {n: up["feedetl_sn"] for n, up in enumerate(lines, start=1)}
    out: list[dict[str, Any]] = []
    for hit in hits:
        if hit.rule not in rules:
            continue
        name, mode = rules[hit.rule]
        jr_id = f"{jr_prefix}-{len(out) + 1}"
        concerned = [n for n in hit.lines if n in sn_of]
        out.append(
            {
                "jr_id": jr_id,
                "rule_id": hit.rule,
                "rule_name": name,
                "vola_cont": hit.message,
                "patn_id": patn_id,
                "mdtrt_id": mdtrt_id,
                "vola_amt": amount(sum(amounts[n] for n in concerned)),
                "vola_amt_stas": "1",
                "sev_deg": SEV_DEG.get(mode, "2"),
                "vola_evid": hit.message,
                "vola_bhvr_type": "1",
                "task_id": "",
                "judge_result_detail_dtos": [
                    {
                        "jrd_id": f"{jr_id}-{k}",
                        "patn_id": patn_id,
                        "mdtrt_id": mdtrt_id,
                        "rx_id": sn_of[n],
                        "feedetl_sn": sn_of[n],
                        "vola_item_type": "1",
                        "vola_amt": amount(amounts[n]),
                    }
                    for k, n in enumerate(concerned, start=1)
                ],
            }
        )
    return out


# ---------------------------------------------------------------- reading national input


def text(data: Mapping[str, Any], name: str, *, required: bool = True, max_length: int = 64) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise InvalidRequest(f"缺少字段 missing field {name}")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidRequest(f"字段格式错误 field {name} must be a string")
    out = str(value).strip()
    if len(out) > max_length:
        raise InvalidRequest(f"字段过长 field {name} is longer than {max_length} characters")
    return out


def day(data: Mapping[str, Any], name: str, *, required: bool = True) -> date | None:
    """A national date or datetime (``yyyy-MM-dd`` or ``yyyy-MM-dd HH:mm:ss``) as its date."""
    raw = text(data, name, required=required, max_length=19)
    if not raw:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise InvalidRequest(f"日期格式错误 field {name}: {raw!r} is not yyyy-MM-dd[ HH:mm:ss]")


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidRequest(f"数值格式错误 {where} must be a number")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise InvalidRequest(f"数值格式错误 {where}: {value!r} is not a number") from None
    if not out.is_finite() or abs(out) >= 10**12:
        raise InvalidRequest(f"数值超出范围 {where}: {value!r} is not a number below 10^12")
    return out


def fee_lines(
    raw: Any, mdtrt_id: str | None, codes: Mapping[str, str], node: str = "feedetail"
) -> list[dict[str, Any]]:
    """Uploaded fee lines as stored on the visit; a line of another visit, a duplicated
    ``feedetl_sn``, a bad amount or an unmapped national code is refused naming the line."""
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest(f"缺少费用明细 input.{node} must be a non-empty list")
    if len(raw) > 2000:
        raise InvalidRequest(f"费用明细过多 input.{node} has more than 2000 lines")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, line in enumerate(raw, start=1):
        if not isinstance(line, dict):
            raise InvalidRequest(f"{node}[{n}] must be an object")
        sn = text(line, "feedetl_sn", max_length=30)
        where = f"{node}[{n}] feedetl_sn {sn}"
        if sn in seen:
            raise InvalidRequest(f"明细流水号重复 {where}: feedetl_sn appears twice")
        seen.add(sn)
        if mdtrt_id is not None and text(line, "mdtrt_id", required=False, max_length=40) not in ("", mdtrt_id):
            raise InvalidRequest(f"就诊ID不符 {where}: mdtrt_id is not this visit's {mdtrt_id}")
        national = text(line, "med_list_codg", max_length=60)
        item = codes.get(national)
        if item is None:
            raise UnknownItem(
                f"医保目录编码未对照 {where}: national catalogue code {national!r} is not mapped to this "
                "catalogue (data/reference/nhsa-catalog-map.csv)",
                line=sn,
            )
        cnt = _decimal(line.get("cnt"), f"{where} cnt")
        pric = _decimal(line.get("pric"), f"{where} pric")
        if cnt <= 0 or pric <= 0:
            raise InvalidRequest(
                f"数量或单价无效 {where}: cnt and pric must be positive (refunds: cancel and re-upload)"
            )
        if pric != pric.quantize(Decimal("0.01")):
            raise InvalidRequest(f"单价精度 {where}: pric {pric} has more than 2 decimals (fen)")
        if cnt != cnt.quantize(Decimal("0.0001")):
            raise InvalidRequest(f"数量精度 {where}: cnt {cnt} has more than 4 decimals")
        sumamt = line.get("det_item_fee_sumamt")
        if sumamt is not None and _decimal(sumamt, f"{where} det_item_fee_sumamt") * 100 != round_fen(cnt * pric * 100):
            raise InvalidRequest(f"明细金额不符 {where}: det_item_fee_sumamt {sumamt} ≠ cnt × pric")
        occurred = day(line, "fee_ocur_time", required=False)
        prd_days = line.get("prd_days")
        days = int(_decimal(prd_days, f"{where} prd_days")) if prd_days not in (None, "", 0, "0") else None
        trace = line.get("drugtracinfo") or []
        traces = [text(t, "drug_trac_codg", max_length=64) for t in trace if isinstance(t, dict)]
        if text(line, "drug_trac_codg", required=False):
            traces.append(text(line, "drug_trac_codg"))
        out.append(
            {
                "feedetl_sn": sn,
                "chrg_bchno": text(line, "chrg_bchno", required=False, max_length=30),
                "med_list_codg": national,
                "medins_list_codg": text(line, "medins_list_codg", required=False, max_length=60),
                "item_code": item,
                "cnt": format(cnt.normalize(), "f"),
                "pric": yuan_to_fen(pric),
                "fee_ocur_time": occurred.isoformat() if occurred else "",
                "prd_days": days,
                "trace_codes": traces,
            }
        )
    return out


def native_request(
    visit: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], *, use_account: bool, today: date
) -> dict[str, Any]:
    """The native settle request of a visit (the body ``POST /api/v1/settlements`` takes, so the
    native contract validates it): its ``ipt_otp_no`` is the native visit number, its lines in
    upload order are lines 1…n. An inpatient stay is admitted on 2401's ``begntime`` and
    discharged on 2402's ``endtime`` (today if not discharged yet)."""
    if not lines:
        raise InvalidRequest("无费用明细 the visit has no fee details: upload them (2204/2301) first")
    begin: date = visit["begntime"]
    kind = visit["visit_type"]
    inpatient = kind in INPATIENT_FAMILY
    end: date = visit["endtime"] or (today if inpatient else begin)
    delivery: dict[str, Any] = {}
    if kind == "maternity_inpatient":
        if not visit.get("delivery_type"):
            raise InvalidRequest(
                "生育类别缺失 a maternity stay (med_type 52) needs matn_type (1 顺产, 2 剖宫产) at admission (2401) "
                "or discharge (2402) before it is previewed or settled"
            )
        delivery = {"delivery_type": visit["delivery_type"], "babies": visit.get("babies")}
    return {
        **delivery,
        "id_number": visit["psn_no"],
        "visit_no": visit["ipt_otp_no"],
        "visit_type": kind,
        "service_date": (end if inpatient else begin).isoformat(),
        "admitted_on": begin.isoformat() if inpatient else None,
        "discharged_on": end.isoformat() if inpatient else None,
        "diagnoses": list(visit["diagnoses"] or ()),
        "use_personal_account": use_account,
        "lines": [
            {
                "line_no": n,
                "item_code": ln["item_code"],
                "quantity": ln["cnt"],
                "unit_price": to_wire(ln["pric"]),
                "service_date": ln["fee_ocur_time"] or begin.isoformat(),
                "days_supply": ln["prd_days"],
                "trace_codes": list(ln["trace_codes"]),
            }
            for n, ln in enumerate(lines, start=1)
        ],
    }


# ---------------------------------------------------------------- writing national output


def line_total(lines: Sequence[Mapping[str, Any]]) -> int:
    """What the uploaded lines add up to, each rounded to the fen as the settlement rounds it."""
    return sum(round_fen(Decimal(ln["cnt"]) * ln["pric"]) for ln in lines)


def _fen(wire: str) -> int:
    return yuan_to_fen(wire)


def amount(fen: int) -> Decimal:
    """Money as the platform sends it: a JSON number with two decimals. A ``Decimal`` here, never
    a float: the envelope writes it digit for digit (``api.fsi.envelope``)."""
    return Decimal(fen).scaleb(-2)


def setlinfo(
    body: Mapping[str, Any],
    *,
    scheme: str,
    mdtrt_id: str,
    setl_id: str | None,
    person: Mapping[str, Any],
    med_type: str,
    msgid: str,
    balc: int | None,
    clr_optins: str,
    sign: int = 1,
) -> dict[str, Any]:
    """``setlinfo`` of a native settlement body; ``sign`` -1 is the cancel's negative mirror."""
    t = {k: sign * _fen(v) for k, v in body["totals"].items()}
    funds = {field: t.get(total, 0) for _, field, total in FUND_LINES[scheme]}  # a body without it: 0
    return {
        "mdtrt_id": mdtrt_id,
        "setl_id": setl_id,
        "psn_no": person["psn_no"],
        "psn_name": person["psn_name"],
        "psn_cert_type": "01",
        "certno": person["psn_no"],
        "gend": person["gend"],
        "brdy": person["brdy"],
        "age": person["age"],
        "insutype": INSUTYPE_OF_SCHEME[scheme],
        "psn_type": person["psn_type"],
        "cvlserv_flag": "0",
        "setl_time": (body.get("cancelled_at") if sign < 0 else body.get("settled_at")) or None,
        "mdtrt_cert_type": "02",
        "med_type": med_type,
        "medfee_sumamt": amount(t["total"]),
        "fulamt_ownpay_amt": amount(t["full_self_pay"]),
        "overlmt_selfpay": amount(t["over_cap_self_pay"]),
        "preselfpay_amt": amount(t["pre_self_pay"]),
        "inscp_scp_amt": amount(t["policy_range"]),
        "act_pay_dedc": amount(t["deductible"]),
        "hifp_pay": amount(funds["hifp_pay"]),
        "pool_prop_selfpay": 0,
        "cvlserv_pay": 0,
        "hifes_pay": 0,
        "hifmi_pay": amount(funds.get("hifmi_pay", 0)),
        "hifob_pay": amount(funds.get("hifob_pay", 0)),
        "maf_pay": amount(funds["maf_pay"]),
        "hifdm_pay": 0,
        "oth_pay": amount(funds["oth_pay"]),
        "fund_pay_sumamt": amount(t["fund_total"]),
        "psn_part_amt": amount(t["personal_part"]),
        "acct_pay": amount(t["personal_account"]),
        "psn_cash_pay": amount(t["cash"]),
        "hosp_part_amt": 0,
        "balc": amount(balc) if balc is not None else 0,
        "acct_mulaid_pay": 0,
        "medins_setl_id": msgid,
        "clr_optins": clr_optins,
        "clr_way": "1",
        "clr_type": CLR_TYPE[body["visit_type"]],
        "refd_setl_flag": "1" if sign < 0 else "0",
    }


def setldetail(body: Mapping[str, Any], *, scheme: str, sign: int = 1) -> list[dict[str, Any]]:
    """One line per fund that paid (and the personal account's 310200 line, as the platform
    lists it), each on the in-policy base it worked on."""
    t = {k: sign * _fen(v) for k, v in body["totals"].items()}
    names = CODE_TABLES["fund_pay_type"]
    pairs = [(code, t.get(total, 0)) for code, _, total in FUND_LINES[scheme]]
    pairs.append((ACCOUNT_FUND_PAY_TYPE, t["personal_account"]))
    return [
        {
            "fund_pay_type": code,
            "fund_pay_type_name": names[code],
            "inscp_scp_amt": amount(t["policy_range"]),
            "crt_payb_lmt_amt": amount(paid),
            "fund_payamt": amount(paid),
            "setl_proc_info": "",
        }
        for code, paid in pairs
        if paid
    ]


def line_results(
    body: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], catalogue: Mapping[str, CatalogueItem]
) -> list[dict[str, Any]]:
    """The per-line split (明细分割, 2204 ``result`` / 2101 ``detlcutinfo``) of a native body
    whose lines 1…n are ``lines`` in order."""
    out = []
    for native, up in zip(body["lines"], lines, strict=True):
        item = catalogue[native["item_code"]]
        ratio = Decimal(1) if item.item_class == "C" else (item.b_self_pay_ratio or Decimal(0))
        out.append(
            {
                "feedetl_sn": up["feedetl_sn"],
                "det_item_fee_sumamt": amount(_fen(native["amount"])),
                "cnt": Decimal(str(up["cnt"])),
                "pric": amount(up["pric"]),
                "pric_uplmt_amt": amount(item.price_cap) if item.price_cap is not None else 0,
                "selfpay_prop": ratio,
                "fulamt_ownpay_amt": amount(_fen(native["full_self_pay"])),
                "overlmt_amt": amount(_fen(native["over_cap_self_pay"])),
                "preselfpay_amt": amount(_fen(native["pre_self_pay"])),
                "inscp_scp_amt": amount(_fen(native["policy_range"])),
                "chrgitm_lv": CHRGITM_LV[item.item_class],
                "med_chrgitm_type": "09" if item.kind == "drug" else "05",
                "memo": "; ".join(native["reasons"]),
            }
        )
    return out
