"""Employers and their monthly contribution postings; a posting derives employee enrolments.

One employer-month is the unit of idempotency: the first request creates the posting, its
lines, the personal-account credits (through ``yibao.accounts``), the enrolments (through
``yibao.enrolment``) and the audit entry in one transaction; the same request
again (same request hash, order of lines ignored) returns that posting with ``created=False``
and writes nothing; another body for a posted month is ``IDEMPOTENCY_CONFLICT``. Corrections of
a posted month (补缴/退费) are a separate concept and not implemented here.

Set-based: a posting may carry thousands of lines, so people are looked up, lines inserted,
accounts credited and enrolments derived each in one statement, not one round trip per line.

``register`` and ``post_contributions`` are the use cases (audited, committed); ``post_month``
is the posting itself, a step of the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.accounts import service as accounts
from yibao.db.helpers import add_unique
from yibao.db.uow import UnitOfWork
from yibao.employers import credit_code
from yibao.employers.orm import ContributionLineRow, ContributionPostingRow, EmployerRow
from yibao.employers.rules import LineIn, Parts, month_label, parse_month, parts, request_hash
from yibao.enrolment import coverage as cov
from yibao.enrolment import service as enrolment
from yibao.errors import (
    Duplicate,
    IdempotencyConflict,
    InvalidIdNumber,
    InvalidRequest,
    NotFound,
    PersonNotFound,
    UnknownRegion,
)
from yibao.ledger import income
from yibao.people import id_number as ids
from yibao.people.orm import PersonRow
from yibao.policy.params import ContributionParams
from yibao.policy.repository import is_pooling_region
from yibao.reference import ReferenceData

# ---------------------------------------------------------------- employers


@dataclass(frozen=True)
class Registered:
    employer: EmployerRow
    created: bool


async def register(uow: UnitOfWork, actor: audit.Actor, raw_code: str, name: str, region: str) -> Registered:
    """Register an employer, idempotent on its code: the same code, name and region again return
    the first row (``created=False``, not audited again); the code with another name or region is
    ``DUPLICATE``. Audited (``employer.registered``) and committed. An employer belongs to a
    pooling region of the reference data (else ``UNKNOWN_REGION``)."""
    s = uow.session
    if not await is_pooling_region(s, region):
        raise UnknownRegion(f"统筹区 {region} 不存在 {region} is no pooling region of the reference data")
    row, created = await _register(s, raw_code, name, region)
    if created:
        await audit.record(
            s, actor, "employer.registered", ("employer", str(row.id)), {"code": row.code, "region": row.region}
        )
    await s.refresh(row)
    await uow.commit()
    return Registered(row, created)


async def _register(session: AsyncSession, raw_code: str, name: str, region: str) -> tuple[EmployerRow, bool]:
    code = credit_code.parse(raw_code)
    existing = await session.scalar(select(EmployerRow).where(EmployerRow.code == code))
    if existing is None:
        try:
            return await add_unique(session, EmployerRow(code=code, name=name, region=region), f"employer {code}"), True
        except Duplicate:  # registered concurrently: fall through to the comparison
            existing = await session.scalar(select(EmployerRow).where(EmployerRow.code == code))
            assert existing is not None
    if (existing.name, existing.region) != (name, region):
        raise Duplicate(
            f"单位 {code} 已登记为 {existing.name}（{existing.region}） employer {code} is already registered "
            f"with another name or region"
        )
    return existing, False


async def get(session: AsyncSession, raw_code: str, *, lock: bool = False) -> EmployerRow:
    code = (raw_code or "").strip().upper()
    stmt = select(EmployerRow).where(EmployerRow.code == code)
    row = await session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise NotFound(f"单位 {code} 未登记 employer {code} is not registered")
    return row


# ---------------------------------------------------------------- postings


@dataclass(frozen=True)
class LineOut:
    id_number: str
    base: int
    employer_part: int
    employee_part: int
    account_credit: int
    retiree: bool


@dataclass(frozen=True)
class Posted:
    posting: ContributionPostingRow
    lines: list[LineOut]
    created: bool
    employer: EmployerRow


def credit_reference(employer_code: str, month: date) -> str:
    """The account-movement reference of a posting's credits: a retry can never credit twice."""
    return f"contrib:{employer_code}:{month_label(month)}"


def _normalise(lines: Sequence[LineIn]) -> list[LineIn]:
    """Validate IDs and bases and refuse a person twice; errors name the (1-based) line."""
    if not lines:
        raise InvalidRequest("缴费明细为空 a posting needs at least one line")
    out: list[LineIn] = []
    seen: dict[str, int] = {}
    for no, ln in enumerate(lines, start=1):
        try:
            idn = ids.parse(ln.id_number).id_number
        except InvalidIdNumber as exc:
            raise InvalidIdNumber(f"第{no}行 line {no}: {exc}") from None
        if idn in seen:
            raise InvalidRequest(
                f"第{no}行与第{seen[idn]}行为同一人 line {no} repeats the person of line {seen[idn]} ({ids.mask(idn)})"
            )
        if ln.base < 0 or (ln.base == 0 and not ln.retiree):
            raise InvalidRequest(
                f"第{no}行缴费基数须大于0 line {no}: the contribution base must be positive (0 only for a retiree)"
            )
        seen[idn] = no
        out.append(LineIn(idn, ln.base, ln.retiree))
    return out


