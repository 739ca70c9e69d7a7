"""异常就诊 abnormal visiting: more than N outpatient visits by one person on one day."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.monitoring.models.common import FROM, PERSONS, TO

RULE_ID = "visits_per_day"
PERSON_SCOPED = True

SQL = f"""
WITH busy AS (  -- cheap pass first: only (person, day) groups above the limit get their evidence built
    SELECT s.person_id, s.service_date
    FROM settlements s
    WHERE s.status = 'settled' AND s.visit_type IN ('outpatient', 'chronic_outpatient') AND {PERSONS}
      AND s.service_date BETWEEN {FROM} AND {TO}
    GROUP BY s.person_id, s.service_date
    HAVING count(*) > CAST(:max_per_day AS int)
)
SELECT s.person_id::text || ':' || s.service_date AS evidence_key,
       mode() WITHIN GROUP (ORDER BY s.institution_code) AS institution_code,
       s.person_id, s.service_date,
       jsonb_build_object('settlement_ids', jsonb_agg(s.id ORDER BY s.settled_at), 'visits', count(*),
                          'limit', CAST(:max_per_day AS int)) AS evidence,
       sum(s.fund_total)::bigint AS amount
FROM busy b
JOIN settlements s ON s.person_id = b.person_id AND s.service_date = b.service_date
WHERE s.status = 'settled' AND s.visit_type IN ('outpatient', 'chronic_outpatient')
GROUP BY s.person_id, s.service_date
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {"max_per_day": int(params["max_per_day"])}
