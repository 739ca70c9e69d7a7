"""A special-group feed (民政 低保/特困, 乡村振兴 防返贫监测, 残联 …): the full list of one group in
one region on the feed date (DOMAIN §8).

People in the file who do not hold the group on the feed date get a tag from the row's
``valid_from``; tags of that group, held on the feed date by people of the region who are not in
the file, end on the feed date (核减); everyone else is left alone. A person not registered yet
is registered in the feed's region and tagged (``created``: birth date and gender from the ID
number, as ``POST /persons`` does) when the row carries a valid ID number and a name; without a
name the row is only reported (``unknown_person``). One import is one inline job
run (``group_feed``), idempotent on the SHA-256 of the file (with its group, region and date):
the same file again answers the first run and changes nothing, and a file with the same people
changes nothing either. Rows are matched in one query, people registered in one INSERT, tags
added in one INSERT and ended in one UPDATE; every row is classified, the run's one audit entry
lists every person registered (``person.registered``) or changed, with before and after, by
column (``people.import_changes``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Row, text

from yibao import audit, clock
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidIdNumber, InvalidRequest, UnknownGroup
from yibao.jobs import runner
from yibao.people import id_number, import_changes
from yibao.people.deaths import MAX_ROWS, Imported
from yibao.people.repository import NewPerson, check_born, insert_persons
from yibao.policy.repository import groups_of, is_pooling_region

KIND = "group_feed"
#: the audit action of a feed; its ``persons`` and ``changes`` name each person changed, by
#: column (``people.import_changes``; read by ``people.service.history``)
IMPORTED_ACTION = "persons.group_feed_imported"
CSV_COLUMNS = ("id_number", "name", "group", "valid_from")
#: the longest name a person is registered with (``persons.name``); a longer one is only reported
NAME_MAX = 100
CLASSES = (
    "added",
    "created",
    "unchanged",
    "ended",
    "name_mismatch",
    "unknown_person",
    "other_region",
    "deceased",
    "unknown_group",
    "date_in_future",
    "bad_id_number",
    "bad_date",
    "duplicate_in_file",
)


@dataclass(frozen=True)
class GroupRow:
    id_number: str
    name: str
    group: str
    valid_from: str
    valid_to: str


def parse_csv(content: bytes) -> list[GroupRow]:
    """``id_number,name,group,valid_from[,valid_to]`` with a header line (UTF-8, a BOM allowed)."""
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("文件不是 UTF-8 编码 the file is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(decoded))
    header = [h.strip() for h in next(reader, [])]
    if tuple(header[:4]) != CSV_COLUMNS or header[4:] not in ([], ["valid_to"]):
        raise InvalidRequest(f"首行须为 the first line must be the header {','.join(CSV_COLUMNS)}[,valid_to]")
    rows: list[GroupRow] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise InvalidRequest(f"文件超过 {MAX_ROWS} 行 the file has more than {MAX_ROWS} rows")
        c = [x.strip() for x in [*cells, "", "", "", "", ""][:5]]
        rows.append(GroupRow(c[0], c[1], c[2], c[3], c[4]))
    if not rows:
        raise InvalidRequest("文件没有数据行 the file has no rows")
    return rows


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        return None


_MATCH = text(
    "SELECT p.id, p.id_number, p.name, p.region, p.death_date, "
    'EXISTS (SELECT 1 FROM person_groups g WHERE g.person_id = p.id AND g."group" = :g '
    "        AND g.valid_from <= :d AND (g.valid_to IS NULL OR g.valid_to >= :d)) AS holds "
    "FROM persons p WHERE p.id_number = ANY(CAST(:ids AS text[])) ORDER BY p.id FOR UPDATE OF p"
)
#: a tag ended earlier with the same start is opened again (the unique key is person, group, start)
_ADD = text(
    'INSERT INTO person_groups (person_id, "group", valid_from, valid_to) '
    "SELECT v.pid, :g, v.f, v.t FROM unnest(CAST(:pids AS bigint[]), CAST(:froms AS date[]), "
    "CAST(:tos AS date[])) AS v(pid, f, t) "
    'ON CONFLICT (person_id, "group", valid_from) DO UPDATE SET valid_to = EXCLUDED.valid_to '
    "RETURNING id, person_id"
)
#: the tags to end: held on the date by people of the region not in the file (a hash anti-join
#: against the kept ids; ``before`` is the tag as it was)
_END = text(
    "WITH keep AS MATERIALIZED (SELECT unnest(CAST(:keep AS bigint[])) AS id), "
    "gone AS MATERIALIZED ("
    "  SELECT g.id, g.valid_to AS before, p.id_number FROM person_groups g JOIN persons p ON p.id = g.person_id "
    '  WHERE p.region = :region AND g."group" = :g AND g.valid_from <= :d '
    "    AND (g.valid_to IS NULL OR g.valid_to > :d) "
    "    AND NOT EXISTS (SELECT 1 FROM keep WHERE keep.id = g.person_id)) "
    "UPDATE person_groups u SET valid_to = :d FROM gone WHERE u.id = gone.id "
    "RETURNING u.id, u.person_id, gone.id_number, gone.before"
)


def _tagged(add: list[tuple[int, date, date | None, Any]], tags: dict[int, int], group: str) -> dict[str, Any]:
    """The tags added, for the run's audit entry (by column: ``people.import_changes``)."""
    return import_changes.action(
        [pid for pid, _, _, _ in add],
        tag=[tags[pid] for pid, _, _, _ in add],
        group=group,
        valid_from=[str(start) for _, start, _, _ in add],
        valid_to=[str(end) if end else None for _, _, end, _ in add],
    )


