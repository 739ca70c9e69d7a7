"""The 3202 file side, pure: reading the institution's list, the comparison, the result file."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest

from yibao.errors import InvalidRequest
from yibao.nhsa import statements as st


def _zip(text: str, name: str = "d.txt") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, text.encode("utf-8-sig"))
    return buf.getvalue()


def test_reads_the_documented_shapes() -> None:
    # given: a header line, CRLF, null cells, an eighth exp_content column, a refund line, blank lines
    text = (
        "setl_id\tmdtrt_id\tpsn_no\tmedfee_sumamt\tfund_pay_sumamt\tacct_pay\trefd_setl_flag\r\n"
        "S1\tM1\tP1\t60.00\t40.00\t0\t0\r\n"
        "S2\tnull\tP2\t-12.5\t-2.50\t-10.00\t1\t{}\r\n"
        "\r\n"
    )
    # when
    rows = st.read_details(_zip(text))
    # then
    assert rows == [
        st.Record("S1", "M1", "P1", 6000, 4000, 0, "0"),
        st.Record("S2", "", "P2", -1250, -250, -1000, "1"),
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("S1\tM1\tP1\t60.001\t0\t0\t0\n", "line 1"),
        ("S1\tM1\tP1\t60\t0\t0\t2\n", "refd_setl_flag"),
        ("\nS1\tM1\tP1\t60\t0\t0\n", "line 2"),
        ("S1\tM1\t\t60\t0\t0\t0\n", "psn_no"),
        ("S1\tM1\tP1\t1e400\t0\t0\t0\n", "line 1"),
    ],
)
def test_a_malformed_line_is_named(text: str, needle: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        st.read_details(_zip(text))
    assert needle in str(err.value)


def test_the_zip_must_hold_one_utf8_txt() -> None:
    for content in (b"not a zip", _zip("x", name="d.csv")):
        with pytest.raises(InvalidRequest):
            st.read_details(content)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "")
        z.writestr("b.txt", "")
    with pytest.raises(InvalidRequest, match="exactly one"):
        st.read_details(buf.getvalue())
    with pytest.raises(InvalidRequest, match="UTF-8"):
        st.read_details(_zip_bytes(b"S1\t\xff\n"))


def _zip_bytes(raw: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("d.txt", raw)
    return buf.getvalue()


def test_upload_content_forms() -> None:
    zipped = _zip("")
    assert st.decode_upload(list(zipped)) == zipped
    assert st.decode_upload([b - 256 if b > 127 else b for b in zipped]) == zipped  # Java's signed bytes
    mime = base64.encodebytes(zipped).decode()  # line-broken base64
    assert st.decode_upload(mime) == zipped
    for bad in ([256], [-129], [1.5], [True], "%%", None, {"a": 1}):
        with pytest.raises(InvalidRequest):
            st.decode_upload(bad)
    with pytest.raises(InvalidRequest, match="at most"):
        st.check_upload(b"\0" * (st.MAX_FILE_BYTES + 1))


def test_compare_classifies_every_record_and_the_result_round_trips() -> None:
    center = [
        st.Record("S1", "M1", "P1", 6000, 4000, 0, "0", msgid="H1"),
        st.Record("S2", "M2", "P2", 1000, 0, 1000, "0", msgid="H2"),
        st.Record("S3", "M3", "P3", 500, 0, 0, "0"),
        st.Record("S3", "M3", "P3", -500, 0, 0, "1"),
    ]
    institution = [
        st.Record("S1", "M1", "P1", 6000, 4000, 0, "0"),
        st.Record("S2", "", "P2", 1000, 100, 900, "0"),
        st.Record("S3", "M3", "P3", 500, 0, 0, "0"),
        st.Record("S9", "M9", "P9", 100, 0, 0, "0"),
    ]
    rows = st.compare(center, institution)
    assert [(r["setl_id"], r["refd_setl_flag"], r["stmt_rslt"]) for r in rows] == [
        ("S1", "0", "0"),
        ("S2", "0", "3"),
        ("S3", "0", "0"),
        ("S3", "1", "1"),
        ("S9", "0", "2"),
    ]
    assert "fund_pay_sumamt 机构 1.00 ≠ 中心 0.00" in rows[1]["memo"] and "acct_pay" in rows[1]["memo"]
    assert rows[1]["mdtrt_id"] == "M2" and rows[0]["msgid"] == "H1"
    assert st.counts(rows) == {"0": 2, "1": 1, "2": 1, "3": 1}
    from datetime import datetime

    made = st.result_zip(rows, datetime(2026, 12, 3, 10))
    assert made == st.result_zip(rows, datetime(2026, 12, 3, 10))  # the same bytes
    assert st.read_result(made) == [{k: str(v) for k, v in r.items()} for r in rows]
