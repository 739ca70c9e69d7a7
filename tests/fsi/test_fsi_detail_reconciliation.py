"""3202 detail reconciliation with the 9101/9102 file exchange, through the envelope: the
institution uploads its zipped tab-separated list of settlement records, 3202 compares it with
the platform's records (the same ones 3201 sums and the native API lists) and names a result
zip that only this institution can download, until it expires."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.builders import make_person
from tests.fsi.helpers import BLOOD_TEST, HOSPITAL, call, d, envelope, fee, msgid, ok, refused, today
from tests.settlement.helpers import run_settle
from yibao import clock

pytestmark = pytest.mark.asyncio

#: a day no other test settles on (10:00 Beijing), so the window holds this test's bills only
DAY = datetime(2026, 10, 14, 2, tzinfo=UTC)
OTHER = "H430522101"
RESULT_COLUMNS = [
    "psn_no",
    "mdtrt_id",
    "setl_id",
    "msgid",
    "stmt_rslt",
    "refd_setl_flag",
    "memo",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
]


@pytest.fixture
async def recon_day(sessionmaker) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """The frozen day; afterwards the day is settled (tests/settlement/helpers.py: a test that
    bills a day settles it, so no payable it left open reaches another test's daily order)."""
    clock.set_clock(lambda: DAY)
    try:
        yield
    finally:
        clock.set_clock(None)
        await run_settle(sessionmaker, DAY.date())


def _zip(text: str, name: str = "H430522100_20261014.txt") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, text.encode())
    return buf.getvalue()


def _lines(records: Sequence[dict[str, Any]]) -> str:
    cols = ("setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag")
    return "".join("\t".join(str(r[c]) for c in cols) + "\r\n" for r in records)


async def _bill(client: httpx.AsyncClient, his: dict[str, str], admin: dict[str, str], pric: str) -> dict[str, Any]:
    idn = await make_person(client, admin, scheme="employee", account="100.00")
    reg = {"psn_no": idn, "insutype": "310", "begntime": today(), "ipt_otp_no": f"DZ-{idn[-8:]}"}
    mdtrt_id = ok(await call(client, his, "2201", {"data": reg}))["data"]["mdtrt_id"]
    ok(await call(client, his, "2204", {"feedetail": [fee("1", BLOOD_TEST, "1", pric, mdtrt_id=mdtrt_id, psn_no=idn)]}))
    mid = msgid()
    data = {"psn_no": idn, "mdtrt_id": mdtrt_id, "acct_used_flag": "1"}
    s = ok(await call(client, his, "2207", {"data": data}, mid=mid))["setlinfo"]
    return {**s, "msgid": mid}


