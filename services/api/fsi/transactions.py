"""The transaction table: each ``infno`` parses its node, calls the native use cases and maps
the answer to the national vocabulary. No rule is decided here: the split, the refusals and
the money are the native ``bill_settlement`` use cases'; visits and the journal are
``yibao.nhsa``'s; pure translations are ``yibao.nhsa.mappers``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from pydantic import ValidationError

from api.runtime import Runtime
from api.schemas.settlements import SettleRequest
from yibao import clock
from yibao.bill_settlement import queries, service
from yibao.bill_settlement.commands import SettleBill
from yibao.clock import CHINA
from yibao.errors import Forbidden, InvalidRequest, InvalidState, NotEnrolled, NotFound
from yibao.institutions.agreements import Institution
from yibao.nhsa import files
from yibao.nhsa import mappers as m
from yibao.nhsa import service as nhsa
from yibao.nhsa import statements as stmt
from yibao.reference import ReferenceData


@dataclass(frozen=True)
class Call:
    institution: Institution
    refs: ReferenceData
    runtime: Runtime
    msgid: str
    infno: str
    input: dict[str, Any]
    digest: str  # the request's hash, to tell a retry of this msgid from another request
    #: the ``RECORD`` parameters of the success reply for an outcome (the router's envelope)
    journal_entry: Callable[[Outcome], dict[str, Any]]

    @property
    def base(self) -> str:
        """The transaction without its revision letter (2207A is a 2207)."""
        return self.infno[:4]


@dataclass
class Outcome:
    output: dict[str, Any]
    warn_msg: str | None = None
    settlement_id: str | None = None
    mdtrt_id: str | None = None
    #: the reply already journaled (a settle journals it in its own transaction)
    answer: bytes | None = None
    replayed: bool = False
    #: a download (9102): ``(filename, bytes)`` answered raw; ``output`` is what is journaled
    file: tuple[str, bytes] | None = None


Handler = Callable[[Call], Awaitable[Outcome]]

# ---------------------------------------------------------------- helpers


def _node(call: Call, name: str) -> dict[str, Any]:
    node = call.input.get(name)
    if not isinstance(node, dict):
        raise InvalidRequest(f"缺少输入节点 input.{name} must be an object for {call.infno}")
    return node


def _list(call: Call, name: str, *, required: bool = False) -> list[Any]:
    node = call.input.get(name)
    if node is None and not required:
        return []
    if not isinstance(node, list):
        raise InvalidRequest(f"输入节点格式错误 input.{name} must be a list for {call.infno}")
    return node


def _warnings(body: Mapping[str, Any]) -> str | None:
    return "; ".join(f"{w['rule']}: {w['message']}" for w in body.get("warnings", ())) or None


def _flag(data: Mapping[str, Any], name: str) -> bool:
    return str(data.get(name, "0")).strip() == "1"


async def _visit_of(call: Call, data: Mapping[str, Any], family: frozenset[str]) -> dict[str, Any]:
    visit = await nhsa.visit(call.runtime.pg, call.institution.code, m.text(data, "mdtrt_id", max_length=40))
    psn_no = m.text(data, "psn_no", required=False, max_length=30)
    if psn_no and psn_no != visit["psn_no"]:
        raise InvalidState(f"人员编号不符 psn_no does not match visit {visit['mdtrt_id']}")
    if visit["visit_type"] not in family:
        raise InvalidState(
            f"交易不适用 {call.infno} does not apply to visit {visit['mdtrt_id']} ({visit['visit_type']})"
        )
    return visit


def _check_sum(data: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> None:
    """``medfee_sumamt`` the HIS sends must be the uploaded details' total (as the platform
    checks); absent, the details are the bill."""
    stated = data.get("medfee_sumamt")
    if stated in (None, ""):
        return
    total = m.line_total(lines)
    try:
        differs = Decimal(str(stated)) * 100 != total
    except ArithmeticError:
        raise InvalidRequest(f"数值格式错误 medfee_sumamt {stated!r} is not a number") from None
    if differs:
        raise InvalidRequest(
            f"费用总额不符 medfee_sumamt {stated} ≠ {m.amount(total)}, the total of the uploaded fee details"
        )


async def _settlement_output(
    call: Call,
    body: Mapping[str, Any],
    psn_no: str,
    *,
    mdtrt_id: str,
    med_type: str,
    setl_id: str | None,
    sign: int = 1,
    origin_msgid: str | None = None,
) -> dict[str, Any]:
    day = date.fromisoformat(body["service_date"])
    person = await nhsa.brief(call.runtime.pg, psn_no, day)
    return _render_settlement(
        call, body, person, mdtrt_id=mdtrt_id, med_type=med_type, setl_id=setl_id, sign=sign, origin_msgid=origin_msgid
    )


def _render_settlement(
    call: Call,
    body: Mapping[str, Any],
    person: Mapping[str, Any],
    *,
    mdtrt_id: str,
    med_type: str,
    setl_id: str | None,
    sign: int = 1,
    origin_msgid: str | None = None,
) -> dict[str, Any]:
    scheme = person["scheme"] or "resident"
    return {
        "setlinfo": m.setlinfo(
            body,
            scheme=scheme,
            mdtrt_id=mdtrt_id,
            setl_id=setl_id,
            person=person,
            med_type=med_type,
            msgid=origin_msgid or call.msgid,
            balc=person["balc"],
            clr_optins=call.institution.region,
            sign=sign,
        ),
        "setldetail": m.setldetail(body, scheme=scheme, sign=sign),
    }


async def _codes(call: Call, raw: Any) -> dict[str, str]:
    wanted = [str(ln.get("med_list_codg", "")) for ln in raw if isinstance(ln, dict)] if isinstance(raw, list) else []
    return await nhsa.item_codes(call.runtime.pg, wanted)


def _command(visit: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], account: bool) -> SettleBill:
    """The native command, validated by the native request schema (its bounds, its dates)."""
    try:
        request = SettleRequest.model_validate(m.native_request(visit, lines, use_account=account, today=clock.today()))
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:5]:
            loc = err.get("loc", ())
            where = ".".join(str(p) for p in loc)
            if len(loc) >= 2 and loc[0] == "lines" and isinstance(loc[1], int) and loc[1] < len(lines):
                where = f"feedetl_sn {lines[loc[1]]['feedetl_sn']} {'.'.join(str(p) for p in loc[2:])}"
            parts.append(f"{where}: {err.get('msg')}")
        raise InvalidRequest("请求格式错误 invalid request: " + "; ".join(parts)) from None
    return request.to_command()


async def _preview(call: Call, visit: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], account: bool) -> Any:
    cmd = _command(visit, lines, account)
    return await service.preview_bill(call.runtime.pg, call.refs, call.institution, cmd)


# ---------------------------------------------------------------- 1101, 2001, 1901


async def person_info(call: Call) -> Outcome:
    data = _node(call, "data")
    cert_type = m.text(data, "mdtrt_cert_type", required=False, max_length=2)
    id_number = m.text(data, "certno", required=False, max_length=30)
    if not id_number and cert_type in ("02", ""):
        id_number = m.text(data, "mdtrt_cert_no", required=False, max_length=30)
    if not id_number:
        raise InvalidRequest(
            "缺少身份证号 give the ID card number as mdtrt_cert_no with mdtrt_cert_type 02, or as certno "
            "(e-voucher 01 and social-security card 03 are read through certno here)"
        )
    on = m.day(data, "begntime", required=False) or clock.today()
    async with call.runtime.sessionmaker() as session:
        p = await nhsa.person(session, id_number, on)
    insuinfo = []
    if p["insutype"] is not None:
        insuinfo.append(
            {
                "balc": m.amount(p["balc"]),
                "insutype": p["insutype"],
                "psn_type": p["psn_type"],
                "psn_insu_stas": "1",
                "psn_insu_date": p["coverage_start"].isoformat(),
                "paus_insu_date": None,
                "cvlserv_flag": "0",
                "insuplc_admdvs": p["region"],
                "emp_name": "",
            }
        )
    return Outcome(
        {
            "baseinfo": {
                "psn_no": p["psn_no"],
                "psn_cert_type": "01",
                "certno": p["psn_no"],
                "psn_name": p["psn_name"],
                "gend": p["gend"],
                "naty": "",
                "brdy": p["brdy"],
                "age": p["age"],
                "exp_content": "",
            },
            "insuinfo": insuinfo,
            "idetinfo": [{**g, "psn_type_lv": "", "memo": ""} for g in p["groups"]],
        }
    )


async def eligibility(call: Call) -> Outcome:
    """2001: whether the person can be settled on ``begntime`` (enrolled, covered, alive); the
    money rules stay with the settlement, which refuses the same cases."""
    data = _node(call, "data")
    psn_no = m.text(data, "psn_no", max_length=30)
    on = m.day(data, "begntime", required=False) or clock.today()
    async with call.runtime.sessionmaker() as session:
        p = await nhsa.person(session, psn_no, on)
    insutype = m.text(data, "insutype", required=False, max_length=6)
    if p["death_date"] is not None and p["death_date"] < on:
        ok, why = False, f"参保人已于 {p['death_date']} 死亡 person died on {p['death_date']}"
    elif p["insutype"] is None:
        ok, why = False, f"未参保 not enrolled for {on.year}"
    elif insutype and insutype != p["insutype"]:
        ok, why = False, f"险种不符 enrolled in insutype {p['insutype']}, not {insutype}"
    elif p["coverage_start"] > on:
        ok, why = False, f"待遇未开始 coverage starts on {p['coverage_start']}"
    else:
        ok, why = True, "正常享受待遇 eligible"
    fund = m.FUND_LINES[p["scheme"] or "resident"][0][0]
    return Outcome(
        {
            "trtinfo": [
                {
                    "psn_no": p["psn_no"],
                    "trt_chk_type": "1",
                    "fund_pay_type": fund,
                    "trt_enjymnt_flag": "1" if ok else "0",
                    "begndate": on.isoformat(),
                    "enddate": None,
                    "trt_chk_rslt": why,
                }
            ]
        }
    )


async def code_tables(call: Call) -> Outcome:
    data = _node(call, "data")
    return Outcome({"list": m.code_table(m.text(data, "type", max_length=30))})


# ---------------------------------------------------------------- visits: open, describe, close


async def _register(call: Call, data: Mapping[str, Any], *, med_type: str, visit_no_field: str) -> dict[str, Any]:
    psn_no = m.text(data, "psn_no", max_length=30)
    begin = m.day(data, "begntime")
    assert begin is not None
    insutype = m.text(data, "insutype", max_length=6)
    if insutype not in m.SCHEME_OF_INSUTYPE:
        raise InvalidRequest(f"险种类型不支持 insutype {insutype!r}; this fund settles 310 and 390")
    async with call.runtime.sessionmaker() as session:
        p = await nhsa.person(session, psn_no, begin)  # PERSON_NOT_FOUND / INVALID_ID_NUMBER as natively
    if p["insutype"] is None:
        raise NotEnrolled(f"未参保 person is not enrolled in any scheme for {begin.year}")
    diagnoses = [c for c in (m.text(data, "dise_codg", required=False, max_length=20),) if c]
    return await nhsa.open_visit(
        call.runtime.pg,
        call.institution.code,
        psn_no=psn_no,
        insutype=insutype,
        med_type=med_type,
        visit_type=m.visit_type(med_type),
        ipt_otp_no=m.text(data, visit_no_field, max_length=64),
        begntime=begin,
        diagnoses=diagnoses,
    )


async def register(call: Call) -> Outcome:
    data = _node(call, "data")
    med_type = m.text(data, "med_type", required=False, max_length=8) or "11"
    if m.visit_type(med_type) not in m.OUTPATIENT_FAMILY:
        raise InvalidRequest(f"医疗类别不符 med_type {med_type} is not an outpatient one")
    visit = await _register(call, data, med_type=med_type, visit_no_field="ipt_otp_no")
    out = {"mdtrt_id": visit["mdtrt_id"], "psn_no": visit["psn_no"], "ipt_otp_no": visit["ipt_otp_no"]}
    return Outcome({"data": {**out, "exp_content": ""}}, mdtrt_id=visit["mdtrt_id"])


async def admit(call: Call) -> Outcome:
    data = _node(call, "mdtrtinfo")
    med_type = m.text(data, "med_type", required=False, max_length=8) or "21"
    if m.visit_type(med_type) not in m.INPATIENT_FAMILY:
        raise InvalidRequest(f"医疗类别不符 med_type {med_type} is not an inpatient one")
    delivery = _delivery(data, m.visit_type(med_type))  # before anything is stored
    visit = await _register(call, data, med_type=med_type, visit_no_field="ipt_no")
    codes = _diagnoses(call, data, "dscg_maindiag_code")
    changes = {**({"diagnoses": codes} if codes else {}), **delivery}
    if changes:
        visit = await nhsa.change_visit(call.runtime.pg, call.institution.code, visit["mdtrt_id"], **changes)
    return Outcome(
        {"result": {"mdtrt_id": visit["mdtrt_id"], "psn_no": visit["psn_no"], "ipt_no": visit["ipt_otp_no"]}},
        mdtrt_id=visit["mdtrt_id"],
    )


def _delivery(data: Mapping[str, Any], visit_type: str) -> dict[str, Any]:
    """A maternity stay's (52) delivery from 2401/2402: ``matn_type`` 生育类别 (1 顺产, 2 剖宫产)
    and ``fetus_cnt`` 胎儿数 (default 1) as the visit's native ``delivery_type`` and ``babies``;
    other stays ignore them."""
    matn_type = m.text(data, "matn_type", required=False, max_length=6)
    if visit_type != "maternity_inpatient" or not matn_type:
        return {}
    delivery = m.DELIVERY_TYPE_OF_MATN_TYPE.get(matn_type)
    if delivery is None:
        raise InvalidRequest(f"生育类别不支持 matn_type {matn_type!r}; known: 1 顺产, 2 剖宫产")
    count = m.text(data, "fetus_cnt", required=False, max_length=2) or "1"
    if not count.isdigit() or not 1 <= int(count) <= 9:
        raise InvalidRequest(f"胎儿数无效 fetus_cnt {count!r} must be 1 to 9")
    return {"delivery_type": delivery, "babies": int(count)}


def _diagnoses(call: Call, data: Mapping[str, Any], main: str) -> list[str]:
    codes = [m.text(data, main, required=False, max_length=20) or m.text(data, "dise_codg", required=False)]
    for n, d in enumerate(_list(call, "diseinfo"), start=1):
        if not isinstance(d, dict):
            raise InvalidRequest(f"diseinfo[{n}] must be an object")
        codes.append(m.text(d, "diag_code", max_length=20))
    return list(dict.fromkeys(c for c in codes if c))[:50]


async def withdraw(call: Call) -> Outcome:
    """2202 / 2404: a registration or admission withdrawn before any settlement."""
    data = _node(call, "data")
    family = m.OUTPATIENT_FAMILY if call.base == "2202" else m.INPATIENT_FAMILY
    visit = await _visit_of(call, data, family)
    await nhsa.change_visit(call.runtime.pg, call.institution.code, visit["mdtrt_id"], status="cancelled")
    return Outcome({})


async def describe(call: Call) -> Outcome:
    """2203: the visit's medical type and diagnoses."""
    data = _node(call, "mdtrtinfo")
    visit = await _visit_of(call, data, m.OUTPATIENT_FAMILY)
    med_type = m.text(data, "med_type", required=False, max_length=8) or visit["med_type"]
    kind = m.visit_type(med_type)
    if kind not in m.OUTPATIENT_FAMILY:
        raise InvalidRequest(f"医疗类别不符 med_type {med_type} is not an outpatient one")
    await nhsa.change_visit(
        call.runtime.pg,
        call.institution.code,
        visit["mdtrt_id"],
        med_type=med_type,
        visit_type=kind,
        diagnoses=_diagnoses(call, data, "dise_codg") or visit["diagnoses"],
    )
    return Outcome({})


