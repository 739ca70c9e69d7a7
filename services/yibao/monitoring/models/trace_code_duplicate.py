"""追溯码重复 one traceability code on two live settlements.

The settle path refuses a code already in ``trace_codes``; this model finds what slipped
past it (bills loaded by batch, migrated history, manual reimbursements). A cancelled
settlement frees its code (the box went back), so only settled bills count. The suspect goes
to the institution of the latest sale, with the box's share of that line at stake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.monitoring.models.common import FROM, LOOKBACK_DAYS, TO

RULE_ID = "trace_code_duplicate"
PERSON_SCOPED = False

SQL = f"""
WITH t AS (
    SELECT c.code, s.id, s.institution_code, s.person_id, s.service_date, s.settled_at,
           round(l.amount::numeric / cardinality(l.trace_codes))::bigint AS box_amount
    FROM settlement_lines l
    JOIN settlements s ON s.id = l.settlement_id
    CROSS JOIN LATERAL unnest(l.trace_codes) AS c(code)
    WHERE s.status = 'settled' AND cardinality(l.trace_codes) > 0
      AND s.service_date BETWEEN {FROM} - {LOOKBACK_DAYS} AND {TO}
), dup AS (  -- cheap pass first: evidence is built only for codes seen more than once
    SELECT code FROM t GROUP BY code HAVING count(*) > 1
)
SELECT t.code AS evidence_key,
       (array_agg(t.institution_code ORDER BY t.settled_at DESC, t.id))[1] AS institution_code,
       (array_agg(t.person_id ORDER BY t.settled_at DESC, t.id))[1] AS person_id,
       max(t.service_date) AS service_date,
       jsonb_build_object('settlement_ids', jsonb_agg(DISTINCT t.id), 'code', t.code,
                          'institutions', jsonb_agg(DISTINCT t.institution_code)) AS evidence,
       (array_agg(t.box_amount ORDER BY t.settled_at DESC, t.id))[1] AS amount
FROM t JOIN dup USING (code)
GROUP BY t.code
HAVING count(DISTINCT t.id) > 1 AND max(t.service_date) >= {FROM}
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {}
