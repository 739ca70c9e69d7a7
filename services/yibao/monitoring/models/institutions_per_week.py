"""异常就诊 abnormal visiting: more than N institutions within D days (one hit per episode).

A hit day is a visit day whose trailing D-day window holds more than N institutions; hit
days within D days of the previous hit day belong to the same episode and are not new.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.monitoring.models.common import FROM, PERSONS, TO

RULE_ID = "institutions_per_week"
PERSON_SCOPED = True

SQL = f"""
WITH all_visits AS (
    SELECT s.id, s.person_id, s.service_date, s.institution_code, s.fund_total
    FROM settlements s
    WHERE s.status = 'settled' AND s.visit_type IN ('outpatient', 'chronic_outpatient') AND {PERSONS}
      AND s.service_date BETWEEN {FROM} - 2 * CAST(:days AS int) AND {TO}
), candidates AS (  -- a person with at most N institutions over the whole range cannot hit
    SELECT person_id FROM all_visits GROUP BY person_id
    HAVING count(DISTINCT institution_code) > CAST(:max_institutions AS int)
), v AS (
    SELECT a.* FROM all_visits a JOIN candidates c ON c.person_id = a.person_id
), d AS (
    SELECT DISTINCT person_id, service_date FROM v WHERE service_date >= {FROM} - CAST(:days AS int)
), c AS (
    SELECT d.person_id, d.service_date,
           count(DISTINCT v.institution_code) AS n,
           jsonb_agg(v.id ORDER BY v.service_date, v.id) AS ids,
           min(v.institution_code) FILTER (WHERE v.service_date = d.service_date) AS institution_code,
           sum(v.fund_total)::bigint AS amount
    FROM d JOIN v ON v.person_id = d.person_id
                 AND v.service_date BETWEEN d.service_date - (CAST(:days AS int) - 1) AND d.service_date
    GROUP BY d.person_id, d.service_date
    HAVING count(DISTINCT v.institution_code) > CAST(:max_institutions AS int)
), f AS (
    SELECT c.*, lag(c.service_date) OVER (PARTITION BY c.person_id ORDER BY c.service_date) AS prev_hit
    FROM c
)
SELECT f.person_id::text || ':' || f.service_date AS evidence_key, f.institution_code, f.person_id,
       f.service_date,
       jsonb_build_object('settlement_ids', f.ids, 'institutions', f.n,
                          'limit', CAST(:max_institutions AS int), 'window_days', CAST(:days AS int)) AS evidence,
       f.amount
FROM f
WHERE (f.prev_hit IS NULL OR f.service_date - f.prev_hit >= CAST(:days AS int))
  AND f.service_date BETWEEN {FROM} AND {TO}
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {"max_institutions": int(params["max_institutions"]), "days": int(params["days"])}
