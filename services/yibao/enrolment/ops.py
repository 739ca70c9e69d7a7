"""Ops views on enrolment (set-based SQL, keyset pages): rates by region and group, and the
"one person, one file" ledger of special-group people not yet enrolled for a year."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.errors import InvalidRequest

_BAND = """CASE WHEN NOT :by_age THEN 'all'
        WHEN date_part('year', age(make_date(:year, 1, 1), p.birth_date)) < 18 THEN '0-17'
        WHEN date_part('year', age(make_date(:year, 1, 1), p.birth_date)) < 60 THEN '18-59'
        WHEN date_part('year', age(make_date(:year, 1, 1), p.birth_date)) < 70 THEN '60-69'
        WHEN date_part('year', age(make_date(:year, 1, 1), p.birth_date)) < 80 THEN '70-79' ELSE '80+' END"""

_RATE = text(
    f"""
    SELECT * FROM (
        SELECT p.region, coalesce(g."group", 'none') AS grp, {_BAND} AS band, count(DISTINCT p.id) AS people,
               count(DISTINCT p.id) FILTER (
                   WHERE EXISTS (SELECT 1 FROM enrolments e WHERE e.person_id = p.id AND e.year = :year)
               ) AS enrolled
        FROM persons p
        LEFT JOIN person_groups g ON g.person_id = p.id AND g.valid_from <= :d
             AND (g.valid_to IS NULL OR g.valid_to >= :d)
        WHERE (p.death_date IS NULL OR p.death_date >= :d) AND p.birth_date <= make_date(:year, 12, 31)
        GROUP BY 1, 2, 3
    ) t
    WHERE (t.region, t.grp, t.band) > (:after_region, :after_group, :after_band)
    ORDER BY t.region, t.grp, t.band
    LIMIT :limit
    """
)


#: Age bands of the "who to enrol" list: age on Jan 1 of the year (reporting buckets, not policy numbers).
AGE_BANDS = ("0-17", "18-59", "60-69", "70-79", "80+")
#: Why a person is on the list; a special-group member is ``special_group`` whatever their history.
REASONS = ("special_group", "lapsed", "never_enrolled")

_UNENROLLED = text(
    """
    SELECT * FROM (
        SELECT b.*,
               CASE WHEN b.age < 18 THEN '0-17' WHEN b.age < 60 THEN '18-59' WHEN b.age < 70 THEN '60-69'
                    WHEN b.age < 80 THEN '70-79' ELSE '80+' END AS age_band,
               CASE WHEN b.groups IS NOT NULL THEN 'special_group'
                    WHEN b.last_year IS NOT NULL THEN 'lapsed' ELSE 'never_enrolled' END AS reason
        FROM (
            SELECT p.id, p.id_number, p.name, p.region,
                   CAST(date_part('year', age(make_date(:year, 1, 1), p.birth_date)) AS int) AS age,
                   (SELECT max(e.year) FROM enrolments e WHERE e.person_id = p.id AND e.year < :year) AS last_year,
                   (SELECT array_agg(DISTINCT g."group" ORDER BY g."group") FROM person_groups g
                     WHERE g.person_id = p.id AND g.valid_from <= make_date(:year, 12, 31)
                       AND (g.valid_to IS NULL OR g.valid_to >= make_date(:year, 1, 1))) AS groups
            FROM persons p
            WHERE p.id > :after AND p.birth_date <= make_date(:year, 12, 31)
              -- alive: a death on or before the year's start, or already past, takes the person off
              AND (p.death_date IS NULL OR p.death_date > greatest(make_date(:year, 1, 1), :today))
              AND NOT EXISTS (SELECT 1 FROM enrolments e WHERE e.person_id = p.id AND e.year = :year)
              AND (CAST(:region AS text) IS NULL OR p.region = :region)
        ) b
    ) t
    WHERE (CAST(:reason AS text) IS NULL OR t.reason = :reason)
      AND (CAST(:grp AS text) IS NULL OR :grp = ANY(t.groups))
      AND (CAST(:age_band AS text) IS NULL OR t.age_band = :age_band)
    ORDER BY t.id
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
    session: AsyncSession, year: int, cursor: str | None, limit: int, *, by_age_band: bool = False
) -> tuple[list[dict[str, Any]], str | None]:
    """People alive on Jan 1 by region and special group held that day (``none``), enrolled or not;
    with ``by_age_band`` also by age band on Jan 1 (else the band is ``all``)."""
    from datetime import date

    after = _uncursor(cursor, ["", "", ""])
    if not isinstance(after, list) or len(after) != 3:
        raise InvalidRequest("cursor is not one this API returned")
    rows = (
        await session.execute(
            _RATE,
            {
                "year": year,
                "d": date(year, 1, 1),
                "after_region": str(after[0]),
                "after_group": str(after[1]),
                "after_band": str(after[2]),
                "by_age": by_age_band,
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
            "age_band": r.band,
        }
        for r in rows
    ]
    nxt = _cursor([rows[-1].region, rows[-1].grp, rows[-1].band]) if len(rows) == limit else None
    return items, nxt


async def unenrolled(
    session: AsyncSession,
    year: int,
    *,
    reason: str | None = None,
    region: str | None = None,
    group: str | None = None,
    age_band: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], str | None]:
    """Who to enrol: everyone registered, born by the year's end and alive (no death date on or before
    Jan 1 of ``year`` nor before today) with no enrolment for ``year``, keyset-paged by registration.

    ``reason``: ``special_group`` (a group tag valid some time in the year), else ``lapsed`` (enrolled
    in an earlier year; ``lapsed_since`` is the first year missed), else ``never_enrolled``."""
    from yibao import clock

    if reason is not None and reason not in REASONS:
        raise InvalidRequest(f"reason must be one of {', '.join(REASONS)}")
    if age_band is not None and age_band not in AGE_BANDS:
        raise InvalidRequest(f"age_band must be one of {', '.join(AGE_BANDS)}")
    after = _uncursor(cursor, 0)
    if not isinstance(after, int):
        raise InvalidRequest("cursor is not one this API returned")
    params = {
        "year": year,
        "today": clock.today(),
        "after": after,
        "reason": reason,
        "region": region,
        "grp": group,
        "age_band": age_band,
        "limit": limit,
    }
    rows = (await session.execute(_UNENROLLED, params)).all()
    items = [
        {
            "id_number": r.id_number,
            "name": r.name,
            "region": r.region,
            "age_band": r.age_band,
            "reason": r.reason,
            "lapsed_since": (r.last_year + 1) if r.last_year is not None else None,
            "groups": ";".join(r.groups or []),
        }
        for r in rows
    ]
    return items, (_cursor(rows[-1].id) if len(rows) == limit else None)


async def unenrolled_special(
    session: AsyncSession, year: int, region: str | None, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Special-group people (tag valid some time in ``year``) with no enrolment for ``year``: the
    ``special_group`` slice of :func:`unenrolled`, in its older shape."""
    items, nxt = await unenrolled(session, year, reason="special_group", region=region, cursor=cursor, limit=limit)
    keep = ("id_number", "name", "region", "groups")
    return [{k: i[k] for k in keep} for i in items], nxt