_PEOPLE = text("SELECT id_number, id, death_date FROM persons WHERE id_number = ANY(CAST(:ids AS text[]))")


async def _people(session: AsyncSession, lines: list[LineIn], month: date) -> dict[str, int]:
    """ID number → person id for every line in one query; the first unknown or deceased line is named."""
    rows = (await session.execute(_PEOPLE, {"ids": [ln.id_number for ln in lines]})).all()
    found = {r.id_number: int(r.id) for r in rows}
    missing = [no for no, ln in enumerate(lines, start=1) if ln.id_number not in found]
    if missing:
        first = lines[missing[0] - 1].id_number
        raise PersonNotFound(
            f"第{missing[0]}行参保人不存在 line {missing[0]}: no person with ID {ids.mask(first)}"
            + (f" ({len(missing)} lines in all: {', '.join(map(str, missing[:20]))})" if len(missing) > 1 else ""),
            lines=missing,
        )
    died = {r.id_number: r.death_date for r in rows if r.death_date is not None and r.death_date < month}
    for no, ln in enumerate(lines, start=1):
        if ln.id_number in died:
            raise InvalidRequest(
                f"第{no}行参保人已于{died[ln.id_number]}死亡 line {no}: the person died on "
                f"{died[ln.id_number]}, before {month_label(month)}"
            )
    return found


_INSERT_LINES = text(
    """
    INSERT INTO contribution_lines (posting_id, person_id, base, employer_part, employee_part, account_credit, retiree)
    SELECT :posting, * FROM unnest(CAST(:pids AS bigint[]), CAST(:bases AS bigint[]), CAST(:er AS bigint[]),
                                   CAST(:ee AS bigint[]), CAST(:acc AS bigint[]), CAST(:ret AS boolean[]))
    """
)

#: first month (as year*12 + month) of each person's unbroken run of contributed months that
#: contains :idx, over every employer's postings (gaps and islands: idx + rank is constant in a run)
_RUN_START = text(
    """
    WITH months AS (
        SELECT DISTINCT l.person_id,
               CAST(extract(year FROM p.month) * 12 + extract(month FROM p.month) AS integer) AS idx
        FROM contribution_lines l JOIN contribution_postings p ON p.id = l.posting_id
        WHERE l.person_id = ANY(CAST(:pids AS bigint[]))
    ), islands AS (
        SELECT person_id, idx, idx + row_number() OVER (PARTITION BY person_id ORDER BY idx DESC) AS grp
        FROM months
    )
    SELECT i.person_id, min(i.idx) AS first_idx FROM islands i
    JOIN islands cur ON cur.person_id = i.person_id AND cur.idx = :idx AND cur.grp = i.grp
    GROUP BY i.person_id
    """
)


