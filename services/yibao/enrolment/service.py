"""Enrolments: the one module that writes ``enrolments``.

* ``enrol``: staff type an enrolment in (a use case: audited, commits).
* ``upsert_derived``: the enrolments a premium payment or a contribution posting derives, for
  any number of people in one statement, then their incentives; ``remove``: a refunded
  premium's enrolment. Both are steps of the caller's transaction (which audits and commits).
* ``refresh_incentives``: continuity and zero-claim credits from history, one set-based UPDATE
  (the year-end rollover runs it for everyone; the rule itself is ``incentives.derive``).

Merge rule of a derived enrolment with the row already there for (person, year, scheme):
derived fields win over staff-typed ones (``source`` becomes the deriving one). A contribution
posting keeps the earliest coverage start of its own earlier postings (months may be posted out
of order) and a retiree flag once set by a posting; a premium replaces what is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import orjson
from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.db.helpers import add_unique
from yibao.db.uow import UnitOfWork
from yibao.enrolment.coverage import Coverage
from yibao.enrolment.incentives import DEFAULT_ZERO_CLAIM_STEP
from yibao.enrolment.orm import EnrolmentRow
from yibao.errors import InvalidRequest
from yibao.money import Fen
from yibao.people.orm import PersonRow
from yibao.people.repository import get_by_id_number
from yibao.policy.repository import load_active

SCHEMES = ("resident", "employee")

#: ``enrolments.source``: who created the row
STAFF = "staff"
PREMIUM = "premium"
EMPLOYER = "employer"


@dataclass(frozen=True)
class _DerivedBy:
    scheme: str
    keeps_earliest: bool  # a later derivation of the same source keeps the earliest start (and retiree)


_DERIVED = {
    PREMIUM: _DerivedBy("resident", keeps_earliest=False),
    EMPLOYER: _DerivedBy("employee", keeps_earliest=True),
}


@dataclass(frozen=True)
class Derived:
    """One person's derived enrolment: when coverage starts and why."""

    person_id: int
    coverage: Coverage
    retiree: bool = False


@dataclass(frozen=True)
class Enrolled:
    person: PersonRow
    enrolment: EnrolmentRow


# ---------------------------------------------------------------- staff


async def enrol(
    uow: UnitOfWork,
    actor: audit.Actor,
    raw_id: str,
    scheme: str,
    year: int,
    coverage_start: date,
    retiree: bool,
    continuous_years: int,
    zero_claim_credit: Fen,
) -> Enrolled:
    """Staff enrol a person (coverage start and incentives typed in until payment history
    derives them); a second enrolment of the same scheme and year is ``DUPLICATE``."""
    if scheme not in SCHEMES:
        raise InvalidRequest("scheme must be resident or employee")
    if coverage_start.year > year:
        raise InvalidRequest("coverage_start is after the coverage year")
    if retiree and scheme != "employee":
        raise InvalidRequest("only employees can be retirees")
    if continuous_years < 0 or zero_claim_credit < 0:
        raise InvalidRequest("continuous_years and zero_claim_credit cannot be negative")
    s = uow.session
    person = await get_by_id_number(s, raw_id)
    row = EnrolmentRow(
        person_id=person.id,
        scheme=scheme,
        year=year,
        coverage_start=max(coverage_start, date(year, 1, 1)),
        retiree=retiree,
        continuous_years=continuous_years,
        zero_claim_credit=zero_claim_credit,
    )
    row = await add_unique(s, row, f"{scheme} enrolment for {year}")
    detail = {"scheme": row.scheme, "year": row.year, "coverage_start": str(row.coverage_start)}
    await audit.record(s, actor, "enrolment.created", ("person", str(person.id)), detail)
    await uow.commit()
    return Enrolled(person, row)


# ---------------------------------------------------------------- derived (steps of a payment or posting)