def _record(s: dict[str, Any], flag: str = "0") -> dict[str, Any]:
    sign = -1 if flag == "1" else 1
    return {
        "setl_id": s["setl_id"],
        "mdtrt_id": s["mdtrt_id"],
        "psn_no": s["psn_no"],
        **{k: f"{sign * d(s[k]):.2f}" for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")},
        "refd_setl_flag": flag,
    }


async def _upload(client: httpx.AsyncClient, his: dict[str, str], content: bytes, **kw: Any) -> dict[str, Any]:
    node = {"in": list(content), "filename": "detail.zip", "fixmedins_code": HOSPITAL}
    return await call(client, his, "9101", {"fsUploadIn": node}, **kw)


def _stmt(file_qury_no: str, records: Sequence[dict[str, Any]], **over: Any) -> dict[str, Any]:
    medfee = sum(d(r["medfee_sumamt"]) for r in records)
    fund = sum(d(r["fund_pay_sumamt"]) for r in records)
    acct = sum(d(r["acct_pay"]) for r in records)
    cnt = sum(1 if r["refd_setl_flag"] == "0" else -1 for r in records)
    data = {
        "setl_optins": "430522",
        "file_qury_no": file_qury_no,
        "stmt_begndate": today(),
        "stmt_enddate": today(),
        "medfee_sumamt": float(medfee),
        "fund_pay_sumamt": float(fund),
        "cash_payamt": float(medfee - fund - acct),
        "fixmedins_setl_cnt": cnt,
        "clr_type": "11",
        "refd_setl_flag": "1",
        "insutype": "310",
    }
    return {"data": {**data, **over}}


async def _download(
    client: httpx.AsyncClient,
    his: dict[str, str],
    info: dict[str, Any],
    *,
    code: str = HOSPITAL,
    mid: str | None = None,
) -> httpx.Response:
    node = {
        "fsDownloadIn": {"file_qury_no": info["file_qury_no"], "filename": info["filename"], "fixmedins_code": code}
    }
    r = await client.post("/fsi/api/9102", json=envelope("9102", node, institution=code, mid=mid), headers=his)
    assert r.status_code == 200, r.text
    return r


def _result(content: bytes) -> list[dict[str, str]]:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        assert z.namelist() == ["result.txt"]
        text = z.read("result.txt").decode()
    rows = [line.split("\t") for line in text.split("\n") if line]
    assert all(len(r) == len(RESULT_COLUMNS) for r in rows)
    return [dict(zip(RESULT_COLUMNS, r, strict=True)) for r in rows]


async def test_detail_reconciliation(
    client: httpx.AsyncClient,
    hospital: dict[str, str],
    admin_headers: dict[str, str],
    institution_keys: dict[str, str],
    recon_day: None,
) -> None:
    # given: three bills of the day, the third cancelled (its negative mirror is a record too)
    a = await _bill(client, hospital, admin_headers, "20.00")
    b = await _bill(client, hospital, admin_headers, "35.00")
    c = await _bill(client, hospital, admin_headers, "50.00")
    cancel_mid = msgid()
    cancel = {"setl_id": c["setl_id"], "mdtrt_id": c["mdtrt_id"], "psn_no": c["psn_no"]}
    ok(await call(client, hospital, "2208", {"data": cancel}, mid=cancel_mid))
    records = [_record(a), _record(b), _record(c), _record(c, "1")]

    # when: the institution's list agrees
    up = ok(await _upload(client, hospital, _zip(_lines(records))))
    assert set(up) == {"file_qury_no", "filename", "dld_endtime"} and up["filename"] == "detail.zip"
    assert up["dld_endtime"] == "2026-10-21 10:00:00"  # a week, China time
    out = ok(await call(client, hospital, "3202", _stmt(up["file_qury_no"], records)))

    # then: balanced, every record matched, and 3201 agrees on the same figures
    info, summary = out["fileinfo"], out["stmtinfo"]
    assert summary["stmt_rslt"] == "0", summary
    assert (summary["bal_cnt"], summary["center_more_cnt"], summary["medins_more_cnt"], summary["diff_cnt"]) == (
        4,
        0,
        0,
        0,
    )
    assert summary["fixmedins_setl_cnt"] == 2
    total = {
        "insutype": "310",
        "clr_type": "11",
        "setl_optins": "430522",
        "stmt_begndate": today(),
        "stmt_enddate": today(),
        "medfee_sumamt": summary["medfee_sumamt"],
        "fund_pay_sumamt": summary["fund_pay_sumamt"],
        "acct_pay": float(d(summary["medfee_sumamt"]) - d(summary["fund_pay_sumamt"]) - d(summary["cash_payamt"])),
        "fixmedins_setl_cnt": summary["fixmedins_setl_cnt"],
    }
    assert ok(await call(client, hospital, "3201", {"data": total}))["stmtinfo"]["stmt_rslt"] == "0"
    r = await _download(client, hospital, info)
    assert r.headers["content-type"] == "application/zip"
    rows = _result(r.content)
    assert [(x["setl_id"], x["refd_setl_flag"], x["stmt_rslt"]) for x in rows] == [
        (a["setl_id"], "0", "0"),
        (b["setl_id"], "0", "0"),
        (c["setl_id"], "0", "0"),
        (c["setl_id"], "1", "0"),
    ]
    assert rows[0]["msgid"] == a["msgid"] and rows[3]["msgid"] == cancel_mid
    assert rows[0]["mdtrt_id"] == a["mdtrt_id"] and rows[0]["psn_no"] == a["psn_no"]
    assert rows[3]["medfee_sumamt"] == f"{-d(c['medfee_sumamt']):.2f}"

    # when: one amount changed, one record missing, one the platform never saw
    changed = {**_record(a), "medfee_sumamt": f"{d(a['medfee_sumamt']) + 1:.2f}"}
    extra = {**_record(b), "setl_id": "00000000-0000-7000-8000-000000000000"}
    theirs = [changed, extra, _record(c), _record(c, "1")]
    up2 = ok(await _upload(client, hospital, _zip(_lines(theirs))))
    out2 = ok(await call(client, hospital, "3202", _stmt(up2["file_qury_no"], theirs)))

    # then: each classified, and the figures that differ named
    s2 = out2["stmtinfo"]
    assert s2["stmt_rslt"] == "1" and "medfee_sumamt" in s2["stmt_rslt_dscr"]
    assert (s2["bal_cnt"], s2["center_more_cnt"], s2["medins_more_cnt"], s2["diff_cnt"]) == (2, 1, 1, 1)
    by = {
        (x["setl_id"], x["refd_setl_flag"]): x
        for x in _result((await _download(client, hospital, out2["fileinfo"])).content)
    }
    assert by[(a["setl_id"], "0")]["stmt_rslt"] == "3" and "medfee_sumamt" in by[(a["setl_id"], "0")]["memo"]
    assert by[(a["setl_id"], "0")]["medfee_sumamt"] == f"{d(a['medfee_sumamt']):.2f}"  # the platform's
    assert by[(b["setl_id"], "0")]["stmt_rslt"] == "1"
    assert by[(extra["setl_id"], "0")]["stmt_rslt"] == "2"
    assert by[(c["setl_id"], "1")]["stmt_rslt"] == "0"

    # another institution can neither download the file nor name it in a 3202
    other = {"Authorization": f"Bearer {institution_keys[OTHER]}"}
    refused((await _download(client, other, info, code=OTHER)).json(), "NOT_FOUND")
    refused((await _download(client, other, info, code=HOSPITAL)).json(), "INVALID_ENVELOPE")
    node = {"file_qury_no": info["file_qury_no"], "filename": info["filename"], "fixmedins_code": HOSPITAL}
    env = envelope("9102", {"fsDownloadIn": node}, institution=OTHER)
    refused((await client.post("/fsi/api/9102", json=env, headers=other)).json(), "FORBIDDEN")
    refused(await call(client, other, "3202", _stmt(up["file_qury_no"], records), institution=OTHER), "NOT_FOUND")

    # a repeated msgid: the same answer (the upload stored once, the same file downloaded)
    mid = msgid()
    upload = envelope("9101", {"fsUploadIn": {"in": list(_zip("")), "filename": "e.zip"}}, mid=mid)
    first = await client.post("/fsi/api/9101", json=upload, headers=hospital)
    again = await client.post("/fsi/api/9101", json=upload, headers=hospital)
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    mid = msgid()
    s_first = await call(client, hospital, "3202", _stmt(up["file_qury_no"], records), mid=mid)
    s_again = await call(client, hospital, "3202", _stmt(up["file_qury_no"], records), mid=mid)
    assert s_again == s_first
    mid = msgid()
    d_first = await _download(client, hospital, info, mid=mid)
    d_again = await _download(client, hospital, info, mid=mid)
    assert d_again.content == d_first.content
    assert d_again.headers["Idempotent-Replayed"] == "true"

    # past dld_endtime: refused, for download and for reconciliation
    clock.set_clock(lambda: DAY + timedelta(days=8))
    msg = refused((await _download(client, hospital, info)).json(), "INVALID_STATE")
    assert "2026-10-21 10:00:00" in msg
    late = _stmt(up["file_qury_no"], records)
    refused(await call(client, hospital, "3202", late), "INVALID_STATE")
    # … but a msgid that downloaded it before is still answered with the same bytes
    assert (await _download(client, hospital, info, mid=mid)).content == d_first.content


async def test_detail_reconciliation_refusals(
    client: httpx.AsyncClient, hospital: dict[str, str], recon_day: None
) -> None:
    up = ok(await _upload(client, hospital, _zip("")))
    good = _stmt(up["file_qury_no"], [])

    # the upload: not a zip, another institution's code, empty, not bytes
    msg = refused(await _upload(client, hospital, b"setl_id\tmdtrt_id\n"), "INVALID_REQUEST")
    assert "zip" in msg
    node = {"in": list(_zip("")), "filename": "a.zip", "fixmedins_code": OTHER}
    refused(await call(client, hospital, "9101", {"fsUploadIn": node}), "FORBIDDEN")
    refused(await call(client, hospital, "9101", {"fsUploadIn": {"filename": "a.zip", "in": []}}), "INVALID_REQUEST")
    refused(
        await call(client, hospital, "9101", {"fsUploadIn": {"filename": "a.zip", "in": [1, 256]}}), "INVALID_REQUEST"
    )
    refused(
        await call(client, hospital, "9101", {"fsUploadIn": {"filename": "a.zip", "in": [True]}}), "INVALID_REQUEST"
    )
    refused(await call(client, hospital, "9101", {"fsUploadIn": {"filename": "a.zip", "in": "@@"}}), "INVALID_REQUEST")
    # base64, as C# and Jackson serialise a byte array, is accepted too
    b64 = base64.b64encode(_zip("")).decode()
    assert ok(await call(client, hospital, "9101", {"fsUploadIn": {"filename": "b.zip", "in": b64}}))["file_qury_no"]

    # 3202: a zip without a txt, a malformed line (named), a repeated record
    no_txt = ok(await _upload(client, hospital, _zip("x", name="detail.csv")))["file_qury_no"]
    assert "txt" in refused(await call(client, hospital, "3202", _stmt(no_txt, [])), "INVALID_REQUEST")
    bad = "a\tm\t430522199001011235\t1.00\t0.00\t0.00\t0\nb\tm\t430522199001011235\tabc\t0.00\t0.00\t0\n"
    bad_no = ok(await _upload(client, hospital, _zip(bad)))["file_qury_no"]
    msg = refused(await call(client, hospital, "3202", _stmt(bad_no, [])), "INVALID_REQUEST")
    assert "line 2" in msg and "medfee_sumamt" in msg
    short = ok(await _upload(client, hospital, _zip("a\tm\t1.00\n")))["file_qury_no"]
    assert "line 1" in refused(await call(client, hospital, "3202", _stmt(short, [])), "INVALID_REQUEST")
    twice = "a\t\tP1\t1.00\t0.00\t0.00\t0\na\t\tP1\t1.00\t0.00\t0.00\t0\n"
    twice_no = ok(await _upload(client, hospital, _zip(twice)))["file_qury_no"]
    assert "line 2" in refused(await call(client, hospital, "3202", _stmt(twice_no, [])), "INVALID_REQUEST")

    # 3202: dates reversed, a period not over yet, an unknown file, a result file as input
    reversed_ = {**good["data"], "stmt_begndate": "2026-10-14", "stmt_enddate": "2026-10-13"}
    refused(await call(client, hospital, "3202", {"data": reversed_}), "INVALID_REQUEST")
    future = {**good["data"], "stmt_enddate": "2026-10-15"}
    assert "after today" in refused(await call(client, hospital, "3202", {"data": future}), "INVALID_REQUEST")
    refused(await call(client, hospital, "3202", _stmt("nosuchfile", [])), "NOT_FOUND")
    result = ok(await call(client, hospital, "3202", good))["fileinfo"]
    refused(await call(client, hospital, "3202", _stmt(result["file_qury_no"], [])), "INVALID_STATE")
    refused(
        await call(client, hospital, "3202", {"data": {**good["data"], "setl_optins": "430100"}}), "INVALID_REQUEST"
    )
    # 9102: an unknown file, the wrong name
    refused(
        (await _download(client, hospital, {"file_qury_no": "nosuchfile", "filename": "x.zip"})).json(), "NOT_FOUND"
    )
    refused((await _download(client, hospital, {**result, "filename": "other.zip"})).json(), "NOT_FOUND")