#: a tag ended: its id, the person, their ID number, its end before
_Ended = Row[int, int, str, date | None]


def _ended(ended: Sequence[_Ended], group: str, feed_date: date) -> dict[str, Any]:
    """The tags ended, with their end before and after, for the run's audit entry."""
    return import_changes.action(
        [pid for _, pid, _, _ in ended],
        tag=[tag_id for tag_id, _, _, _ in ended],
        group=group,
        before={"valid_to": [str(before) if before else None for _, _, _, before in ended]},
        after={"valid_to": str(feed_date)},
    )


async def import_feed(
    uow: UnitOfWork,
    actor: audit.Actor,
    *,
    source: str,
    group: str,
    region: str,
    feed_date: date,
    rows: list[GroupRow],
    sha256: str,
) -> Imported:
    """Classify and apply one group feed (see the module); the same file again is the first run."""
    s = uow.session
    today = clock.today()
    if feed_date > today:
        raise InvalidRequest(f"feed_date {feed_date} is in the future (today is {today})")
    if not await is_pooling_region(s, region):
        raise InvalidRequest(f"统筹区 {region} 不存在 {region} is no pooling region of the reference data")
    groups = await groups_of(s, region, feed_date.year)
    if group not in groups:
        valid = ", ".join(f"{c} {g.name}" for c, g in sorted(groups.items()))
        raise UnknownGroup(f"unknown group {group!r} for {region} {feed_date.year}; one of: {valid}")
    params = {"sha256": sha256, "source": source, "group": group, "region": region, "feed_date": str(feed_date)}
    run, created = await runner.start_inline(
        s, actor, KIND, params, f"sha256:{sha256}:{group}:{region}:{feed_date}", len(rows)
    )
    if not created:
        await uow.commit()
        return Imported(run, False)
    out: list[dict[str, Any]] = []
    wanted: dict[str, tuple[int, date, date | None]] = {}
    parsed: dict[str, id_number.ParsedId] = {}
    for n, row in enumerate(rows, start=1):
        item: dict[str, Any] = {
            "line": n,
            "id_number": id_number.mask(row.id_number),
            "group": row.group,
            "valid_from": row.valid_from,
        }
        out.append(item)
        try:
            parsed_id = id_number.parse(row.id_number)
        except InvalidIdNumber:
            item["class"] = "bad_id_number"
            continue
        idn = parsed_id.id_number
        item["id_number"] = id_number.mask(idn)
        start, end = _day(row.valid_from), _day(row.valid_to) if row.valid_to else None
        if row.group != group:
            item["class"] = "unknown_group"
        elif start is None or (row.valid_to and end is None) or (end is not None and end < start):
            item["class"] = "bad_date"
        elif start > today:
            item["class"] = "date_in_future"
        elif idn in wanted:
            item["class"] = "duplicate_in_file"
            item["first_line"] = wanted[idn][0] + 1
        else:
            wanted[idn] = (n - 1, start, end)
            parsed[idn] = parsed_id
    matched = (await s.execute(_MATCH, {"ids": list(wanted), "g": group, "d": feed_date})).all()  # one fetch
    # by ID number as plain tuples: a Row's attribute costs ~1 µs a read, 100,000s of reads
    found = {idn: (pid, name, home, died, holds) for pid, idn, name, home, died, holds in matched}
    keep: list[int] = []  # people of the region in the file: their tags are not ended
    add: list[tuple[int, date, date | None, dict[str, Any]]] = []
    new: list[tuple[NewPerson, date, date | None, dict[str, Any]]] = []  # to register, then tag
    for idn, (i, start, end) in wanted.items():
        item, person = out[i], found.get(idn)
        if person is None:
            item["class"] = "unknown_person"  # reported, unless the row is enough to register them
            if rows[i].name and len(rows[i].name) <= NAME_MAX:
                try:
                    check_born(parsed[idn], today)
                except InvalidIdNumber:
                    item["class"] = "bad_id_number"
                    continue
                new.append((NewPerson(parsed[idn], rows[i].name, region), start, end, item))
            continue
        pid, name, home, died, holds = person
        if home == region:
            keep.append(pid)
        if home != region:
            item["class"] = "other_region"
        elif rows[i].name and rows[i].name != name:
            item["class"] = "name_mismatch"
        elif died is not None:
            item["class"] = "deceased"
        elif holds:
            item["class"] = "unchanged"
        else:
            item["class"] = "added"
            add.append((pid, start, end, item))
    registered = await insert_persons(s, [n[0] for n in new])
    registered_now: list[int] = []  # the run's audit entry names them
    for person_new, start, end, item in new:
        pid = registered.get(person_new.parsed.id_number)
        if pid is None:  # registered meanwhile by someone else: reported, as before
            continue
        item["class"] = "created"
        keep.append(pid)
        add.append((pid, start, end, item))
        registered_now.append(pid)
    tags: dict[int, int] = {}
    if add:
        params_add = {
            "g": group,
            "pids": [a[0] for a in add],
            "froms": [a[1] for a in add],
            "tos": [a[2] for a in add],
        }
        tags = {int(pid): int(tid) for tid, pid in (await s.execute(_ADD, params_add)).all()}
        for pid, _, _, item in add:
            item["tag_id"] = tags[pid]
    ended = (await s.execute(_END, {"d": feed_date, "region": region, "g": group, "keep": keep})).all()
    for tag_id, _, idn, _ in ended:
        out.append({"line": None, "id_number": id_number.mask(idn), "group": group, "class": "ended", "tag_id": tag_id})
    counts = Counter(item["class"] for item in out)
    result: dict[str, Any] = {**params, "counts": {c: counts.get(c, 0) for c in CLASSES}, "rows": out}
    await runner.finish_inline(s, run, len(rows), result)
    changes = import_changes.entry(
        {
            "person.registered": import_changes.action(registered_now, region=region),
            "person.group_tagged": _tagged(add, tags, group),
            "person.group_ended": _ended(ended, group, feed_date),
        }
    )
    await audit.record(s, actor, IMPORTED_ACTION, ("job_run", str(run.id)), {"counts": result["counts"], **changes})
    await uow.commit()
    return Imported(run, True)


def classification_csv(result: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["line", "id_number", "group", "valid_from", "class", "tag_id"])
    for item in result.get("rows", []):
        w.writerow(
            [
                item["line"] if item["line"] is not None else "",
                item["id_number"],
                item["group"],
                item.get("valid_from", ""),
                item["class"],
                item.get("tag_id", ""),
            ]
        )
    return buf.getvalue()