_UPSERT_DERIVED = text(
    """
    INSERT INTO enrolments (person_id, scheme, year, coverage_start, retiree, continuous_years,
                            zero_claim_credit, coverage_reason, coverage_detail, waiting_months, source)
    SELECT i.person_id, :scheme, :year, i.start, i.retiree, 0, 0, i.reason, i.detail, i.waiting, :source
    FROM unnest(CAST(:pids AS bigint[]), CAST(:starts AS date[]), CAST(:ret AS boolean[]),
                CAST(:reasons AS text[]), CAST(:details AS text[]), CAST(:waits AS smallint[]))
         AS i(person_id, start, retiree, reason, detail, waiting)
    ORDER BY i.person_id
    ON CONFLICT (person_id, year, scheme) DO UPDATE SET
        coverage_start = CASE WHEN CAST(:keeps_earliest AS boolean) AND enrolments.source = :source
                                   AND enrolments.coverage_start <= EXCLUDED.coverage_start
                              THEN enrolments.coverage_start ELSE EXCLUDED.coverage_start END,
        coverage_reason = CASE WHEN CAST(:keeps_earliest AS boolean) AND enrolments.source = :source
                                    AND enrolments.coverage_start <= EXCLUDED.coverage_start
                               THEN enrolments.coverage_reason ELSE EXCLUDED.coverage_reason END,
        coverage_detail = CASE WHEN CAST(:keeps_earliest AS boolean) AND enrolments.source = :source
                                    AND enrolments.coverage_start <= EXCLUDED.coverage_start
                               THEN enrolments.coverage_detail ELSE EXCLUDED.coverage_detail END,
        waiting_months = CASE WHEN CAST(:keeps_earliest AS boolean) AND enrolments.source = :source
                                   AND enrolments.coverage_start <= EXCLUDED.coverage_start
                              THEN enrolments.waiting_months ELSE EXCLUDED.waiting_months END,
        retiree = CASE WHEN CAST(:keeps_earliest AS boolean)
                       THEN (enrolments.source = :source AND enrolments.retiree) OR EXCLUDED.retiree
                       ELSE enrolments.retiree END,
        source = :source
    """
)


async def upsert_derived(session: AsyncSession, source: str, year: int, rows: Sequence[Derived]) -> int:
    """Create or update the ``source``-derived enrolment of ``year`` for every row (one
    statement whatever the count; the module docstring gives the merge rule), then refresh
    their incentives. ``source``: ``premium`` (resident) or ``employer`` (employee); the other
    scheme's row of the year is left as it is. Returns how many rows were given."""
    by = _DERIVED[source]
    if not rows:
        return 0
    await session.execute(
        _UPSERT_DERIVED,
        {
            "scheme": by.scheme,
            "year": year,
            "source": source,
            "keeps_earliest": by.keeps_earliest,
            "pids": [r.person_id for r in rows],
            "starts": [r.coverage.start for r in rows],
            "ret": [r.retiree for r in rows],
            "reasons": [r.coverage.reason for r in rows],
            "details": [r.coverage.detail[:400] for r in rows],
            "waits": [r.coverage.waiting_months for r in rows],
        },
    )
    await refresh_incentives(session, year, [r.person_id for r in rows])
    return len(rows)