async def discharge(call: Call) -> Outcome:
    """2402: the discharge date (and diagnoses); after a settlement only if it is the date the
    stay was settled to (else cancel the settlement, 2305, first)."""
    data = _node(call, "dscginfo")
    visit = await _visit_of(call, data, m.INPATIENT_FAMILY)
    end = m.day(data, "endtime")
    assert end is not None
    if end < visit["begntime"]:
        raise InvalidRequest(f"出院日期早于入院日期 endtime {end} is before admission {visit['begntime']}")
    delivery = _delivery(data, visit["visit_type"])
    if visit["status"] == "settled" and any(visit[k] != v for k, v in delivery.items()):
        raise InvalidState(
            "已结算 the stay was settled with another delivery; cancel the settlement (2305) to change it"
        )
    if visit["status"] == "settled":
        async with call.runtime.sessionmaker() as session:
            body = await queries.get(session, visit["settlement_id"], call.institution.code)
        if body["service_date"] != end.isoformat():
            raise InvalidState(
                f"已按 {body['service_date']} 出院结算 the stay was settled with discharge {body['service_date']}; "
                "cancel the settlement (2305) to change it"
            )
    codes = _diagnoses(call, data, "dscg_maindiag_code") or visit["diagnoses"]
    await nhsa.change_visit(
        call.runtime.pg,
        call.institution.code,
        visit["mdtrt_id"],
        expect=("registered", "settled"),
        endtime=end,
        diagnoses=codes,
        **delivery,
    )
    return Outcome({})


