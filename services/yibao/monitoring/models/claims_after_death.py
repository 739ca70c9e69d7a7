"""死亡后结算 claims after death: settled bills dated after a death date recorded later."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.monitoring.models.common import FROM, PERSONS, TO

RULE_ID = "claims_after_death"
PERSON_SCOPED = True

SQL = f"""
SELECT s.id::text AS evidence_key, s.institution_code, s.person_id, s.service_date,
       jsonb_build_object('settlement_ids', jsonb_build_array(s.id), 'death_date', p.death_date,
                          'service_date', s.service_date, 'days_after', s.service_date - p.death_date) AS evidence,
       s.fund_total AS amount
FROM settlements s
JOIN persons p ON p.id = s.person_id
WHERE s.status = 'settled' AND p.death_date IS NOT NULL AND s.service_date > p.death_date AND {PERSONS}
  AND s.service_date BETWEEN {FROM} AND {TO}
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {}
