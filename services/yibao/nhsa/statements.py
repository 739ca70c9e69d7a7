"""3202 detail reconciliation (对明细账), the file side: reading the institution's zipped
tab-separated settlement list, comparing it line by line with the platform's records, and
writing the zipped result file. Pure: bytes and records in, bytes and rows out.

The files (docs/NHSA-INTERFACE.md §5.2): the upload is a zip holding one UTF-8 ``.txt``, one
line per settlement record, tab-separated ``setl_id, mdtrt_id, psn_no, medfee_sumamt,
fund_pay_sumamt, acct_pay, refd_setl_flag`` (an eighth ``exp_content`` and ``null`` for an empty
cell are accepted); the result is a zip holding ``result.txt``, one line per record of either
side: ``psn_no, mdtrt_id, setl_id, msgid, stmt_rslt, refd_setl_flag, memo, medfee_sumamt,
fund_pay_sumamt, acct_pay``.
"""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from yibao.errors import InvalidRequest
from yibao.money import to_wire

#: the largest file an institution may upload (9101), as stored
MAX_FILE_BYTES = 20 * 1024 * 1024
#: the largest uncompressed detail list read from an upload (a zip bomb stops here)
MAX_TEXT_BYTES = 64 * 1024 * 1024
#: lines of a detail list (the native monthly reconciliation's bound)
MAX_LINES = 200_000
#: an amount's bound, in fen (below 10^12 yuan, as every national amount here)
MAX_AMOUNT_FEN = 10**14 - 1

COLUMNS = ("setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag")
RESULT_COLUMNS = (
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
)
#: line results (§5.2 item 6)
BALANCED, CENTER_ONLY, FIXMEDINS_ONLY, DIFFERS = "0", "1", "2", "3"
AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")