async def _derive_enrolments(
    session: AsyncSession, month: date, lines: list[LineIn], people: dict[str, int], params: ContributionParams
) -> int:
    """Create or keep each person's employee enrolment of the month's year (resident rows untouched;
    ``yibao.enrolment`` merges it with what is there).

    Runs after the posting's lines are inserted, so the month itself is part of each person's run.
    """
    pids = [people[ln.id_number] for ln in lines]
    run_start: dict[int, date] = {}
    if params.waiting_months > 0:  # the run only matters when there is a waiting period
        found = await session.execute(_RUN_START, {"pids": pids, "idx": month.year * 12 + month.month})
        run_start = {int(pid): date((idx - 1) // 12, (idx - 1) % 12 + 1, 1) for pid, idx in found}
    rows: list[enrolment.Derived] = []
    for pid, ln in zip(pids, lines, strict=True):
        c = cov.employee_coverage(
            month=month, waiting_months=params.waiting_months, run_start=run_start.get(pid, month)
        )
        if c.start.year == month.year:  # a waiting period running past Dec 31 gives no coverage this year
            rows.append(enrolment.Derived(pid, c, ln.retiree))
    return await enrolment.upsert_derived(session, enrolment.EMPLOYER, month.year, rows)


async def lines_of(session: AsyncSession, posting_id: int) -> list[LineOut]:
    rows = await session.execute(
        select(ContributionLineRow, PersonRow.id_number)
        .join(PersonRow, PersonRow.id == ContributionLineRow.person_id)
        .where(ContributionLineRow.posting_id == posting_id)
        .order_by(ContributionLineRow.id)
    )
    return [LineOut(idn, r.base, r.employer_part, r.employee_part, r.account_credit, r.retiree) for r, idn in rows]


async def post_month(
    session: AsyncSession,
    employer: EmployerRow,
    month: date,
    lines: Sequence[LineIn],
    params: ContributionParams,
) -> Posted:
    """Post one employer-month (see the module docstring). Does not commit.

    The employer row is locked first, so two requests for the same employer serialise: the
    second sees the first's posting and replays or conflicts instead of racing on the unique key.
    """
    employer = await get(session, employer.code, lock=True)
    clean = _normalise(lines)
    digest = request_hash(month, clean)
    first = await session.scalar(
        select(ContributionPostingRow).where(
            ContributionPostingRow.employer_id == employer.id, ContributionPostingRow.month == month
        )
    )
    if first is not None:
        if first.request_hash != digest:
            raise IdempotencyConflict(
                f"单位 {employer.code} {month_label(month)} 已缴费入账且内容不同（更正请走更正流程） "
                f"{month_label(month)} is already posted for {employer.code} with other lines; "
                "corrections are a separate process"
            )
        return Posted(first, await lines_of(session, first.id), created=False, employer=employer)
    people = await _people(session, clean, month)
    computed: list[tuple[LineIn, Parts]] = [(ln, parts(ln.base, params)) for ln in clean]
    posting = ContributionPostingRow(
        employer_id=employer.id,
        month=month,
        request_hash=digest,
        employer_total=sum(p.employer_part for _, p in computed),
        employee_total=sum(p.employee_part for _, p in computed),
        account_total=sum(p.account_credit for _, p in computed),
        created_at=clock.now(),  # the business day of the income is the product's day, not the database's
    )
    try:
        async with session.begin_nested():
            session.add(posting)
            await session.flush()
    except IntegrityError:  # unreachable while the employer lock is held; kept as the last guard
        raise IdempotencyConflict(f"{month_label(month)} was posted concurrently; retry") from None
    await session.execute(
        _INSERT_LINES,
        {
            "posting": posting.id,
            "pids": [people[ln.id_number] for ln, _ in computed],
            "bases": [int(ln.base) for ln, _ in computed],
            "er": [int(p.employer_part) for _, p in computed],
            "ee": [int(p.employee_part) for _, p in computed],
            "acc": [int(p.account_credit) for _, p in computed],
            "ret": [ln.retiree for ln, _ in computed],
        },
    )
    await accounts.credit_many(
        session,
        [(people[ln.id_number], p.account_credit) for ln, p in computed if p.account_credit > 0],
        credit_reference(employer.code, month),
    )
    await _derive_enrolments(session, month, clean, people, params)
    await income.post_contribution(session, posting.id)  # pooled and personal-account parts
    out = [
        LineOut(ln.id_number, ln.base, p.employer_part, p.employee_part, p.account_credit, ln.retiree)
        for ln, p in computed
    ]
    return Posted(posting, out, created=True, employer=employer)


async def post_contributions(
    uow: UnitOfWork, actor: audit.Actor, refs: ReferenceData, raw_code: str, month_text: str, lines: Sequence[LineIn]
) -> Posted:
    """Post one employer-month (``month_text``: YYYY-MM) with the contribution rules of the
    employer's region and the month's year; a new posting is audited
    (``employer.contributions.posted``); committed either way."""
    s = uow.session
    employer = await get(s, raw_code)
    month = parse_month(month_text)
    posted = await post_month(s, employer, month, lines, refs.policy(employer.region, month.year).contributions)
    if posted.created:
        p = posted.posting
        detail = {
            "employer": posted.employer.code,
            "month": month_label(month),
            "lines": len(posted.lines),
            "employer_total": p.employer_total,
            "employee_total": p.employee_total,
            "account_total": p.account_total,
        }
        await audit.record(s, actor, "employer.contributions.posted", ("contribution_posting", str(p.id)), detail)
        await s.refresh(p)
    await uow.commit()
    return posted


async def list_page(
    session: AsyncSession, employer: EmployerRow, before: date | None, limit: int
) -> tuple[list[tuple[ContributionPostingRow, int]], date | None]:
    """Postings newest month first with their line counts (keyset on the month, unique per employer)."""
    counts = (
        select(func.count())
        .where(ContributionLineRow.posting_id == ContributionPostingRow.id)
        .correlate(ContributionPostingRow)
        .scalar_subquery()
    )
    stmt = select(ContributionPostingRow, counts).where(ContributionPostingRow.employer_id == employer.id)
    if before is not None:
        stmt = stmt.where(ContributionPostingRow.month < before)
    rows = list((await session.execute(stmt.order_by(ContributionPostingRow.month.desc()).limit(limit + 1))).all())
    page = [(r, int(n)) for r, n in rows[:limit]]
    return page, (page[-1][0].month if len(rows) > limit else None)