async def undischarge(call: Call) -> Outcome:
    data = _node(call, "data")
    visit = await _visit_of(call, data, m.INPATIENT_FAMILY)
    await nhsa.change_visit(call.runtime.pg, call.institution.code, visit["mdtrt_id"], endtime=None)
    return Outcome({})


# ---------------------------------------------------------------- fee details


async def upload(call: Call) -> Outcome:
    """2204 / 2301: fee lines join the visit (a ``feedetl_sn`` uploaded again replaces its line)
    after the native preview split them; the answer is each uploaded line's split."""
    family = m.OUTPATIENT_FAMILY if call.base == "2204" else m.INPATIENT_FAMILY
    raw = _list(call, "feedetail", required=True)
    first = raw[0] if raw and isinstance(raw[0], dict) else {}
    visit = await _visit_of(call, first, family)
    lines = m.fee_lines(raw, visit["mdtrt_id"], await _codes(call, raw))
    merged = {ln["feedetl_sn"]: ln for ln in visit["details"]}
    merged.update({ln["feedetl_sn"]: ln for ln in lines})
    details = list(merged.values())
    body = await _preview(call, visit, details, account=False)  # refuses what a settle would refuse
    results = m.line_results(body, details, call.refs.catalogue)
    uploaded = {ln["feedetl_sn"] for ln in lines}
    await nhsa.change_visit(
        call.runtime.pg, call.institution.code, visit["mdtrt_id"], details=details, details_were=visit["details"]
    )
    return Outcome({"result": [r for r in results if r["feedetl_sn"] in uploaded]}, warn_msg=_warnings(body))


