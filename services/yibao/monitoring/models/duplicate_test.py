"""重复检查 duplicate tests: the same test for one person at another institution within D days."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.monitoring.models.common import FROM, PERSONS, TO

RULE_ID = "duplicate_test"
PERSON_SCOPED = True

SQL = f"""
WITH t AS (
    SELECT s.id, s.person_id, s.institution_code, s.settled_at, l.service_date AS d, l.item_code, l.amount
    FROM settlement_lines l
    JOIN settlements s ON s.id = l.settlement_id
    WHERE s.status = 'settled' AND l.item_code = ANY (CAST(:items AS text[])) AND {PERSONS}
      AND s.service_date BETWEEN {FROM} - CAST(:days AS int) AND {TO}
      AND l.service_date BETWEEN {FROM} - CAST(:days AS int) AND {TO}
)
SELECT b.id::text || ':' || b.item_code AS evidence_key, b.institution_code, b.person_id, b.d AS service_date,
       jsonb_build_object('settlement_ids', jsonb_agg(DISTINCT a.id) || jsonb_build_array(b.id),
                          'item_code', b.item_code, 'earlier_institutions', jsonb_agg(DISTINCT a.institution_code),
                          'window_days', CAST(:days AS int)) AS evidence,
       max(b.amount)::bigint AS amount
FROM t b
JOIN t a ON a.person_id = b.person_id AND a.item_code = b.item_code AND a.institution_code <> b.institution_code
        AND a.d BETWEEN b.d - CAST(:days AS int) AND b.d AND (a.d, a.settled_at, a.id) < (b.d, b.settled_at, b.id)
WHERE b.d BETWEEN {FROM} AND {TO}
GROUP BY b.id, b.item_code, b.institution_code, b.person_id, b.d
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {"items": list(params["items"]), "days": int(params["days"])}
