"""one spelling per ID number: normalise stored ID numbers, refuse to go on over duplicates

Until this revision an ID number was stored as typed (upper-cased): the fullwidth
``４３０５２２…`` or the Arabic-Indic spelling of a registered number registered a second
person. The application now normalises every ID before any check or storage
(``yibao.people.id_number.normalise``: NFKC, every decimal digit as its ASCII digit, ``X``).

Upgrade finds the stored numbers that are not in that one spelling and

* rewrites each to its normalised spelling (``persons`` and the copy on ``settlements``) when
  no other person holds that number, so the person stays reachable by any spelling;
* **stops** (raises, nothing changed) when two or more people normalise to the same number, or
  a stored number cannot be normalised at all, listing the person ids. Two registrations of one
  person may each carry bills, payments and an account: which record survives is a clerk's
  decision (README, "Input rules"), never the migration's. Resolve them,
  then run the upgrade again.

Downgrade changes nothing: the normalised numbers are valid under the old code too, and the
original spellings were the defect.

Revision ID: 0010
Revises: 0012
Create Date: 2026-12-03 10:00:00+00:00
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the stored numbers already in the one spelling (17 ASCII digits, then a digit or X)
CANONICAL = "^[0-9]{17}[0-9X]$"


def normalise(raw: str) -> str | None:
    """The application's normaliser as of this revision (a migration keeps its own copy):
    ``None`` when the stored value is no ID number however it is read."""
    out = []
    for ch in unicodedata.normalize("NFKC", raw or "").strip():
        if ch in "xX":
            out.append("X")
            continue
        digit = unicodedata.decimal(ch, None)
        if digit is None:
            return None
        out.append(str(digit))
    value = "".join(out)
    if len(value) != 18 or "X" in value[:17]:
        return None
    return value


def mask(number: str) -> str:
    return number[:10] + "******" + number[16:] if len(number) == 18 else "*" * len(number)


def upgrade() -> None:
    conn = op.get_bind()
    odd = conn.execute(
        sa.text("SELECT id, id_number FROM persons WHERE id_number !~ :canonical ORDER BY id"),
        {"canonical": CANONICAL},
    ).all()
    if not odd:
        return
    wanted = {int(pid): normalise(str(stored)) for pid, stored in odd}
    unreadable = sorted(pid for pid, number in wanted.items() if number is None)
    targets = sorted({n for n in wanted.values() if n is not None})
    holders: defaultdict[str, list[int]] = defaultdict(list)
    for pid, number in conn.execute(
        sa.text("SELECT id, id_number FROM persons WHERE id_number = ANY(:targets)"), {"targets": targets}
    ):
        holders[str(number)].append(int(pid))
    for pid, number in wanted.items():
        if number is not None:
            holders[number].append(pid)
    clashes = {n: sorted(set(pids)) for n, pids in holders.items() if len(set(pids)) > 1}
    if clashes or unreadable:
        lines = [f"  {mask(n)}: persons.id {', '.join(map(str, pids))}" for n, pids in sorted(clashes.items())]
        if unreadable:
            lines.append(f"  no ID number however read: persons.id {', '.join(map(str, unreadable))}")
        raise RuntimeError(
            "0010: stored ID numbers that are one person's number spelled otherwise (fullwidth, "
            "other scripts' digits). Nothing was changed. Decide which record of each group is the "
            "person (README, 'Input rules'), resolve the others, and upgrade "
            "again:\n" + "\n".join(lines)
        )
    for pid, number in wanted.items():
        conn.execute(sa.text("UPDATE persons SET id_number = :n WHERE id = :pid"), {"n": number, "pid": pid})
        conn.execute(sa.text("UPDATE settlements SET id_number = :n WHERE person_id = :pid"), {"n": number, "pid": pid})


def downgrade() -> None:
    """Nothing to undo: see the module docstring."""
