"""Working days: Monday to Friday, less public holidays, plus make-up working days (调休).

The calendar is data (``data/reference/holidays.csv``: date, kind = holiday | workday, name),
read once per process; a new year's calendar is a new file version, not a deploy."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from yibao.config import REPO_ROOT

CALENDAR = REPO_ROOT / "data" / "reference" / "holidays.csv"


@cache
def _calendar(path: Path = CALENDAR) -> tuple[frozenset[date], frozenset[date]]:
    holidays: set[date] = set()
    workdays: set[date] = set()
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            day = date.fromisoformat(row["date"])
            if row["kind"] == "holiday":
                holidays.add(day)
            elif row["kind"] == "workday":
                workdays.add(day)
            else:
                raise ValueError(f"{path}: kind must be holiday or workday, not {row['kind']!r}")
    return frozenset(holidays), frozenset(workdays)


def is_working_day(day: date) -> bool:
    holidays, workdays = _calendar()
    if day in workdays:
        return True
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (the day of receipt does not count)."""
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day
