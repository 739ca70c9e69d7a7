"""People: register, tag special groups, and the one writer of cross-region filings and family
bindings, whoever starts them.

Staff actions are use cases (audited, committed). A filing or a binding a member asks for in the
app goes through the same steps (``file``, ``approve_filing``, ``bind``): a filing staff make is
approved at once, a member's temporary one too, a member's long-term one waits for a clerk; a
binding staff make exists at once, a member's after the relative confirms it.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.audit.orm import AuditRow
from yibao.bill_settlement.orm import SettlementRow
from yibao.db.helpers import add_unique
from yibao.db.uow import UnitOfWork
from yibao.enrolment.orm import EnrolmentRow
from yibao.errors import Duplicate, InvalidIdNumber, InvalidRequest, NotFound, UnknownGroup, UnknownRegion
from yibao.jobs import runner as jobs
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import sweep
from yibao.people import deaths, group_feed, id_number, import_changes
from yibao.people.orm import FamilyBindingRow, FilingRow, PersonGroupRow, PersonRow
from yibao.people.repository import NewPerson, check_born, get_by_id_number, insert_persons
from yibao.policy.repository import groups_of, is_pooling_region

RELATIONS = ("spouse", "parent", "child")
#: a filing up to this many days is "temporary" (approved at once); longer ones wait for a clerk
TEMPORARY_FILING_DAYS = 180


async def get(session: AsyncSession, raw_id: str) -> PersonRow:
    """The person for an ID; a malformed ID is ``INVALID_ID_NUMBER``, an unknown one 404."""
    return await get_by_id_number(session, raw_id)


async def _audit(uow: UnitOfWork, actor: audit.Actor, action: str, person_id: int, detail: dict[str, object]) -> None:
    """People are named by internal id in the audit log, never by ID number."""
    await audit.record(uow.session, actor, action, ("person", str(person_id)), detail)


async def register(
    uow: UnitOfWork, actor: audit.Actor, raw_id: str, name: str, region: str, death_date: date | None
) -> PersonRow:
    """Validates the GB 11643 checksum and derives birth date and gender from the (normalised) ID.

    Refuses what cannot be: a birth date (from the ID) or a death date after today (China time),
    a death before the birth, and a region that is no pooling region of the reference data."""
    parsed = id_number.parse(raw_id)
    today = clock.today()
    check_born(parsed, today)
    if death_date is not None and death_date > today:
        raise InvalidRequest(
            f"死亡日期 {death_date} 晚于今天 death_date {death_date} is in the future (today is {today})"
        )
    if death_date is not None and death_date < parsed.birth_date:
        raise InvalidRequest("死亡日期早于出生日期 death_date is before the birth date")
    if not await is_pooling_region(uow.session, region):
        raise UnknownRegion(f"统筹区 {region} 不存在 {region} is no pooling region of the reference data")
    inserted = await insert_persons(uow.session, [NewPerson(parsed, name, region, death_date)])
    if not inserted:
        raise Duplicate(f"person {id_number.mask(parsed.id_number)} already exists")
    person = await uow.session.get(PersonRow, inserted[parsed.id_number])
    assert person is not None
    await _audit(uow, actor, "person.registered", person.id, {"region": region})
    await uow.commit()
    return person


async def check_group(session: AsyncSession, region: str, year: int, group: str) -> None:
    """A group code must be a group of the region's policy for the year (DOMAIN §8)."""
    groups = await groups_of(session, region, year)
    if group not in groups:
        valid = ", ".join(f"{c} {g.name}" for c, g in sorted(groups.items()))
        raise UnknownGroup(
            f"特殊人群类别 {group!r} 不在 {region} {year} 年度政策中 unknown group {group!r} for {region} {year}; "
            f"one of: {valid}"
        )


async def tag_group(
    uow: UnitOfWork, actor: audit.Actor, raw_id: str, group: str, valid_from: date, valid_to: date | None
) -> PersonGroupRow:
    if valid_to is not None and valid_to < valid_from:
        raise InvalidRequest("valid_to is before valid_from")
    person = await get_by_id_number(uow.session, raw_id)
    await check_group(uow.session, person.region, valid_from.year, group)
    row = PersonGroupRow(person_id=person.id, group=group, valid_from=valid_from, valid_to=valid_to)
    row = await add_unique(uow.session, row, f"group {group} from {valid_from}")
    await _audit(
        uow, actor, "person.group_tagged", row.person_id, {"group": row.group, "valid_from": str(row.valid_from)}
    )
    await uow.commit()
    return row


