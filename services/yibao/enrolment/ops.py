"""Ops views on enrolment (set-based SQL, keyset pages): rates by region and group, and the
"one person, one file" ledger of special-group people not yet enrolled for a year."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.errors import InvalidRequest

_RATE = text(
    """
    SELECT * FROM (
        SELECT p.region, coalesce(g."group", 'none') AS grp, count(DISTINCT p.id) AS people,
               count(DISTINCT p.id) FILTER (
                   WHERE EXISTS (SELECT 1 FROM enrolments e WHERE e.person_id = p.id AND e.year = :year)
               ) AS enrolled
        FROM persons p
        LEFT JOIN person_groups g ON g.person_id = p.id AND g.valid_from <= :d
             AND (g.valid_to IS NULL OR g.valid_to >= :d)
        WHERE (p.death_date IS NULL OR p.death_date >= :d) AND p.birth_date <= make_date(:year, 12, 31)
        GROUP BY 1, 2
    ) t
    WHERE (t.region, t.grp) > (:after_region, :after_group)
    ORDER BY t.region, t.grp
    LIMIT :limit
    """
)

_UNENROLLED = text(
    """
    SELECT p.id, p.id_number, p.name, p.region,
           array_agg(DISTINCT g."group" ORDER BY g."group") AS groups
    FROM persons p
    JOIN person_groups g ON g.person_id = p.id AND g.valid_from <= make_date(:year, 12, 31)
         AND (g.valid_to IS NULL OR g.valid_to >= make_date(:year, 1, 1))
    WHERE p.id > :after AND (p.death_date IS NULL OR p.death_date >= make_date(:year, 1, 1))
      AND NOT EXISTS (SELECT 1 FROM enrolments e WHERE e.person_id = p.id AND e.year = :year)
      AND (CAST(:region AS text) IS NULL OR p.region = :region)
    GROUP BY p.id
    ORDER BY p.id
    LIMIT :limit
    """
)


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _uncursor(cursor: str | None, default: Any) -> Any:
    if not cursor:
        return default
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise InvalidRequest("cursor is not one this API returned") from exc


async def enrolment_rate(
    session: AsyncSession, year: int, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """People alive on Jan 1 by region and special group held that day (``none``), enrolled or not."""
    from datetime import date

    after = _uncursor(cursor, ["", ""])
    rows = (
        await session.execute(
            _RATE,
            {
                "year": year,
                "d": date(year, 1, 1),
                "after_region": str(after[0]),
                "after_group": str(after[1]),
                "limit": limit,
            },
        )
    ).all()
    items = [
        {
            "region": r.region,
            "group": r.grp,
            "people": int(r.people),
            "enrolled": int(r.enrolled),
            "rate": f"{(r.enrolled / r.people if r.people else 0):.4f}",
        }
        for r in rows
    ]
    nxt = _cursor([rows[-1].region, rows[-1].grp]) if len(rows) == limit else None
    return items, nxt


async def unenrolled_special(
    session: AsyncSession, year: int, region: str | None, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Special-group people (tag valid some time in ``year``) with no enrolment for ``year``."""
    after = int(_uncursor(cursor, 0))
    rows = (await session.execute(_UNENROLLED, {"year": year, "region": region, "after": after, "limit": limit})).all()
    items = [{"id_number": r.id_number, "name": r.name, "region": r.region, "groups": ";".join(r.groups)} for r in rows]
    return items, (_cursor(rows[-1].id) if len(rows) == limit else None)
