"""机构费用异常 institution outlier: cost per inpatient case above mean + kσ of its peers.

Peers are the other institutions of the same level and region with at least ``min_cases``
cases in the calendar year of ``date_to`` (up to it). Leave-one-out: the institution is
compared with its peers' mean and standard deviation, not with a mean it inflates itself
(with k = 3, an institution can never exceed its own group's mean + 3σ below 11 members).
Statistics are numeric (not money); the amount at stake is (average − peer mean) × cases,
rounded half-up to the fen.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from yibao.monitoring.models.common import TO

RULE_ID = "institution_outlier"
PERSON_SCOPED = False

SQL = f"""
WITH c AS (
    SELECT s.institution_code, i.level, i.region, count(*) AS cases, avg(s.total) AS avg_cost
    FROM settlements s JOIN institutions i ON i.code = s.institution_code
    WHERE s.status = 'settled' AND s.visit_type = 'inpatient'
      AND s.service_date BETWEEN date_trunc('year', {TO})::date AND {TO}
    GROUP BY s.institution_code, i.level, i.region
    HAVING count(*) >= CAST(:min_cases AS int)
), g AS (
    SELECT c.*, count(*) OVER p AS n, sum(avg_cost) OVER p AS s1, sum(avg_cost * avg_cost) OVER p AS s2
    FROM c WINDOW p AS (PARTITION BY level, region)
), loo AS (
    SELECT g.*, (s1 - avg_cost) / (n - 1) AS peer_mean,
           sqrt(greatest((s2 - avg_cost * avg_cost) / (n - 1) - power((s1 - avg_cost) / (n - 1), 2), 0)) AS peer_sd
    FROM g WHERE n - 1 >= CAST(:min_peers AS int)
)
SELECT loo.institution_code || ':' || extract(year FROM {TO})::int AS evidence_key, loo.institution_code,
       NULL::bigint AS person_id, {TO} AS service_date,
       jsonb_build_object('cases', loo.cases, 'avg_cost_fen', round(loo.avg_cost),
                          'peer_mean_fen', round(loo.peer_mean), 'peer_sd_fen', round(loo.peer_sd),
                          'peers', loo.n - 1, 'sigmas', CAST(:sigmas AS numeric), 'level', loo.level) AS evidence,
       round((loo.avg_cost - loo.peer_mean) * loo.cases)::bigint AS amount
FROM loo
WHERE loo.avg_cost > loo.peer_mean + CAST(:sigmas AS numeric) * loo.peer_sd
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {
        "sigmas": Decimal(str(params["sigmas"])),
        "min_cases": int(params["min_cases"]),
        "min_peers": int(params["min_peers"]),
    }
