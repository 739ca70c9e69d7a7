"""频繁住院 frequent admissions: the Nth admission within D days (any institution)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.monitoring.models.common import FROM, LOOKBACK_DAYS, PERSONS, TO

RULE_ID = "frequent_admissions"
PERSON_SCOPED = True

SQL = f"""
WITH adm AS (
    SELECT s.id, s.person_id, s.institution_code, s.admitted_on, s.service_date, s.fund_total,
           count(*) OVER w AS n, array_agg(s.id) OVER w AS ids
    FROM settlements s
    WHERE s.status = 'settled' AND s.visit_type = 'inpatient' AND s.admitted_on IS NOT NULL AND {PERSONS}
      AND s.service_date BETWEEN {FROM} - {LOOKBACK_DAYS} AND {TO}
    WINDOW w AS (PARTITION BY s.person_id ORDER BY s.admitted_on
                 RANGE BETWEEN make_interval(days => CAST(:days AS int) - 1) PRECEDING AND CURRENT ROW)
)
SELECT a.id::text AS evidence_key, a.institution_code, a.person_id, a.service_date,
       jsonb_build_object('settlement_ids', to_jsonb(a.ids), 'admissions', a.n,
                          'limit', CAST(:count AS int), 'window_days', CAST(:days AS int)) AS evidence,
       a.fund_total AS amount
FROM adm a
WHERE a.n >= CAST(:count AS int) AND a.service_date BETWEEN {FROM} AND {TO}
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {"count": int(params["count"]), "days": int(params["days"])}
