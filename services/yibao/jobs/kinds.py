"""Every job kind: which service's worker runs it and which staff roles may start it.

Adding a job = one line here + a handler in that service's ``jobs.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from yibao.errors import Forbidden, InvalidRequest


@dataclass(frozen=True)
class JobKind:
    service: str  # "settlement" or "monitor": the worker queue that runs it
    roles: tuple[str, ...]  # who may start it by hand (admin always may)
    summary: str


KINDS: dict[str, JobKind] = {
    "daily_settle": JobKind("settlement", ("finance",), "日结算 daily settle of one date: {date}"),
    "monthly_reconcile": JobKind("settlement", ("finance",), "月核算 reconcile one submitted month: {submission_id}"),
    "dip_presettle": JobKind("settlement", ("finance",), "DIP 月预结算 monthly pre-settlement: {year}, {month}"),
    "year_end_clearing": JobKind("settlement", ("finance",), "年清算 DIP year-end clearing: {year}, {commit}"),
    "year_rollover": JobKind("settlement", ("finance",), "年度结转 close a year, compute incentives: {year}"),
    "monitor_sweep": JobKind("monitor", ("inspector",), "夜间监控 run post-settlement models: {date_from}, {date_to}"),
    "monitor_alerts": JobKind("monitor", ("inspector",), "预警 return-to-poverty, fund health: {year}, {month}"),
}


def authorize(kind: str, role: str) -> JobKind:
    """The kind, if it exists and ``role`` may start it by hand (admin always may)."""
    found = KINDS.get(kind)
    if found is None:
        raise InvalidRequest(f"unknown job kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    if role != "admin" and role not in found.roles:
        raise Forbidden(f"需要角色 {'/'.join(found.roles)} job {kind} needs role {found.roles}")
    return found


def topic_for(service: str) -> str:
    return f"job.{service}"