async def groups_held(session: AsyncSession, raw_id: str) -> tuple[PersonRow, list[PersonGroupRow]]:
    """Every group tag of the person, ended ones included, oldest first."""
    person = await get_by_id_number(session, raw_id)
    rows = await session.scalars(
        select(PersonGroupRow)
        .where(PersonGroupRow.person_id == person.id)
        .order_by(PersonGroupRow.valid_from, PersonGroupRow.id)
    )
    return person, list(rows)


async def end_group(
    uow: UnitOfWork, actor: audit.Actor, raw_id: str, tag_id: int, valid_to: date
) -> tuple[PersonRow, PersonGroupRow]:
    """End a group tag (核减) on ``valid_to`` (or move its end), audited with before and after.

    Subsidies already booked stay; the next quote and every bill dated after it read the tag as
    ended."""
    person = await get_by_id_number(uow.session, raw_id)
    row = await uow.session.scalar(
        select(PersonGroupRow)
        .where(PersonGroupRow.id == tag_id, PersonGroupRow.person_id == person.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(f"该参保人没有编号为 {tag_id} 的人群标识 the person has no group tag {tag_id}")
    if valid_to < row.valid_from:
        raise InvalidRequest(f"valid_to {valid_to} is before the tag's valid_from {row.valid_from}")
    before = row.valid_to
    if before != valid_to:
        await uow.session.execute(update(PersonGroupRow).where(PersonGroupRow.id == row.id).values(valid_to=valid_to))
        row.valid_to = valid_to
        await _audit(
            uow,
            actor,
            "person.group_ended",
            person.id,
            {
                "tag": row.id,
                "group": row.group,
                "before": {"valid_to": _wire(before)},
                "after": {"valid_to": valid_to.isoformat()},
            },
        )
    await uow.commit()
    return person, row


# ---------------------------------------------------------------- changes to a person (一人一档)

#: the post-settlement model a death recorded late feeds at once (DOMAIN §8)
CLAIMS_AFTER_DEATH = "claims_after_death"
#: the end of the range a late death sweeps: every bill dated after the death
_LAST_DAY = date(9999, 12, 31)


@dataclass(frozen=True)
class SettledAfterDeath:
    """A bill settled for a service date after the person's (now known) death date."""

    settlement_id: str
    institution_code: str
    service_date: date


@dataclass(frozen=True)
class PersonChange:
    person: PersonRow
    #: field → (before, after), only the fields that changed
    changes: dict[str, tuple[Any, Any]]
    #: bills already settled for a service date after the death date (empty without one)
    settled_after_death: list[SettledAfterDeath]
    #: ``claims_after_death`` suspects this change raised at once (0 when none, or already raised)
    suspects_raised: int


def _wire(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _check_death(person: PersonRow, death_date: date) -> None:
    today = clock.today()
    if death_date > today:
        raise InvalidRequest(
            f"死亡日期 {death_date} 晚于今天 death_date {death_date} is in the future (today is {today})"
        )
    if death_date < person.birth_date:
        raise InvalidRequest(
            f"死亡日期 {death_date} 早于出生日期 {person.birth_date} "
            f"death_date {death_date} is before the birth date {person.birth_date}"
        )


async def settled_after_death(session: AsyncSession, person_id: int, death_date: date) -> list[SettledAfterDeath]:
    """Bills settled (not cancelled) for a service date after the death date, oldest first."""
    rows = await session.execute(
        select(SettlementRow.id, SettlementRow.institution_code, SettlementRow.service_date)
        .where(
            SettlementRow.person_id == person_id,
            SettlementRow.status == "settled",
            SettlementRow.service_date > death_date,
        )
        .order_by(SettlementRow.service_date, SettlementRow.id)
    )
    return [SettledAfterDeath(str(i), str(c), d) for i, c, d in rows.all()]


async def _raise_suspects(session: AsyncSession, person_id: int, death_date: date) -> int:
    """Run the ``claims_after_death`` model for this one person now, not at the nightly sweep
    (idempotent: a suspect already raised for a bill is not raised twice)."""
    rules = await load_rules(session)
    found = await sweep(
        session, rules, death_date + timedelta(days=1), _LAST_DAY, persons=[person_id], only=[CLAIMS_AFTER_DEATH]
    )
    return found.get(CLAIMS_AFTER_DEATH, 0)


async def change(
    uow: UnitOfWork,
    actor: audit.Actor,
    raw_id: str,
    *,
    name: str | None = None,
    region: str | None = None,
    death_date_given: bool = False,
    death_date: date | None = None,
    reason: str | None = None,
) -> PersonChange:
    """A clerk changes a person's name, region or death date (set, correct, or clear), audited
    with every field's before and after.

    A death date set or moved earlier takes effect at once, wherever it is read: later bills are
    refused ``PERSON_DECEASED``, member tokens and codes stop, premiums for later years are
    refused, and bills already settled after it become ``claims_after_death`` suspects in the
    same transaction. Correcting or clearing a recorded death date needs a ``reason``."""
    if name is None and region is None and not death_date_given:
        raise InvalidRequest("没有要修改的内容 nothing to change: give name, region or death_date")
    found = await get_by_id_number(uow.session, raw_id)
    # the row locked (and re-read): two clerks changing one person queue, none overwrites unseen
    person = await uow.session.scalar(
        select(PersonRow).where(PersonRow.id == found.id).with_for_update().execution_options(populate_existing=True)
    )
    assert person is not None
    if region is not None and not await is_pooling_region(uow.session, region):
        raise UnknownRegion(f"统筹区 {region} 不存在 {region} is no pooling region of the reference data")
    if death_date_given:
        if death_date is not None:
            _check_death(person, death_date)
        if person.death_date is not None and death_date != person.death_date and not reason:
            raise InvalidRequest(
                "更正或撤销已登记的死亡日期须说明原因 correcting or clearing a recorded death date needs a reason"
            )
    wanted: dict[str, Any] = {}
    if name is not None:
        wanted["name"] = name
    if region is not None:
        wanted["region"] = region
    if death_date_given:
        wanted["death_date"] = death_date
    changes = {k: (getattr(person, k), v) for k, v in wanted.items() if getattr(person, k) != v}
    before_death = person.death_date
    if changes:
        await uow.session.execute(
            update(PersonRow).where(PersonRow.id == person.id).values({k: after for k, (_, after) in changes.items()})
        )
        for k, (_, after) in changes.items():
            setattr(person, k, after)
        await _audit(
            uow,
            actor,
            "person.changed",
            person.id,
            {
                "before": {k: _wire(b) for k, (b, _) in changes.items()},
                "after": {k: _wire(a) for k, (_, a) in changes.items()},
                "reason": reason,
            },
        )
    raised = 0
    after_death: list[SettledAfterDeath] = []
    if person.death_date is not None:
        if before_death is None or person.death_date < before_death:
            raised = await _raise_suspects(uow.session, person.id, person.death_date)
        after_death = await settled_after_death(uow.session, person.id, person.death_date)
    await uow.commit()
    return PersonChange(person, changes, after_death, raised)


@dataclass(frozen=True)
class HistoryEntry:
    at: Any
    actor: str
    action: str
    detail: dict[str, Any]


async def history(session: AsyncSession, raw_id: str) -> tuple[PersonRow, list[HistoryEntry]]:
    """Every audited action on the person (registration, groups, changes), oldest first,
    including their part of a register import (the import's entry lists each person it changed,
    by column or, in entries written before, an object per person: ``people.import_changes``)."""
    person = await get_by_id_number(session, raw_id)
    rows = await session.scalars(
        select(AuditRow)
        .where(
            or_(
                and_(AuditRow.subject_type == "person", AuditRow.subject_id == str(person.id)),
                and_(
                    AuditRow.action.in_((deaths.IMPORTED_ACTION, group_feed.IMPORTED_ACTION)),
                    or_(*(AuditRow.detail.contains(pattern) for pattern in import_changes.mentions(person.id))),
                ),
            )
        )
        .order_by(AuditRow.id)
    )
    out: list[HistoryEntry] = []
    for r in rows:
        actor = f"{r.actor_kind}:{r.actor}"
        if r.subject_type == "person":
            out.append(HistoryEntry(r.at, actor, r.action, r.detail))
            continue
        for action, detail in import_changes.person_changes(r.detail, person.id):
            out.append(HistoryEntry(r.at, actor, action, {**detail, "job_run": r.subject_id}))
    return person, out


async def import_rows_csv(session: AsyncSession, run_id: str) -> str:
    """The per-row classification of a finished register import (deaths or a group feed), as CSV."""
    run = await jobs.get(session, run_id)
    if run.result is None or run.kind not in (deaths.KIND, group_feed.KIND):
        raise NotFound(f"导入 {run_id} 不存在或未完成 no finished register import {run_id}")
    if run.kind == deaths.KIND:
        return deaths.classification_csv(run.result)
    return group_feed.classification_csv(run.result)


# ---------------------------------------------------------------- staff search

#: an ID number as a clerk may type it: whole, a prefix, or masked (``4305221990******35``)
_ID_QUERY = re.compile(r"(?P<head>[^*]+)(?:\*+(?P<tail>[^*]{0,4}))?")
_ID_HEAD = re.compile(r"\d{1,17}[\dX]?")
_ID_TAIL = re.compile(r"\d{0,3}[\dX]?")


def _id_query(q: str) -> tuple[str, str] | None:
    """(prefix, suffix) when ``q`` is an ID number, a prefix of one, or a masked one; else None."""
    m = _ID_QUERY.fullmatch(q)
    if m is None:
        return None
    try:
        head, tail = id_number.normalise(m.group("head")), id_number.normalise(m.group("tail") or "")
    except InvalidIdNumber:
        return None
    if not _ID_HEAD.fullmatch(head) or not _ID_TAIL.fullmatch(tail):
        return None
    return head, tail


@dataclass(frozen=True)
class Found:
    person: PersonRow
    groups: list[str]  # held today


def _like(text_: str) -> str:
    return "%" + text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _search_cursor(person_id: int) -> str:
    return base64.urlsafe_b64encode(str(person_id).encode()).decode()


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("cursor is not one this API returned") from None
    if not 0 <= value < 2**63:
        raise InvalidRequest("cursor is not one this API returned")
    return value


async def search(
    session: AsyncSession,
    *,
    q: str | None = None,
    name: str | None = None,
    region: str | None = None,
    group: str | None = None,
    enrolled_in: int | None = None,
    deceased: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Found], str | None]:
    """People matching every filter given, by internal id (keyset pages).

    ``q`` is an ID number (whole, a prefix, or masked as answers show it: ``4305221990******35``)
    or else part of a name; ``group`` is a group held today; ``enrolled_in`` a year enrolled."""
    stmt = select(PersonRow).where(PersonRow.id > _after(cursor))
    if q:
        q = q.strip()
        parts = _id_query(q)
        if parts is not None:
            head, tail = parts
            stmt = stmt.where(PersonRow.id_number.startswith(head, autoescape=True))
            if tail:
                stmt = stmt.where(PersonRow.id_number.endswith(tail, autoescape=True))
        else:
            stmt = stmt.where(PersonRow.name.ilike(_like(q), escape="\\"))
    if name:
        stmt = stmt.where(PersonRow.name.ilike(_like(name.strip()), escape="\\"))
    if region:
        stmt = stmt.where(PersonRow.region == region)
    today = clock.today()
    held_today = (PersonGroupRow.valid_from <= today) & (
        PersonGroupRow.valid_to.is_(None) | (PersonGroupRow.valid_to >= today)
    )
    if group:
        stmt = stmt.where(
            select(PersonGroupRow.id)
            .where(PersonGroupRow.person_id == PersonRow.id, PersonGroupRow.group == group, held_today)
            .exists()
        )
    if enrolled_in is not None:
        stmt = stmt.where(
            select(EnrolmentRow.id)
            .where(EnrolmentRow.person_id == PersonRow.id, EnrolmentRow.year == enrolled_in)
            .exists()
        )
    if deceased is not None:
        stmt = stmt.where(PersonRow.death_date.isnot(None) if deceased else PersonRow.death_date.is_(None))
    people = list(await session.scalars(stmt.order_by(PersonRow.id).limit(limit + 1)))
    page = people[:limit]
    held: dict[int, list[str]] = {p.id: [] for p in page}
    if page:
        rows = await session.execute(
            select(PersonGroupRow.person_id, PersonGroupRow.group)
            .where(PersonGroupRow.person_id.in_(held), held_today)
            .order_by(PersonGroupRow.group)
        )
        for pid, g in rows.all():
            if g not in held[pid]:
                held[pid].append(g)
    nxt = _search_cursor(page[-1].id) if len(people) > limit else None
    return [Found(p, held[p.id]) for p in page], nxt


# ---------------------------------------------------------------- cross-region filings


def filing_kind(valid_from: date, valid_to: date | None) -> str:
    """Temporary (≤ 180 days, e.g. a trip or a referral) or long-term (resident elsewhere)."""
    if valid_to is not None and (valid_to - valid_from).days <= TEMPORARY_FILING_DAYS:
        return "temporary"
    return "long_term"


def _check_dates(valid_from: date, valid_to: date | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise InvalidRequest("valid_to is before valid_from")


async def file(
    session: AsyncSession, person: PersonRow, to_region: str, valid_from: date, valid_to: date | None, *, by_staff: bool
) -> FilingRow:
    """File a cross-region registration, a step of the caller's transaction: staff filings and a
    member's temporary ones are approved at once, a member's long-term one waits (``pending``)."""
    _check_dates(valid_from, valid_to)
    if to_region == person.region:
        raise InvalidRequest("a filing is for another region than the person's own")
    approved = by_staff or filing_kind(valid_from, valid_to) == "temporary"
    row = FilingRow(
        person_id=person.id,
        to_region=to_region,
        valid_from=valid_from,
        valid_to=valid_to,
        status="approved" if approved else "pending",
    )
    return await add_unique(session, row, f"filing to {to_region} from {valid_from}")


async def approve_filing(session: AsyncSession, filing_id: int) -> FilingRow:
    """A clerk approves a pending (long-term) filing, a step of the caller's transaction."""
    row = await session.scalar(select(FilingRow).where(FilingRow.id == filing_id).with_for_update())
    if row is None or row.status != "pending":
        raise NotFound("待审备案不存在 no pending filing with this id")
    await session.execute(update(FilingRow).where(FilingRow.id == filing_id).values(status="approved"))
    row.status = "approved"
    return row


async def file_cross_region(
    uow: UnitOfWork, actor: audit.Actor, raw_id: str, to_region: str, valid_from: date, valid_to: date | None
) -> tuple[PersonRow, FilingRow]:
    """Staff file for a person (approved at once)."""
    _check_dates(valid_from, valid_to)
    person = await get_by_id_number(uow.session, raw_id)
    row = await file(uow.session, person, to_region, valid_from, valid_to, by_staff=True)
    await _audit(uow, actor, "filing.created", person.id, {"to_region": row.to_region, "status": row.status})
    await uow.commit()
    return person, row


# ---------------------------------------------------------------- family bindings


def _check_relation(relation: str) -> None:
    if relation not in RELATIONS:
        raise InvalidRequest(f"relation must be one of {', '.join(RELATIONS)}")


async def bind(session: AsyncSession, holder_id: int, relative_id: int, relation: str) -> FamilyBindingRow:
    """Bind a relative to a holder's account (family sharing), a step of the caller's transaction."""
    _check_relation(relation)
    if holder_id == relative_id:
        raise InvalidRequest("a person cannot bind themselves")
    row = FamilyBindingRow(holder_person_id=holder_id, relative_person_id=relative_id, relation=relation)
    return await add_unique(session, row, "family binding")


async def bind_family(
    uow: UnitOfWork, actor: audit.Actor, holder_raw_id: str, relative_raw_id: str, relation: str
) -> tuple[PersonRow, PersonRow, FamilyBindingRow]:
    """Staff bind a relative at once (the holder's audit entry names the relative)."""
    _check_relation(relation)
    holder = await get_by_id_number(uow.session, holder_raw_id)
    relative = await get_by_id_number(uow.session, relative_raw_id)
    row = await bind(uow.session, holder.id, relative.id, relation)
    await _audit(uow, actor, "family.bound", holder.id, {"relative": relative.id, "relation": row.relation})
    await uow.commit()
    return holder, relative, row


async def id_numbers(session: AsyncSession, person_ids: set[int]) -> dict[int, str]:
    """Person id → ID number, for answers that name people."""
    rows = await session.execute(select(PersonRow.id, PersonRow.id_number).where(PersonRow.id.in_(person_ids)))
    return {int(i): str(n) for i, n in rows.all()}
