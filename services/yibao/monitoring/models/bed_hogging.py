"""挂床住院 bed-hogging: an inpatient bill whose every line is a bed or nursing fee."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.monitoring.models.common import FROM, PERSONS, TO

RULE_ID = "bed_hogging"
PERSON_SCOPED = True

SQL = f"""
SELECT s.id::text AS evidence_key, s.institution_code, s.person_id, s.service_date,
       jsonb_build_object('settlement_ids', jsonb_build_array(s.id), 'lines', count(*),
                          'days', s.discharged_on - s.admitted_on, 'total_fen', s.total,
                          'items', array_agg(DISTINCT l.item_code)) AS evidence,
       s.fund_total AS amount
FROM settlements s
JOIN settlement_lines l ON l.settlement_id = s.id
WHERE s.status = 'settled' AND s.visit_type = 'inpatient' AND {PERSONS}
  AND s.service_date BETWEEN {FROM} AND {TO}
GROUP BY s.id
HAVING bool_and(l.item_code LIKE ANY (CAST(:patterns AS text[])))
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {"patterns": [f"{p}%" for p in params["item_prefixes"]]}