async def remove_details(call: Call) -> Outcome:
    """2205 ``data{mdtrt_id, chrg_bchno}`` (``0000``: all) / 2302 ``data[]{feedetl_sn}``."""
    if call.base == "2205":
        data = _node(call, "data")
        visit = await _visit_of(call, data, m.OUTPATIENT_FAMILY)
        batch = m.text(data, "chrg_bchno", max_length=30)
        keep = [] if batch == "0000" else [ln for ln in visit["details"] if ln["chrg_bchno"] != batch]
    else:
        rows = _list(call, "data", required=True)
        if not rows or not all(isinstance(r, dict) for r in rows):
            raise InvalidRequest("input.data must be a non-empty list of {feedetl_sn, mdtrt_id, psn_no}")
        visit = await _visit_of(call, rows[0], m.INPATIENT_FAMILY)
        gone = {m.text(r, "feedetl_sn", max_length=30) for r in rows}
        keep = [] if "0000" in gone else [ln for ln in visit["details"] if ln["feedetl_sn"] not in gone]
    await nhsa.change_visit(
        call.runtime.pg, call.institution.code, visit["mdtrt_id"], details=keep, details_were=visit["details"]
    )
    return Outcome({})


# ---------------------------------------------------------------- preview, settle, cancel


async def preview(call: Call) -> Outcome:
    """2206 / 2303: the split of the visit's current details; nothing written."""
    family = m.OUTPATIENT_FAMILY if call.base == "2206" else m.INPATIENT_FAMILY
    data = _node(call, "data")
    visit = await _visit_of(call, data, family)
    if visit["status"] != "registered":
        raise InvalidState(f"就诊状态不允许 visit {visit['mdtrt_id']} is {visit['status']}")
    _check_sum(data, visit["details"])
    body = await _preview(call, visit, visit["details"], _flag(data, "acct_used_flag"))
    out = await _settlement_output(
        call, body, visit["psn_no"], mdtrt_id=visit["mdtrt_id"], med_type=visit["med_type"], setl_id=None
    )
    return Outcome(out, warn_msg=_warnings(body))


def _key(call: Call) -> str:
    return "fsi:" + call.msgid


async def settle(call: Call) -> Outcome:
    """2207 / 2304: the native settle of the visit's latest details, idempotent on the msgid;
    the visit's lock, the settlement, the visit's new state and the journaled answer commit in
    one transaction (``yibao.nhsa.service.settle_visit``)."""
    family = m.OUTPATIENT_FAMILY if call.base == "2207" else m.INPATIENT_FAMILY
    data = _node(call, "data")
    mdtrt_id = m.text(data, "mdtrt_id", max_length=40)
    psn_no = m.text(data, "psn_no", required=False, max_length=30)
    account = _flag(data, "acct_used_flag")

    def command(visit: dict[str, Any]) -> SettleBill:
        if psn_no and psn_no != visit["psn_no"]:
            raise InvalidState(f"人员编号不符 psn_no does not match visit {mdtrt_id}")
        if visit["visit_type"] not in family:
            raise InvalidState(f"交易不适用 {call.infno} does not apply to visit {mdtrt_id} ({visit['visit_type']})")
        if visit["status"] not in ("registered", "settled"):
            raise InvalidState(f"就诊状态不允许 visit {mdtrt_id} is {visit['status']}")
        _check_sum(data, visit["details"])
        return _command(visit, visit["details"], account)

    def journal(done: nhsa.SettledVisit) -> dict[str, Any]:
        visit, body = done.visit, done.body
        sid = body["settlement_id"]
        out = _render_settlement(call, body, done.person, mdtrt_id=mdtrt_id, med_type=visit["med_type"], setl_id=sid)
        outcome = Outcome(out, warn_msg=_warnings(body), settlement_id=sid, mdtrt_id=mdtrt_id)
        return call.journal_entry(outcome)

    done = await nhsa.settle_visit(
        call.runtime.pg,
        call.refs,
        call.institution,
        mdtrt_id,
        _key(call),
        command,
        journal,
        msgid=call.msgid,
        digest=call.digest,
    )
    if isinstance(done, bytes):  # this msgid was answered before
        return Outcome({}, answer=done, replayed=True)
    assert done.answer is not None
    return Outcome({}, settlement_id=done.body["settlement_id"], mdtrt_id=mdtrt_id, answer=done.answer)


#: transactions that read the msgid journal themselves, inside their own transaction
JOURNALED_INSIDE = frozenset({"2207", "2207A", "2304", "2304A"})


async def cancel(call: Call) -> Outcome:
    """2208 / 2305 / 2103: the native cancel; the answer is the negative mirror record."""
    family = {
        "2208": m.OUTPATIENT_FAMILY,
        "2305": m.INPATIENT_FAMILY,
        "2103": frozenset({"pharmacy"}),
    }[call.base]
    data = _node(call, "data")
    visit = await _visit_of(call, data, family)
    setl_id = m.text(data, "setl_id", max_length=40)
    return await _cancel(call, visit, setl_id)


async def _cancel(call: Call, visit: Mapping[str, Any], setl_id: str) -> Outcome:
    if visit["settlement_id"] != setl_id:
        raise NotFound(f"结算不存在 visit {visit['mdtrt_id']} has no settlement {setl_id}")
    body = await service.cancel_bill(call.runtime.pg, call.institution, setl_id)
    await nhsa.change_visit(
        call.runtime.pg,
        call.institution.code,
        visit["mdtrt_id"],
        expect=("settled",),
        status="registered" if visit["visit_type"] != "pharmacy" else "cancelled",
    )
    out = await _settlement_output(
        call,
        body,
        visit["psn_no"],
        mdtrt_id=visit["mdtrt_id"],
        med_type=visit["med_type"],
        setl_id=setl_id,
        sign=-1,
    )
    return Outcome(out, settlement_id=setl_id, mdtrt_id=visit["mdtrt_id"])


# ---------------------------------------------------------------- pharmacy (one shot)


