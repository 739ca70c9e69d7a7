"""分解住院 split admission: readmitted to the same institution within N days of discharge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.monitoring.models.common import FROM, LOOKBACK_DAYS, PERSONS, TO

RULE_ID = "split_admission"
PERSON_SCOPED = True

SQL = f"""
WITH adm AS (
    SELECT s.id, s.person_id, s.institution_code, s.admitted_on, s.discharged_on, s.service_date, s.fund_total,
           lag(s.id) OVER w AS prev_id, lag(s.discharged_on) OVER w AS prev_discharged_on
    FROM settlements s
    WHERE s.status = 'settled' AND s.visit_type = 'inpatient' AND s.admitted_on IS NOT NULL AND {PERSONS}
      AND s.service_date BETWEEN {FROM} - {LOOKBACK_DAYS} AND {TO}
    WINDOW w AS (PARTITION BY s.person_id, s.institution_code ORDER BY s.admitted_on, s.id)
)
SELECT a.id::text AS evidence_key, a.institution_code, a.person_id, a.service_date,
       jsonb_build_object(
           'settlement_ids', jsonb_build_array(a.prev_id, a.id),
           'previous_discharged_on', a.prev_discharged_on, 'readmitted_on', a.admitted_on,
           'gap_days', a.admitted_on - a.prev_discharged_on, 'limit_days', CAST(:days AS int)
       ) AS evidence,
       a.fund_total AS amount
FROM adm a
WHERE a.prev_id IS NOT NULL AND a.service_date BETWEEN {FROM} AND {TO}
  AND a.admitted_on - a.prev_discharged_on BETWEEN 0 AND CAST(:days AS int)
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {"days": int(params["days"])}
