"""The death registry feed (公安死亡信息比对): a file of deaths matched against the register.

One import is one inline job run (``death_registry``), idempotent on the SHA-256 of the file: the
same file again answers the first run and changes nothing. Every row is classified; only
``recorded`` rows change a person, and a row never overwrites a different recorded death date
(``conflicting_date``: a clerk corrects it with ``PATCH /persons/{id}`` and a reason). The rows
are matched in one query and recorded in one UPDATE; the deaths take effect at once like a
clerk's (later bills refused, bills already settled after them raised as ``claims_after_death``
suspects and listed per row). The run, the changes and the run's audit entry (listing every
person changed, with before and after, by column: ``people.import_changes``) commit together.

A person the register does not know stays ``unknown_person`` (reported, never registered): unlike
a group feed, whose file is one region's list, a death registry file has no region column, and a
person is registered in a pooling region (``POST /persons``); registering the dead would also
only add people to be ended at once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from yibao import audit, clock
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidIdNumber, InvalidRequest
from yibao.jobs import runner
from yibao.jobs.orm import JobRunRow
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import sweep
from yibao.people import id_number, import_changes

KIND = "death_registry"
#: the audit action of an import; its ``persons`` and ``changes`` name each person changed, by
#: column (``people.import_changes``; read by ``people.service.history``)
IMPORTED_ACTION = "persons.deaths_imported"
#: the rows of one file (a county's month is a few thousand; a province's year fits)
MAX_ROWS = 100_000
CSV_COLUMNS = ("id_number", "name", "death_date")
#: every class a row can get, in the order the result counts them
CLASSES = (
    "recorded",
    "already_recorded",
    "conflicting_date",
    "name_mismatch",
    "unknown_person",
    "date_in_future",
    "before_birth",
    "bad_id_number",
    "bad_date",
    "duplicate_in_file",
)
_LAST_DAY = date(9999, 12, 31)


@dataclass(frozen=True)
class DeathRow:
    id_number: str
    name: str
    death_date: str


@dataclass(frozen=True)
class Imported:
    run: JobRunRow
    created: bool


def sha256_of_rows(source: str, rows: list[DeathRow]) -> str:
    """The hash of a JSON batch: its canonical form, so the same list sent again is the same file."""
    body = json.dumps(
        {"source": source, "rows": [[r.id_number, r.name, r.death_date] for r in rows]},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def parse_csv(content: bytes) -> list[DeathRow]:
    """``id_number,name,death_date`` with a header line (UTF-8, a BOM allowed); a file that is
    not that is refused whole, a bad value in a row is classified, not refused."""
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("文件不是 UTF-8 编码 the file is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(decoded))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header[:3]) != CSV_COLUMNS:
        raise InvalidRequest(f"首行须为 the first line must be the header {','.join(CSV_COLUMNS)}")
    rows: list[DeathRow] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise InvalidRequest(f"文件超过 {MAX_ROWS} 行 the file has more than {MAX_ROWS} rows")
        cells = [*cells, "", "", ""][:3]
        rows.append(DeathRow(cells[0].strip(), cells[1].strip(), cells[2].strip()))
    return rows


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        return None


_MATCH = text(
    "SELECT id, id_number, name, birth_date, death_date FROM persons "
    "WHERE id_number = ANY(CAST(:ids AS text[])) ORDER BY id FOR UPDATE"
)
_RECORD = text(
    "UPDATE persons p SET death_date = v.d "
    "FROM unnest(CAST(:pids AS bigint[]), CAST(:days AS date[])) AS v(id, d) "
    "WHERE p.id = v.id AND p.death_date IS NULL"
)
_SETTLED_AFTER = text(
    "SELECT s.person_id, s.id::text AS settlement_id FROM settlements s "
    "JOIN persons p ON p.id = s.person_id "
    "WHERE s.person_id = ANY(CAST(:pids AS bigint[])) AND s.status = 'settled' "
    "AND p.death_date IS NOT NULL AND s.service_date > p.death_date "
    "ORDER BY s.service_date, s.id"
)


async def import_deaths(
    uow: UnitOfWork, actor: audit.Actor, source: str, rows: list[DeathRow], sha256: str
) -> Imported:
    """Classify and record one file of deaths (see the module); the same file again is the first run."""
    if not rows:
        raise InvalidRequest("文件没有数据行 the file has no rows")
    if len(rows) > MAX_ROWS:
        raise InvalidRequest(f"文件超过 {MAX_ROWS} 行 the file has more than {MAX_ROWS} rows")
    s = uow.session
    run, created = await runner.start_inline(
        s, actor, KIND, {"sha256": sha256, "source": source, "rows": len(rows)}, f"sha256:{sha256}", len(rows)
    )
    if not created:
        await uow.commit()
        return Imported(run, False)
    today = clock.today()
    out: list[dict[str, Any]] = []
    wanted: dict[str, tuple[int, date]] = {}  # ID → (index in out, death date) of the first valid row
    for n, row in enumerate(rows, start=1):
        item: dict[str, Any] = {"line": n, "id_number": id_number.mask(row.id_number), "death_date": row.death_date}
        out.append(item)
        try:
            idn = id_number.parse(row.id_number).id_number
        except InvalidIdNumber:
            item["class"] = "bad_id_number"
            continue
        item["id_number"] = id_number.mask(idn)
        day = _day(row.death_date)
        if day is None:
            item["class"] = "bad_date"
        elif day > today:
            item["class"] = "date_in_future"
        elif idn in wanted:
            item["class"] = "duplicate_in_file"
            item["first_line"] = wanted[idn][0] + 1
        else:
            wanted[idn] = (n - 1, day)
    matched = (await s.execute(_MATCH, {"ids": list(wanted)})).all()
    # by ID number as plain tuples: a Row's attribute costs ~1 µs a read, 100,000s of reads
    found = {idn: (pid, name, born, died) for pid, idn, name, born, died in matched}
    record: list[tuple[int, date, dict[str, Any]]] = []
    dead: list[int] = []  # recorded now or already recorded with this date: their bills are listed
    by_person: dict[int, dict[str, Any]] = {}
    for idn, (i, day) in wanted.items():
        item = out[i]
        person = found.get(idn)
        if person is None:
            item["class"] = "unknown_person"
            continue
        pid, name, born, died = person
        if day < born:
            item["class"] = "before_birth"
        elif rows[i].name and rows[i].name != name:
            item["class"] = "name_mismatch"
        elif died == day:
            item["class"] = "already_recorded"
            dead.append(pid)
            by_person[pid] = item
        elif died is not None:
            item["class"] = "conflicting_date"
            item["recorded_death_date"] = died.isoformat()
        else:
            item["class"] = "recorded"
            record.append((pid, day, item))
            dead.append(pid)
            by_person[pid] = item
    suspects = 0
    if record:
        await s.execute(_RECORD, {"pids": [p for p, _, _ in record], "days": [d for _, d, _ in record]})
        found_new = await sweep(
            s,
            await load_rules(s),
            min(d for _, d, _ in record) + timedelta(days=1),
            _LAST_DAY,
            persons=[p for p, _, _ in record],
            only=["claims_after_death"],
        )
        suspects = found_new.get("claims_after_death", 0)
    if dead:
        for pid, sid in (await s.execute(_SETTLED_AFTER, {"pids": dead})).all():
            by_person[pid].setdefault("settled_after_death", []).append(sid)
    counts = Counter(item["class"] for item in out)
    result: dict[str, Any] = {
        "source": source,
        "counts": {c: counts.get(c, 0) for c in CLASSES},
        "suspects_raised": suspects,
        "rows": out,
    }
    await runner.finish_inline(s, run, len(rows), result)
    # one audit entry for the run names every person it changed with before and after, by
    # column (a person's history shows their part of it): an entry per person would cost a
    # chained write each
    changed = import_changes.action(
        [pid for pid, _, _ in record],
        before={"death_date": None},
        after={"death_date": [day.isoformat() for _, day, _ in record]},
        reason=f"死亡信息比对 death registry {source}",
    )
    await audit.record(
        s,
        actor,
        IMPORTED_ACTION,
        ("job_run", str(run.id)),
        {"sha256": sha256, "counts": result["counts"], **import_changes.entry({"person.changed": changed})},
    )
    await uow.commit()
    return Imported(run, True)


def classification_csv(result: dict[str, Any]) -> str:
    """The rows of a finished import as CSV for the clerk (IDs masked, as in the job's result)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["line", "id_number", "death_date", "class", "recorded_death_date", "settled_after_death"])
    for item in result.get("rows", []):
        w.writerow(
            [
                item["line"],
                item["id_number"],
                item["death_date"],
                item["class"],
                item.get("recorded_death_date", ""),
                " ".join(item.get("settled_after_death", [])),
            ]
        )
    return buf.getvalue()