async def remove(session: AsyncSession, source: str, person_id: int, year: int) -> int:
    """Delete the ``source``-derived enrolment of the person's year (a staff-typed row or another
    source's stays); returns the rows removed."""
    result = await session.execute(
        delete(EnrolmentRow).where(
            EnrolmentRow.person_id == person_id,
            EnrolmentRow.year == year,
            EnrolmentRow.scheme == _DERIVED[source].scheme,
            EnrolmentRow.source == source,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- incentives

_REFRESH = text(
    """
    WITH scope AS (
        SELECT e.id, e.person_id, p.region FROM enrolments e JOIN persons p ON p.id = e.person_id
        WHERE e.year = :year AND (CAST(:all_people AS boolean) OR e.person_id = ANY(:ids))
    ),
    hist AS (
        SELECT DISTINCT h.person_id, h.year FROM enrolments h
        WHERE h.year < :year AND h.person_id IN (SELECT person_id FROM scope)
    ),
    runs AS (
        SELECT person_id, year, year + row_number() OVER (PARTITION BY person_id ORDER BY year DESC) AS k
        FROM hist
    ),
    paid AS (
        SELECT s.person_id, s.year, sum(s.fund_total) AS fund, sum(s.critical_illness) AS ci
        FROM settlements s
        WHERE s.status = 'settled' AND s.year < :year AND s.person_id IN (SELECT person_id FROM scope)
        GROUP BY s.person_id, s.year
    ),
    last_ci AS (
        SELECT person_id, max(year) AS year FROM paid WHERE ci > 0 GROUP BY person_id
    ),
    derived AS (
        SELECT sc.id, sc.region,
               (SELECT count(*) FROM runs r WHERE r.person_id = sc.person_id AND r.k = :year) AS cont,
               (SELECT count(*) FROM hist h
                  LEFT JOIN paid pd ON pd.person_id = h.person_id AND pd.year = h.year
                  LEFT JOIN last_ci lc ON lc.person_id = h.person_id
                 WHERE h.person_id = sc.person_id AND coalesce(pd.fund, 0) = 0
                   AND (lc.year IS NULL OR h.year > lc.year)) AS zero_years
        FROM scope sc
    )
    UPDATE enrolments e
    SET continuous_years = d.cont,
        zero_claim_credit = d.zero_years * coalesce(
            (SELECT (st->>'step')::bigint FROM jsonb_array_elements(CAST(:steps AS jsonb)) st
             WHERE st->>'region' = d.region), :default_step)
    FROM derived d
    WHERE e.id = d.id
      AND (e.continuous_years IS DISTINCT FROM d.cont
           OR e.zero_claim_credit IS DISTINCT FROM d.zero_years * coalesce(
            (SELECT (st->>'step')::bigint FROM jsonb_array_elements(CAST(:steps AS jsonb)) st
             WHERE st->>'region' = d.region), :default_step))
    """
).bindparams(bindparam("ids"))


async def _steps(session: AsyncSession, year: int) -> list[dict[str, object]]:
    """Zero-claim step per region from the newest policy of ``year`` (or the latest earlier year)."""
    best: dict[str, tuple[int, Fen]] = {}
    for (region, y), params in (await load_active(session)).items():
        ci = params.resident.critical_illness
        if ci is None or y > year:
            continue
        if region not in best or y > best[region][0]:
            best[region] = (y, ci.incentives.zero_claim_step)
    return [{"region": r, "step": int(step)} for r, (_, step) in best.items()]


async def refresh_incentives(session: AsyncSession, year: int, person_ids: list[int] | None = None) -> int:
    """Recompute continuous_years and zero_claim_credit of every enrolment of ``year``
    (or of ``person_ids`` only) from enrolment and settlement history; returns rows changed.

    Idempotent and set-based: the year-end rollover calls it once for the new year; a derived
    enrolment calls it for its people. A step of the caller's transaction: it does not commit.
    """
    result = await session.execute(
        _REFRESH,
        {
            "year": year,
            "all_people": person_ids is None,
            "ids": list(person_ids or []),
            "steps": orjson.dumps(await _steps(session, year)).decode(),
            "default_step": int(DEFAULT_ZERO_CLAIM_STEP),
        },
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- reads


async def get(
    session: AsyncSession, person_id: int, year: int, scheme: str | None = None, *, fresh: bool = False
) -> EnrolmentRow | None:
    """The person's enrolment of ``year`` in ``scheme`` (``None``: any scheme); ``fresh`` reloads
    a row this session already holds (after a statement changed it)."""
    stmt = select(EnrolmentRow).where(EnrolmentRow.person_id == person_id, EnrolmentRow.year == year)
    if scheme is not None:
        stmt = stmt.where(EnrolmentRow.scheme == scheme)
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def years_before(session: AsyncSession, person_id: int, year: int) -> set[int]:
    """The years before ``year`` the person was enrolled in (any scheme)."""
    return set(
        await session.scalars(
            select(EnrolmentRow.year).where(EnrolmentRow.person_id == person_id, EnrolmentRow.year < year)
        )
    )