@dataclass(frozen=True)
class Record:
    """One settlement record (a settlement, or a cancel's negative mirror with flag 1); fen."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int
    refd_setl_flag: str
    msgid: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.setl_id, self.refd_setl_flag)


# ---------------------------------------------------------------- 9101 content


def decode_upload(value: Any) -> bytes:
    """``fsUploadIn.in``: the file's bytes as HIS code sends them — a JSON array of byte values
    (0…255, or −128…127 from Java's signed ``byte[]``) or a base64 string (what C#'s and
    Jackson's serialisers make of a byte array)."""
    if isinstance(value, str):
        if len(value) > (MAX_FILE_BYTES + 2) // 3 * 4 * 78 // 76 + 4:  # MIME encoders break lines every 76
            raise _too_large(len(value) * 3 // 4)
        try:
            return base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("文件内容格式错误 fsUploadIn.in is neither a byte array nor base64") from None
    if isinstance(value, list):
        if len(value) > MAX_FILE_BYTES:
            raise _too_large(len(value))
        if all(type(b) is int for b in value):  # exactly int: a bool is not a byte
            try:
                return bytes(b + 256 if -128 <= b < 0 else b for b in value)
            except ValueError:
                pass
        raise InvalidRequest("文件内容格式错误 fsUploadIn.in must be an array of byte values (−128…255)")
    raise InvalidRequest("缺少文件内容 fsUploadIn.in must hold the file: an array of byte values or base64")


def check_upload(content: bytes) -> None:
    """An upload is a zip of at most ``MAX_FILE_BYTES`` (what it holds is read by its use)."""
    if not content:
        raise InvalidRequest("文件为空 the uploaded file is empty")
    if len(content) > MAX_FILE_BYTES:
        raise _too_large(len(content))
    try:
        with zipfile.ZipFile(io.BytesIO(content)):
            pass
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        raise InvalidRequest("文件不是 zip 压缩包 the uploaded file is not a zip archive") from None


def _too_large(size: int) -> InvalidRequest:
    return InvalidRequest(
        f"文件过大 the file is about {size} bytes; at most {MAX_FILE_BYTES} bytes "
        f"({MAX_FILE_BYTES // (1024 * 1024)} MiB) are accepted: split the period"
    )


# ---------------------------------------------------------------- the institution's list


def _text_of(content: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        raise InvalidRequest("文件不是 zip 压缩包 the file is not a zip archive") from None
    with archive:
        texts = [i for i in archive.infolist() if not i.is_dir() and i.filename.lower().endswith(".txt")]
        if len(texts) != 1:
            names = ", ".join(i.filename for i in archive.infolist()[:10]) or "nothing"
            raise InvalidRequest(
                f"压缩包须含一个 txt 文件 the zip must hold exactly one .txt detail file; it holds {names}"
            )
        try:
            with archive.open(texts[0]) as f:
                raw = f.read(MAX_TEXT_BYTES + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError) as exc:
            raise InvalidRequest(f"压缩包损坏 {texts[0].filename} cannot be read from the zip: {exc}") from None
    if len(raw) > MAX_TEXT_BYTES:
        raise InvalidRequest(f"明细文件过大 {texts[0].filename} is larger than {MAX_TEXT_BYTES} bytes uncompressed")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"明细文件须为 UTF-8 the detail file is not UTF-8 (byte {exc.start})") from None


def _cell(cells: Sequence[str], i: int) -> str:
    value = cells[i].strip()
    return "" if value.lower() == "null" else value


def _fen(value: str, column: str, n: int) -> int:
    try:
        amount = Decimal(value)
        ok = amount.is_finite() and abs(amount) * 100 <= MAX_AMOUNT_FEN and amount == amount.quantize(Decimal("0.01"))
    except ArithmeticError:  # not a number; decimal.InvalidOperation on quantize of 1e400
        ok = False
    if not ok:
        raise InvalidRequest(
            f"第 {n} 行格式错误 line {n}: {column} {value[:30]!r} is not an amount (2 decimals, below 10^12)"
        )
    return int(amount * 100)


def _line(cells: Sequence[str], n: int) -> Record:
    if len(cells) not in (7, 8):
        raise InvalidRequest(
            f"第 {n} 行格式错误 line {n}: {len(cells)} tab-separated fields, expected 7 "
            f"({', '.join(COLUMNS)}) or 8 (+ exp_content)"
        )
    setl_id, mdtrt_id, psn_no = _cell(cells, 0), _cell(cells, 1), _cell(cells, 2)
    if not 0 < len(setl_id) <= 40:
        raise InvalidRequest(f"第 {n} 行格式错误 line {n}: setl_id must be 1 to 40 characters")
    if len(mdtrt_id) > 40:
        raise InvalidRequest(f"第 {n} 行格式错误 line {n}: mdtrt_id is longer than 40 characters")
    if not 0 < len(psn_no) <= 30:
        raise InvalidRequest(f"第 {n} 行格式错误 line {n}: psn_no must be 1 to 30 characters")
    flag = _cell(cells, 6) or "0"
    if flag not in ("0", "1"):
        raise InvalidRequest(f"第 {n} 行格式错误 line {n}: refd_setl_flag must be 0 or 1, got {flag[:10]!r}")
    medfee, fund, acct = (_fen(_cell(cells, i) or "0", COLUMNS[i], n) for i in (3, 4, 5))
    return Record(setl_id, mdtrt_id, psn_no, medfee, fund, acct, flag)


def read_details(content: bytes) -> list[Record]:
    """The institution's records from its uploaded zip; a malformed line is refused by number
    (1-based, counting every line of the file). A first line naming the columns is skipped."""
    out: list[Record] = []
    seen: dict[tuple[str, str], int] = {}
    for n, raw in enumerate(_text_of(content).split("\n"), start=1):
        raw = raw.removesuffix("\r")
        if not raw.strip():
            continue
        cells = raw.split("\t")
        if n == 1 and cells[0].strip().lower() == "setl_id":
            continue
        if len(out) >= MAX_LINES:
            raise InvalidRequest(f"明细行数过多 more than {MAX_LINES} lines: split the period")
        record = _line(cells, n)
        if record.key in seen:
            raise InvalidRequest(
                f"第 {n} 行重复 line {n} repeats setl_id {record.setl_id} refd_setl_flag {record.refd_setl_flag} "
                f"of line {seen[record.key]}"
            )
        seen[record.key] = n
        out.append(record)
    return out


# ---------------------------------------------------------------- comparison and result


def _differences(ours: Record, theirs: Record) -> list[str]:
    out = []
    if theirs.psn_no != ours.psn_no:
        out.append(f"psn_no 机构 {theirs.psn_no} ≠ 中心 {ours.psn_no}")
    if ours.mdtrt_id and theirs.mdtrt_id and theirs.mdtrt_id != ours.mdtrt_id:
        out.append(f"mdtrt_id 机构 {theirs.mdtrt_id} ≠ 中心 {ours.mdtrt_id}")
    for name in AMOUNTS:
        a, b = getattr(theirs, name), getattr(ours, name)
        if a != b:
            out.append(f"{name} 机构 {to_wire(a)} ≠ 中心 {to_wire(b)}")
    return out


def compare(center: Sequence[Record], institution: Sequence[Record]) -> list[dict[str, Any]]:
    """One result row per record of either side, keyed by (setl_id, refd_setl_flag): 0 平
    (equal), 1 中心多 (only the platform has it), 2 医药机构多 (only the institution), 3 数据不一致
    (psn_no, mdtrt_id or an amount differs). Amounts shown are the platform's, or the
    institution's for a record only it has. The platform's records first, in their order."""
    theirs = {r.key: r for r in institution}
    rows = []
    for ours in center:
        other = theirs.pop(ours.key, None)
        if other is None:
            rslt, memo = CENTER_ONLY, "中心多 only the platform has this record"
        else:
            diffs = _differences(ours, other)
            rslt, memo = (DIFFERS, "数据不一致 " + "; ".join(diffs)) if diffs else (BALANCED, "平")
        rows.append(_row(ours, rslt, memo, mdtrt_id=ours.mdtrt_id or (other.mdtrt_id if other else "")))
    for other in institution:
        if other.key in theirs:
            rows.append(
                _row(other, FIXMEDINS_ONLY, "医药机构多 the platform has no such record", mdtrt_id=other.mdtrt_id)
            )
    return rows


def _row(r: Record, rslt: str, memo: str, *, mdtrt_id: str) -> dict[str, Any]:
    return {
        "psn_no": r.psn_no,
        "mdtrt_id": mdtrt_id,
        "setl_id": r.setl_id,
        "msgid": r.msgid,
        "stmt_rslt": rslt,
        "refd_setl_flag": r.refd_setl_flag,
        "memo": memo,
        "medfee_sumamt": to_wire(r.medfee_sumamt),
        "fund_pay_sumamt": to_wire(r.fund_pay_sumamt),
        "acct_pay": to_wire(r.acct_pay),
    }


def counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    out = dict.fromkeys((BALANCED, CENTER_ONLY, FIXMEDINS_ONLY, DIFFERS), 0)
    for r in rows:
        out[r["stmt_rslt"]] += 1
    return out


def _clean(value: Any) -> str:
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def result_zip(rows: Sequence[Mapping[str, Any]], made_at: datetime) -> bytes:
    """``result.txt`` (UTF-8, tab-separated, ``\\n`` lines, no header) in a zip; the same rows
    and time give the same bytes."""
    text = "".join("\t".join(_clean(r[c]) for c in RESULT_COLUMNS) + "\n" for r in rows)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("result.txt", date_time=made_at.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, text.encode())
    return buf.getvalue()


def read_result(content: bytes) -> list[dict[str, str]]:
    """The rows of a result zip (``result_zip``'s inverse)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        text = archive.read("result.txt").decode()
    return [dict(zip(RESULT_COLUMNS, line.split("\t"), strict=True)) for line in text.splitlines() if line]
