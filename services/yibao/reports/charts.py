"""The bureau's monthly figures as a small read-only HTML page with charts (issue #19.5).

Charts are drawn by pygal (a maintained Python SVG chart library, a dependency of the product):
the SVG is inlined in the page and pygal's tooltip script, which it would load from a CDN, is
switched off (``js=[]``), so the page needs nothing from outside (isolated networks). The
figures are also shown as tables under the charts: the charts are a picture of them.

  1. settlements (人次) per scheme and institution level
  2. fund amounts by tier (basic, critical illness, assistance) per scheme and level, stacked
  3. the traceability-code upload rate per institution (%)
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

import pygal
from pygal.style import CleanStyle

from yibao.reports.bureau import SCHEME_LEVEL_COLUMNS, TRACE_COLUMNS

_SCHEME = {"resident": "居民 resident", "employee": "职工 employee"}


def _config(title: str, horizontal: bool = False, stacked: bool = False) -> Any:
    kind = pygal.HorizontalBar if horizontal else pygal.StackedBar if stacked else pygal.Bar
    return kind(
        title=title,
        js=[],  # no tooltip script from a CDN
        disable_xml_declaration=True,
        style=CleanStyle,
        width=720,
        height=360,
        print_values=True,
        legend_at_bottom=True,
        explicit_size=True,
    )


def _label(row: dict[str, Any]) -> str:
    return f"{_SCHEME.get(row['scheme'], row['scheme'])} L{row['level']}"


def charts(report: dict[str, Any]) -> list[str]:
    """The month's charts, each an inline ``<svg>`` string."""
    rows = report["by_scheme_and_level"]
    labels = [_label(r) for r in rows]
    count = _config(f"{report['month']} 结算人次 settlements")
    count.x_labels = labels
    count.add("人次 settlements", [int(r["settlements"]) for r in rows])
    tiers = _config(f"{report['month']} 基金支付 fund payments by tier (元 yuan)", stacked=True)
    tiers.x_labels = labels
    for key, name in (
        ("basic_fund", "基本医保 basic"),
        ("critical_illness", "大病保险 critical illness"),
        ("medical_assistance", "医疗救助 assistance"),
    ):
        tiers.add(name, [float(Decimal(r[key])) for r in rows])
    trace = _config(f"{report['month']} 追溯码上传率 trace-code upload rate (%)", horizontal=True)
    trace.x_labels = [r["institution_code"] for r in report["trace_code_upload"]]
    trace.add(
        "上传率 upload rate",
        [
            None if r["upload_rate"] is None else float(Decimal(r["upload_rate"]) * 100)
            for r in report["trace_code_upload"]
        ],
    )
    return [str(c.render(is_unicode=True)) for c in (count, tiers, trace)]


def _table(columns: list[str], rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if r.get(c) is None else str(r[c]))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(report: dict[str, Any]) -> str:
    """A whole HTML page: the charts, then the figures as tables."""
    month = escape(report["month"])
    svgs = "\n".join(f'<figure class="chart">{svg}</figure>' for svg in charts(report))
    return (
        "<!doctype html>\n"
        f'<html lang="zh-CN"><head><meta charset="utf-8"><title>{month} 医保月报 bureau report</title>'
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}figure{margin:1em 0}</style>"
        f"</head><body><h1>{month} 医保月报 bureau monthly figures</h1>\n{svgs}\n"
        "<h2>按险种与机构级别 by scheme and institution level</h2>"
        + _table(SCHEME_LEVEL_COLUMNS, report["by_scheme_and_level"])
        + "<h2>追溯码上传 traceability-code upload</h2>"
        + _table(TRACE_COLUMNS, report["trace_code_upload"])
        + "</body></html>\n"
    )