def _sale(call: Call, *, with_id: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    info = _node(call, "druginfo")
    med_type = m.text(info, "med_type", required=False, max_length=8) or "41"
    if m.visit_type(med_type) != "pharmacy":
        raise InvalidRequest(f"医疗类别不符 med_type {med_type} is not a pharmacy purchase (41)")
    begin = m.day(info, "begntime", required=False) or clock.today()
    visit = {
        "mdtrt_id": with_id or "",
        "psn_no": m.text(info, "psn_no", max_length=30),
        "insutype": m.text(info, "insutype", required=False, max_length=6),
        "med_type": med_type,
        "visit_type": "pharmacy",
        "ipt_otp_no": call.msgid,
        "begntime": begin,
        "endtime": None,
        "diagnoses": [c for c in (m.text(info, "dise_codg", required=False, max_length=20),) if c],
        "status": "registered",
        "settlement_id": None,
    }
    return info, visit


async def pharmacy_preview(call: Call) -> Outcome:
    info, visit = _sale(call)
    raw = _list(call, "drugdetail", required=True)
    lines = m.fee_lines(raw, None, await _codes(call, raw), node="drugdetail")
    _check_sum(info, lines)
    body = await _preview(call, visit, lines, _flag(info, "acct_used_flag"))
    out = await _settlement_output(call, body, visit["psn_no"], mdtrt_id="", med_type=visit["med_type"], setl_id=None)
    out["detlcutinfo"] = m.line_results(body, lines, call.refs.catalogue)
    return Outcome(out, warn_msg=_warnings(body))


async def pharmacy_settle(call: Call) -> Outcome:
    """2102: no registration; the sale's ``mdtrt_id`` is made here (named after the settlement,
    so a replayed sale finds the same visit)."""
    info, visit = _sale(call)
    raw = _list(call, "drugdetail", required=True)
    lines = m.fee_lines(raw, None, await _codes(call, raw), node="drugdetail")
    _check_sum(info, lines)
    cmd = _command(visit, lines, _flag(info, "acct_used_flag"))
    result = await service.settle_bill(call.runtime.pg, call.refs, call.institution, cmd, _key(call))
    body = orjson.loads(result.body)
    sid = body["settlement_id"]
    stored = await nhsa.open_visit(
        call.runtime.pg,
        call.institution.code,
        psn_no=visit["psn_no"],
        insutype=visit["insutype"] or "",
        med_type=visit["med_type"],
        visit_type="pharmacy",
        ipt_otp_no=call.msgid,
        begntime=visit["begntime"],
        diagnoses=visit["diagnoses"],
        mdtrt_id=sid.replace("-", ""),
        status="settled",
    )
    if stored["settlement_id"] is None:
        stored = await nhsa.change_visit(
            call.runtime.pg,
            call.institution.code,
            stored["mdtrt_id"],
            expect=("settled",),
            details=lines,
            settlement_id=sid,
        )
    out = await _settlement_output(
        call, body, visit["psn_no"], mdtrt_id=stored["mdtrt_id"], med_type=visit["med_type"], setl_id=sid
    )
    out["detlcutinfo"] = m.line_results(body, lines, call.refs.catalogue)
    return Outcome(out, warn_msg=_warnings(body), settlement_id=sid, mdtrt_id=stored["mdtrt_id"])


# ---------------------------------------------------------------- 2601 reversal, 5203 query


REVERSE_BY_CANCEL = {"2207", "2304", "2102"}
REVERSE_BY_WITHDRAW = {"2201", "2401"}
NOT_REVERSIBLE = {"2208", "2305", "2103"}


async def reverse(call: Call) -> Outcome:
    """2601 ``data{psn_no, omsgid, oinfno}``: undo exactly the named call of this institution:
    a settlement (2207/2304/2102) is cancelled natively, a registration or admission
    (2201/2401) withdrawn. A call that was refused changed nothing and needs no reversal."""
    data = _node(call, "data")
    omsgid = m.text(data, "omsgid", max_length=40)
    oinfno = m.text(data, "oinfno", max_length=8)
    original = await nhsa.find(call.runtime.pg, call.institution.code, omsgid)
    if original is None:
        raise NotFound(f"原交易不存在 no call with msgid {omsgid} was received from this institution")
    if original.infno != oinfno:
        raise InvalidRequest(f"原交易编号不符 msgid {omsgid} was a {original.infno}, not {oinfno}")
    if original.reversed_by is not None:
        raise InvalidState(f"已冲正 msgid {omsgid} was already reversed by {original.reversed_by}")
    if original.infcode != 0:
        return Outcome({}, warn_msg=f"原交易失败无需冲正 msgid {omsgid} was refused; nothing to reverse")
    if oinfno in NOT_REVERSIBLE:
        raise InvalidRequest(
            f"不支持冲正撤销交易 a cancel ({oinfno}) cannot be reversed here: settle the visit again with a new call"
        )
    if oinfno not in REVERSE_BY_CANCEL | REVERSE_BY_WITHDRAW or original.mdtrt_id is None:
        raise InvalidRequest(f"交易不可冲正 {oinfno} is not a reversible transaction (2207, 2304, 2102, 2201, 2401)")
    visit = await nhsa.visit(call.runtime.pg, call.institution.code, original.mdtrt_id)
    psn_no = m.text(data, "psn_no", required=False, max_length=30)
    if psn_no and psn_no != visit["psn_no"]:
        raise InvalidState("人员编号不符 psn_no does not match the original call's person")
    if oinfno in REVERSE_BY_CANCEL:
        assert original.settlement_id is not None
        outcome = await _cancel(call, visit, original.settlement_id)
    else:
        await nhsa.change_visit(call.runtime.pg, call.institution.code, visit["mdtrt_id"], status="cancelled")
        outcome = Outcome({})
    await nhsa.mark_reversed(call.runtime.pg, call.institution.code, omsgid, call.msgid)
    return outcome


MED_TYPE_OF_VISIT_TYPE = {
    "outpatient": "11",
    "chronic_outpatient": "14",
    "inpatient": "21",
    "pharmacy": "41",
    "maternity_outpatient": "51",
    "maternity_inpatient": "52",
}


async def settlement_query(call: Call) -> Outcome:
    """5203 ``data{psn_no, setl_id, mdtrt_id}``: the settlement as the native read shows it."""
    data = _node(call, "data")
    setl_id = m.text(data, "setl_id", max_length=40)
    async with call.runtime.sessionmaker() as session:
        body = await queries.get(session, setl_id, call.institution.code)
    visit = await nhsa.settled_visit(call.runtime.pg, call.institution.code, setl_id)
    psn_no = m.text(data, "psn_no", max_length=30)
    if visit is not None and visit["psn_no"] != psn_no:
        raise NotFound(f"结算 {setl_id} 不存在 settlement not found for psn_no {psn_no}")
    out = await _settlement_output(
        call,
        body,
        psn_no,
        mdtrt_id=visit["mdtrt_id"] if visit else m.text(data, "mdtrt_id", required=False, max_length=40),
        med_type=visit["med_type"] if visit else MED_TYPE_OF_VISIT_TYPE[body["visit_type"]],
        setl_id=setl_id,
    )
    out["setlinfo"]["vali_flag"] = "0" if body["status"] == "cancelled" else "1"
    return Outcome(out)


VISIT_TYPES_OF_CLR_TYPE = {
    "11": ("outpatient", "chronic_outpatient"),
    "21": ("inpatient",),
    "41": ("pharmacy",),
    "51": ("maternity_outpatient",),
    "52": ("maternity_inpatient",),
}


def _money(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise InvalidRequest(f"数值格式错误 {name} {value!r} is not a number") from None
    if value is None or isinstance(value, bool) or not amount.is_finite() or abs(amount) >= 10**12:
        raise InvalidRequest(f"数值格式错误 {name} must be a number below 10^12")
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidRequest(f"金额精度 {name} {value} has more than 2 decimals")
    return int(amount * 100)


async def statement_total(call: Call) -> Outcome:
    """3201 对总账: the institution's totals of one insutype and clearing class over a window,
    against the platform's (the same settlement records the native API lists; cancels count
    as their negative mirror). ``stmt_rslt`` 0 balanced, 1 not; the platform's own figures are
    returned beside it so an HIS can see which differs."""
    data = _node(call, "data")
    insutype = m.text(data, "insutype", max_length=6)
    scheme = m.SCHEME_OF_INSUTYPE.get(insutype)
    if scheme is None:
        raise InvalidRequest(f"险种类型不支持 insutype {insutype!r}; this fund settles 310 and 390")
    clr_type = m.text(data, "clr_type", max_length=6)
    if clr_type not in VISIT_TYPES_OF_CLR_TYPE:
        raise InvalidRequest(f"清算类别不支持 clr_type {clr_type!r}; known: 11 门诊, 21 住院, 41 药店, 51/52 生育")
    optins = m.text(data, "setl_optins", max_length=6)
    if optins != call.institution.region:
        raise InvalidRequest(f"清算经办机构不符 setl_optins {optins} is not {call.institution.region}")
    begin, end = m.day(data, "stmt_begndate"), m.day(data, "stmt_enddate")
    assert begin is not None and end is not None
    if end < begin or (end - begin).days > 366:
        raise InvalidRequest("对账期间无效 stmt_enddate must be on or after stmt_begndate, at most a year later")
    try:
        count = int(str(data.get("fixmedins_setl_cnt")))
    except ValueError:
        raise InvalidRequest("数值格式错误 fixmedins_setl_cnt must be an integer") from None
    stated = (_money(data, "medfee_sumamt"), _money(data, "fund_pay_sumamt"), _money(data, "acct_pay"), count)
    ours = await nhsa.statement_totals(
        call.runtime.pg, call.institution.code, scheme, VISIT_TYPES_OF_CLR_TYPE[clr_type], begin, end
    )
    center = (ours["medfee"], ours["fund"], ours["acct"], ours["setl_cnt"])
    names = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt")
    differing = [n for n, a, b in zip(names, stated, center, strict=True) if a != b]
    return Outcome(
        {
            "stmtinfo": {
                "setl_optins": optins,
                "stmt_rslt": "1" if differing else "0",
                "stmt_rslt_dscr": ("不平 differs: " + ", ".join(differing)) if differing else "平 balanced",
                "medfee_sumamt": m.amount(center[0]),
                "fund_pay_sumamt": m.amount(center[1]),
                "acct_pay": m.amount(center[2]),
                "fixmedins_setl_cnt": center[3],
            }
        }
    )


# ---------------------------------------------------------------- 9101 / 3202 / 9102 file exchange


def _file_node(call: Call, name: str) -> dict[str, Any]:
    node = _node(call, name)
    code = m.text(node, "fixmedins_code", required=False, max_length=30)
    if code and code != call.institution.code:
        raise Forbidden(
            f"机构编码不符 {name}.fixmedins_code {code} is not the institution of these credentials "
            f"({call.institution.code})"
        )
    return node


async def file_upload(call: Call) -> Outcome:
    """9101 ``fsUploadIn{in, filename, fixmedins_code}``: store the institution's zip (e.g. a
    3202 detail list) → ``{file_qury_no, filename, dld_endtime}``. The bytes are stored once
    (``nhsa_files``); the journal keeps only this small answer."""
    node = _file_node(call, "fsUploadIn")
    filename = m.text(node, "filename", max_length=200).replace("\\", "/").rsplit("/", 1)[-1]
    if not filename:
        raise InvalidRequest("缺少文件名 fsUploadIn.filename must name the file")
    content = stmt.decode_upload(node.get("in"))
    stmt.check_upload(content)
    stored, _ = await files.store(
        call.runtime.sessionmaker,
        call.institution.code,
        msgid=call.msgid,
        kind=files.UPLOAD,
        filename=filename,
        content=content,
    )
    return Outcome(stored.fileinfo)


async def file_download(call: Call) -> Outcome:
    """9102 ``fsDownloadIn{file_qury_no, filename, fixmedins_code}``: the institution's file,
    answered raw (``application/zip``) — see ``FILE_ANSWERS``."""
    node = _file_node(call, "fsDownloadIn")
    no = m.text(node, "file_qury_no", max_length=30)
    filename = m.text(node, "filename", required=False, max_length=200)
    found, content = await files.get(call.runtime.sessionmaker, call.institution.code, no, filename=filename)
    return Outcome(
        {"fileinfo": {**found.fileinfo, "size": found.size, "sha256": found.sha256}}, file=(found.filename, content)
    )


#: transactions whose success is a file, answered raw; the journal keeps ``output.fileinfo``
#: and a repeated msgid is answered with the same stored bytes (``replay_file``)
FILE_ANSWERS = frozenset({"9102"})


async def replay_file(runtime: Runtime, institution: Institution, response: bytes) -> tuple[str, bytes] | None:
    """The file a journaled 9102 answered (past its ``dld_endtime`` too: it is the first answer
    again); ``None`` if it is no longer stored."""
    info = orjson.loads(response).get("output", {}).get("fileinfo", {})
    try:
        found, content = await files.get(
            runtime.sessionmaker, institution.code, str(info.get("file_qury_no", "")), check_expiry=False
        )
    except NotFound:
        return None
    return found.filename, content


def _stmt_window(data: Mapping[str, Any]) -> tuple[date, date]:
    begin, end = m.day(data, "stmt_begndate"), m.day(data, "stmt_enddate")
    assert begin is not None and end is not None
    if end < begin:
        raise InvalidRequest(f"对账期间无效 stmt_enddate {end} is before stmt_begndate {begin}")
    if (end - begin).days > 366:
        raise InvalidRequest("对账期间过长 the period must be at most a year (stmt_begndate … stmt_enddate)")
    today = clock.today()
    if end > today:
        raise InvalidRequest(f"对账期间未结束 stmt_enddate {end} is after today ({today}, China time)")
    return begin, end


async def statement_detail(call: Call) -> Outcome:
    """3202 对明细账 ``data{setl_optins, file_qury_no, stmt_begndate, stmt_enddate,
    medfee_sumamt, fund_pay_sumamt, cash_payamt, fixmedins_setl_cnt, clr_type?, insutype?}``:
    the uploaded list (9101) against the platform's records of the window — the records 3201
    sums (``nhsa.statement_records``) — line by line; the result file (``result.txt`` zipped,
    one line per record of either side with its ``stmt_rslt``) is stored for 9102 and named in
    ``fileinfo``; ``stmtinfo`` adds the platform's totals and the count of each result."""
    data = _node(call, "data")
    optins = m.text(data, "setl_optins", max_length=6)
    if optins != call.institution.region:
        raise InvalidRequest(f"清算经办机构不符 setl_optins {optins} is not {call.institution.region}")
    begin, end = _stmt_window(data)
    insutype = m.text(data, "insutype", required=False, max_length=6)
    if insutype and insutype not in m.SCHEME_OF_INSUTYPE:
        raise InvalidRequest(f"险种类型不支持 insutype {insutype!r}; this fund settles 310 and 390")
    schemes = [m.SCHEME_OF_INSUTYPE[insutype]] if insutype else sorted(set(m.SCHEME_OF_INSUTYPE.values()))
    clr_type = m.text(data, "clr_type", required=False, max_length=6)
    if clr_type and clr_type not in VISIT_TYPES_OF_CLR_TYPE:
        raise InvalidRequest(f"清算类别不支持 clr_type {clr_type!r}; known: 11 门诊, 21 住院, 41 药店, 51/52 生育")
    kinds = VISIT_TYPES_OF_CLR_TYPE[clr_type] if clr_type else sum(VISIT_TYPES_OF_CLR_TYPE.values(), ())
    try:
        count = int(str(data.get("fixmedins_setl_cnt")))
    except ValueError:
        raise InvalidRequest("数值格式错误 fixmedins_setl_cnt must be an integer") from None
    stated = (_money(data, "medfee_sumamt"), _money(data, "fund_pay_sumamt"), _money(data, "cash_payamt"), count)
    upload_no = m.text(data, "file_qury_no", max_length=30)
    _, content = await files.get(call.runtime.sessionmaker, call.institution.code, upload_no, kind=files.UPLOAD)
    theirs = stmt.read_details(content)
    ours = await nhsa.statement_records(call.runtime.pg, call.institution.code, schemes, kinds, begin, end)
    rows = stmt.compare(ours, theirs)
    made_at = clock.now().astimezone(CHINA)
    result, created = await files.store(
        call.runtime.sessionmaker,
        call.institution.code,
        msgid=call.msgid,
        kind=files.RESULT,
        filename=f"result_{begin:%Y%m%d}_{end:%Y%m%d}_{upload_no}.zip",
        content=stmt.result_zip(rows, made_at),
    )
    if not created:  # a retry of this msgid after its answer was lost: the first result file
        rows = stmt.read_result(
            (await files.get(call.runtime.sessionmaker, call.institution.code, result.file_qury_no))[1]
        )
    tally = stmt.counts(rows)
    medfee, fund, acct = (sum(getattr(r, a) for r in ours) for a in stmt.AMOUNTS)
    center = (medfee, fund, medfee - fund - acct, sum(1 if r.refd_setl_flag == "0" else -1 for r in ours))
    names = ("medfee_sumamt", "fund_pay_sumamt", "cash_payamt", "fixmedins_setl_cnt")
    differing = [n for n, a, b in zip(names, stated, center, strict=True) if a != b]
    lines_differ = len(rows) - tally[stmt.BALANCED]
    if lines_differ:
        differing.append(f"{lines_differ} of {len(rows)} records")
    return Outcome(
        {
            "fileinfo": result.fileinfo,
            "stmtinfo": {
                "setl_optins": optins,
                "stmt_rslt": "1" if differing else "0",
                "stmt_rslt_dscr": ("不平 differs: " + ", ".join(differing)) if differing else "平 balanced",
                "medfee_sumamt": m.amount(center[0]),
                "fund_pay_sumamt": m.amount(center[1]),
                "cash_payamt": m.amount(center[2]),
                "fixmedins_setl_cnt": center[3],
                "bal_cnt": tally[stmt.BALANCED],
                "center_more_cnt": tally[stmt.CENTER_ONLY],
                "medins_more_cnt": tally[stmt.FIXMEDINS_ONLY],
                "diff_cnt": tally[stmt.DIFFERS],
            },
        }
    )


async def person_cumulative(call: Call) -> Outcome:
    """5206 ``data{psn_no, cum_ym}`` (``yyyyMM``): the person's year-to-date figures of the
    year of ``cum_ym``, from the accumulators every settlement of the person locks and moves;
    they are the running totals now (no month-end snapshot is kept), ``cum_ym`` is echoed."""
    data = _node(call, "data")
    psn_no = m.text(data, "psn_no", max_length=30)
    cum_ym = m.text(data, "cum_ym", max_length=6)
    if not (len(cum_ym) == 6 and cum_ym.isdigit() and 1 <= int(cum_ym[4:]) <= 12 and cum_ym[:2] in ("19", "20")):
        raise InvalidRequest(f"累计年月格式错误 cum_ym {cum_ym!r} must be yyyyMM")
    today = clock.today()
    if cum_ym > today.strftime("%Y%m"):
        raise InvalidRequest(f"累计年月晚于本月 cum_ym {cum_ym} is after this month ({today:%Y%m}, China time)")
    year = int(cum_ym[:4])
    async with call.runtime.sessionmaker() as session:
        p = await nhsa.cumulative(session, psn_no, year)
    if p["scheme"] is None and not any(p["figures"].values()):
        return Outcome({"cuminfo": []}, warn_msg=f"未参保 not enrolled in {year}")
    insutype = m.INSUTYPE_OF_SCHEME[p["scheme"]] if p["scheme"] else ""
    return Outcome({"cuminfo": m.cuminfo(p["figures"], insutype=insutype, year=year, cum_ym=cum_ym)})


def _first(call: Call, node: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    rows = node.get(name)
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        raise InvalidRequest(f"缺少输入节点 {where}.{name} must be a non-empty list of objects for {call.infno}")
    first: dict[str, Any] = rows[0]
    return first


def _orders(call: Call, encounter: Mapping[str, Any]) -> list[dict[str, Any]]:
    """3101 ``fsi_order_dtos[]`` as fee lines (``rx_id`` is the line's ``feedetl_sn``,
    ``hilist_code`` its national code, the order's start its date)."""
    orders = encounter.get("fsi_order_dtos")
    if not isinstance(orders, list) or not orders:
        raise InvalidRequest("缺少医嘱明细 fsi_encounter_dtos[0].fsi_order_dtos must be a non-empty list")
    raw = []
    for n, o in enumerate(orders, start=1):
        if not isinstance(o, dict):
            raise InvalidRequest(f"fsi_order_dtos[{n}] must be an object")
        raw.append(
            {
                "feedetl_sn": o.get("rx_id") or str(n),
                "med_list_codg": o.get("hilist_code"),
                "cnt": o.get("cnt"),
                "pric": o.get("pric") if o.get("pric") is not None else o.get("hilist_pric"),
                "det_item_fee_sumamt": o.get("sumamt"),
                "fee_ocur_time": o.get("drord_begn_date") or encounter.get("adm_date"),
            }
        )
    return raw


async def smart_review(call: Call) -> Outcome:
    """3101 (事前, the details in the input) / 3102 (事中, the details uploaded to ``mdtrt_id``):
    the in-settlement monitoring rules on the visit's fee lines, through the native
    ``review`` (the settle's own rule path; nothing settled or stored). ``result[]`` has one row
    per rule hit with the lines concerned; an empty list is a clean bill."""
    data = _node(call, "data")
    patient = _first(call, data, "patient_dtos", "input.data") if "patient_dtos" in data else {}
    if call.base == "3102":
        mdtrt_id = m.text(data, "mdtrt_id", required=False, max_length=40) or m.text(
            patient, "curr_mdtrt_id", max_length=40
        )
        psn_no = m.text(data, "psn_no", required=False, max_length=30) or m.text(
            patient, "patn_id", required=False, max_length=30
        )
        visit = await _visit_of(
            call, {"mdtrt_id": mdtrt_id, "psn_no": psn_no}, frozenset(m.VISIT_TYPE_OF_MED_TYPE.values())
        )
        lines = visit["details"]
    else:
        encounter = _first(call, patient, "fsi_encounter_dtos", "patient_dtos[0]")
        med_type = m.text(encounter, "med_type", required=False, max_length=8) or "11"
        begin = m.day(encounter, "adm_date", required=False) or clock.today()
        dx = encounter.get("fsi_diagnose_dtos")
        diagnoses = (
            [m.text(x, "dise_codg", max_length=20) for x in dx if isinstance(x, dict)] if isinstance(dx, list) else []
        )
        visit = {
            "mdtrt_id": m.text(encounter, "mdtrt_id", required=False, max_length=40),
            "psn_no": m.text(patient, "patn_id", max_length=30),
            "insutype": m.text(encounter, "insutype", required=False, max_length=6),
            "med_type": med_type,
            "visit_type": m.visit_type(med_type),
            "ipt_otp_no": m.text(encounter, "mdtrt_id", required=False, max_length=40) or call.msgid,
            "begntime": begin,
            "endtime": m.day(encounter, "dscg_date", required=False),
            "diagnoses": diagnoses[:50],
            "status": "registered",
            "settlement_id": None,
        }
        raw = _orders(call, encounter)
        lines = m.fee_lines(raw, None, await _codes(call, raw), node="fsi_order_dtos")
    cmd = _command(visit, lines, account=False)
    body, hits = await service.review_bill(call.runtime.pg, call.refs, call.institution, cmd)
    rules = {r.rule_id: (r.name, r.mode) for r in call.refs.rules.rules.values() if r.stage == "in"}
    results = m.review_results(
        hits, body, lines, rules, patn_id=visit["psn_no"], mdtrt_id=visit["mdtrt_id"], jr_prefix=call.msgid
    )
    return Outcome({"result": results})


TRANSACTIONS: dict[str, Handler] = {
    "1101": person_info,
    "1901": code_tables,
    "2001": eligibility,
    "2101": pharmacy_preview,
    "2102": pharmacy_settle,
    "2103": cancel,
    "2201": register,
    "2202": withdraw,
    "2203": describe,
    "2203A": describe,
    "2204": upload,
    "2205": remove_details,
    "2206": preview,
    "2206A": preview,
    "2207": settle,
    "2207A": settle,
    "2208": cancel,
    "2301": upload,
    "2302": remove_details,
    "2303": preview,
    "2304": settle,
    "2304A": settle,
    "2305": cancel,
    "2401": admit,
    "2402": discharge,
    "2404": withdraw,
    "2405": undischarge,
    "2601": reverse,
    "3101": smart_review,
    "3102": smart_review,
    "3201": statement_total,
    "3202": statement_detail,
    "5203": settlement_query,
    "5206": person_cumulative,
    "9101": file_upload,
    "9102": file_download,
}
