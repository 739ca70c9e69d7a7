"""The bureau's monthly figures on a month of hand-written bills (rolled back: April 2079 is no
other test's month)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from tests.monitoring.rows import Rows
from yibao.reports import bureau, charts


async def test_monthly_figures_by_scheme_level_qr_share_and_trace_codes(rows: Rows) -> None:
    # given April 2079: at a level-2 hospital two resident outpatient visits (30.00 each, 15.00 fund)
    # one of them settled with the member QR code, one resident inpatient stay of 1,660.00 (4 bed
    # days), one cancelled visit; at a level-1 clinic one employee visit with a drug that needs a
    # traceability code, sent once with a code and once without
    county, clinic = await rows.institution(level=2), await rows.institution(level=1)
    p = await rows.person()
    qr = await rows.visit(county, p, date(2079, 4, 3))
    await rows.visit(county, p, date(2079, 4, 4))
    await rows.stay(county, p, date(2079, 4, 6), date(2079, 4, 10), fund_total=100_000)
    await rows.visit(county, p, date(2079, 4, 5), status="cancelled")
    trace_item = await rows.session.scalar(text("SELECT code FROM catalogue_items WHERE trace_required LIMIT 1"))
    assert trace_item is not None
    await rows.bill(
        clinic,
        p,
        "outpatient",
        date(2079, 4, 7),
        [(trace_item, 1, 2_000, ["TRACE-1"]), (trace_item, 1, 2_000, [])],
        scheme="employee",
        fund_total=1_000,
    )
    key = await rows.session.scalar(text("SELECT idempotency_key FROM settlements WHERE id = :i"), {"i": qr})
    await rows.session.execute(
        text(
            "INSERT INTO member_code_uses (jti, person_id, institution_code, idempotency_key) "
            "VALUES (gen_random_uuid(), :p, :c, :k)"
        ),
        {"p": p, "c": county, "k": key},
    )
    # when April's figures are read
    report = await bureau.monthly(rows.session, "2079-04")
    # then by hand
    assert report["by_scheme_and_level"] == [
        {
            "scheme": "employee",
            "level": 1,
            "settlements": 1,
            "total": "40.00",
            "basic_fund": "10.00",
            "critical_illness": "0.00",
            "medical_assistance": "0.00",
            "fund_total": "10.00",
            "inpatient_cases": 0,
            "average_inpatient_cost": None,
            "member_code_share": "0.0000",
        },
        {  # 30.00 + 30.00 + 1,660.00; fund 15.00 + 15.00 + 1,000.00; one of three by QR code
            "scheme": "resident",
            "level": 2,
            "settlements": 3,
            "total": "1720.00",
            "basic_fund": "1030.00",
            "critical_illness": "0.00",
            "medical_assistance": "0.00",
            "fund_total": "1030.00",
            "inpatient_cases": 1,
            "average_inpatient_cost": "1660.00",
            "member_code_share": "0.3333",
        },
    ]
    assert report["trace_code_upload"] == [
        {"institution_code": clinic, "trace_lines": 2, "with_code": 1, "upload_rate": "0.5000"}
    ]
    assert bureau.to_csv(report, "trace_code_upload").splitlines() == [
        "institution_code,trace_lines,with_code,upload_rate",
        f"{clinic},2,1,0.5000",
    ]
    # and the read-only page charts these very figures (three inline SVG charts drawn by pygal,
    # nothing loaded from outside) above the same figures as tables
    html = charts.page(report)
    assert html.count("<svg") == 3 and 'src="http' not in html
    assert "<td>resident</td><td>2</td><td>3</td><td>1720.00</td><td>1030.00</td>" in html
    assert f"<td>{clinic}</td><td>2</td><td>1</td><td>0.5000</td>" in html
    # the chart's own printed values: 3 and 1 settlements, a 50 % upload rate
    svgs = charts.charts(report)
    assert ">3<" in svgs[0] and ">1<" in svgs[0] and ">50<" in svgs[2], svgs[2][-2000:]
