"""疑似虚构劳动关系 maternity allowances (DOMAIN §10): the mother's contributions at her employer
began fewer than ``months`` months before the delivery month, or the employer has no other
contributor. Anchored on the delivery's settlement; a void allowance is not a suspect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.monitoring.models.common import FROM, PERSONS, TO

RULE_ID = "maternity_allowance_suspect"
PERSON_SCOPED = True

SQL = f"""
SELECT a.allowance_no AS evidence_key, s.institution_code, s.person_id, s.service_date,
       jsonb_build_object('settlement_ids', jsonb_build_array(s.id), 'allowance_no', a.allowance_no,
                          'delivery_date', a.delivery_date, 'first_contribution_month', a.first_contribution_month,
                          'months_at_employer',
                          (EXTRACT(YEAR FROM a.delivery_date) * 12 + EXTRACT(MONTH FROM a.delivery_date))
                          - (EXTRACT(YEAR FROM a.first_contribution_month) * 12
                             + EXTRACT(MONTH FROM a.first_contribution_month)),
                          'other_contributors', a.other_contributors, 'limit_months', CAST(:months AS int)) AS evidence,
       a.amount
FROM maternity_allowances a
JOIN settlements s ON s.id = a.settlement_id
WHERE a.status <> 'void' AND s.status = 'settled' AND {PERSONS}
  AND s.service_date BETWEEN {FROM} AND {TO}
  AND ((a.first_contribution_month IS NOT NULL
        AND a.first_contribution_month > (date_trunc('month', a.delivery_date)
                                          - make_interval(months => CAST(:months AS int)))::date)
       OR (a.employer_id IS NOT NULL AND a.other_contributors = 0))
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {"months": int(params["months"])}
