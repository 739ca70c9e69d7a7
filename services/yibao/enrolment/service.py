"""Enrolments: the one module that writes ``enrolments``.

* ``enrol``: staff type an enrolment in (a use case: audited, commits).
* ``enrol_from_premium``, ``recompute_from_premium``, ``remove``: the enrolment a resident
  premium derives, its coverage start recomputed after a pay-back, a refunded premium's
  enrolment. Steps of the caller's transaction (which commits); each change is audited here,
  on the person, with the row before and after (``enrolment.derived`` / ``.recomputed`` /
  ``.removed``).
* ``upsert_derived``: the employee enrolments a contribution posting derives, for any number of
  people in one statement, then their incentives (the posting's use case audits the posting).
* ``refresh_incentives``: continuity and zero-claim credits from history, one set-based UPDATE
  (the year-end rollover runs it for everyone; the rule itself is ``incentives.derive``).

A premium never touches an enrolment that is already there (staff-typed or from an earlier
payment): ``enrol_from_premium`` refuses with ``ALREADY_ENROLLED``, so a payment can never
shorten or move an existing coverage. A contribution posting merges into the employee row of
its year: it keeps the earliest coverage start of its own earlier postings (months may be posted
out of order) and a retiree flag once set by a posting; derived fields win over staff-typed ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import orjson
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.db.helpers import add_unique
from yibao.db.uow import UnitOfWork
from yibao.enrolment.coverage import Coverage
from yibao.enrolment.incentives import DEFAULT_ZERO_CLAIM_STEP
from yibao.enrolment.orm import EnrolmentRow
from yibao.errors import AlreadyEnrolled, InvalidRequest
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


#: the bulk derivations (``upsert_derived``); a premium's enrolment goes through ``enrol_from_premium``
_DERIVED = {
    EMPLOYER: _DerivedBy("employee", keeps_earliest=True),
}
#: the scheme of the rows each source derives
_SCHEME_OF = {PREMIUM: "resident", EMPLOYER: "employee"}


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
    detail = {
        "scheme": row.scheme,
        "year": row.year,
        "coverage_start": str(row.coverage_start),
        "before": None,
        "after": snapshot(row),
    }
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
    their incentives. ``source``: ``employer`` (employee); the resident row of the year is left
    as it is. Returns how many rows were given."""
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


def snapshot(row: EnrolmentRow) -> dict[str, object]:
    """What the audit log keeps of an enrolment, before or after a change."""
    return {
        "coverage_start": str(row.coverage_start),
        "coverage_reason": row.coverage_reason,
        "waiting_months": row.waiting_months,
        "source": row.source,
        "continuous_years": row.continuous_years,
        "zero_claim_credit": int(row.zero_claim_credit),
    }


async def _audit_change(
    session: AsyncSession,
    actor: audit.Actor,
    action: str,
    person_id: int,
    scheme: str,
    year: int,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
) -> None:
    detail = {"scheme": scheme, "year": year, "before": before, "after": after}
    await audit.record(session, actor, action, ("person", str(person_id)), detail)


async def enrol_from_premium(
    session: AsyncSession, actor: audit.Actor, person_id: int, year: int, coverage: Coverage
) -> EnrolmentRow:
    """The resident enrolment a premium payment derives, with its incentives; audited
    (``enrolment.derived``). A resident enrolment already there for the year (staff-typed, or
    another payment's) is never touched: ``ALREADY_ENROLLED``."""
    inserted = await session.scalar(
        pg_insert(EnrolmentRow)
        .values(
            person_id=person_id,
            scheme=_SCHEME_OF[PREMIUM],
            year=year,
            coverage_start=coverage.start,
            retiree=False,
            continuous_years=0,
            zero_claim_credit=0,
            coverage_reason=coverage.reason,
            coverage_detail=coverage.detail[:400],
            waiting_months=coverage.waiting_months,
            source=PREMIUM,
        )
        .on_conflict_do_nothing(index_elements=["person_id", "year", "scheme"])
        .returning(EnrolmentRow.id)
    )
    if inserted is None:
        raise AlreadyEnrolled(f"{year}年度已参保 already enrolled for {year}")
    await refresh_incentives(session, year, [person_id])
    row = await get(session, person_id, year, _SCHEME_OF[PREMIUM], fresh=True)
    assert row is not None
    await _audit_change(session, actor, "enrolment.derived", person_id, row.scheme, year, None, snapshot(row))
    return row


async def recompute_from_premium(
    session: AsyncSession, actor: audit.Actor, row: EnrolmentRow, coverage: Coverage
) -> bool:
    """Move a premium-derived enrolment's coverage start to ``coverage`` (a pay-back shortened
    the wait; the caller checked the coverage has not begun). Audited (``enrolment.recomputed``)
    when anything changed; returns whether it did."""
    if row.source != PREMIUM:
        raise InvalidRequest("only a premium-derived enrolment is recomputed from premiums")
    before = snapshot(row)
    row.coverage_start = coverage.start
    row.coverage_reason = coverage.reason
    row.coverage_detail = coverage.detail[:400]
    row.waiting_months = coverage.waiting_months
    after = snapshot(row)
    if after == before:
        return False
    await session.flush()
    await _audit_change(session, actor, "enrolment.recomputed", row.person_id, row.scheme, row.year, before, after)
    return True


async def remove(session: AsyncSession, actor: audit.Actor, source: str, person_id: int, year: int) -> int:
    """Delete the ``source``-derived enrolment of the person's year (a staff-typed row or another
    source's stays), audited (``enrolment.removed``); returns the rows removed."""
    rows = list(
        await session.scalars(
            select(EnrolmentRow)
            .where(
                EnrolmentRow.person_id == person_id,
                EnrolmentRow.year == year,
                EnrolmentRow.scheme == _SCHEME_OF[source],
                EnrolmentRow.source == source,
            )
            .with_for_update()
        )
    )
    for row in rows:
        before = snapshot(row)
        await session.delete(row)
        await session.flush()
        await _audit_change(session, actor, "enrolment.removed", person_id, row.scheme, year, before, None)
    return len(rows)


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
    session: AsyncSession,
    person_id: int,
    year: int,
    scheme: str | None = None,
    *,
    fresh: bool = False,
    lock: bool = False,
) -> EnrolmentRow | None:
    """The person's enrolment of ``year`` in ``scheme`` (``None``: any scheme); ``fresh`` reloads
    a row this session already holds (after a statement changed it); ``lock`` holds it until
    the transaction ends (``FOR UPDATE``)."""
    stmt = select(EnrolmentRow).where(EnrolmentRow.person_id == person_id, EnrolmentRow.year == year)
    if scheme is not None:
        stmt = stmt.where(EnrolmentRow.scheme == scheme)
    if fresh or lock:
        stmt = stmt.execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def years_before(session: AsyncSession, person_id: int, year: int) -> set[int]:
    """The years before ``year`` the person was enrolled in (any scheme)."""
    return set(
        await session.scalars(
            select(EnrolmentRow.year).where(EnrolmentRow.person_id == person_id, EnrolmentRow.year < year)
        )
    )


async def first_year_after(session: AsyncSession, person_id: int, year: int) -> int | None:
    """The first year after ``year`` the person was enrolled in (any scheme), if any."""
    found: int | None = await session.scalar(
        select(func.min(EnrolmentRow.year)).where(EnrolmentRow.person_id == person_id, EnrolmentRow.year > year)
    )
    return found
