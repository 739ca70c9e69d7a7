"""特病高额费用 very high special-disease costs (DOMAIN §9): a recognised patient whose spending on
the disease this year exceeds k × the mean of the same disease in the same region.

Spending is the total of the person's settled bills carrying the disease (``settlements.chronic_disease``:
chronic bills, and any other bill the settle path attributes to the disease), from 1 January of
``date_to``'s year up to ``date_to``. The group is the recognised patients of the disease in the
region of their recognition (approved, or expired since, and valid at some time this year) who
spent anything; its mean includes the patient, as DOMAIN §9 words it, so the rule can only fire in
groups of more than k patients. One hit per person, disease and year (the first sweep that finds it;
later sweeps add nothing). Statistics are numeric (not money); the amount at stake is the spending
above the group's mean, rounded half-up to the fen.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from yibao.monitoring.models.common import TO

RULE_ID = "chronic_high_cost"
PERSON_SCOPED = False  # the mean is the whole region's: run by the sweep, not per event

SQL = f"""
WITH spend AS (
    SELECT s.person_id, s.chronic_disease AS disease, sum(s.total) AS ytd, count(*) AS bills,
           max(s.service_date) AS last_date, jsonb_agg(s.id ORDER BY s.service_date, s.id) AS ids,
           (array_agg(s.institution_code ORDER BY s.service_date DESC, s.id DESC))[1] AS institution_code
    FROM settlements s
    WHERE s.status = 'settled' AND s.chronic_disease IS NOT NULL
      AND s.service_date BETWEEN date_trunc('year', {TO})::date AND {TO}
    GROUP BY s.person_id, s.chronic_disease
), recognised AS (  -- the latest recognition of the disease valid this year: its region groups the patient
    SELECT DISTINCT ON (r.person_id, r.disease) r.person_id, r.disease, r.region, r.id
    FROM chronic_recognitions r
    WHERE r.status IN ('approved', 'expired')
      AND r.valid_from <= {TO} AND r.valid_to >= date_trunc('year', {TO})::date
    ORDER BY r.person_id, r.disease, r.valid_to DESC, r.id
), g AS (
    SELECT sp.*, rec.region, rec.id AS recognition_id,
           avg(sp.ytd) OVER w AS mean, count(*) OVER w AS patients
    FROM spend sp JOIN recognised rec ON rec.person_id = sp.person_id AND rec.disease = sp.disease
    WHERE sp.ytd > 0
    WINDOW w AS (PARTITION BY rec.region, sp.disease)
)
SELECT g.person_id::text || ':' || g.disease || ':' || extract(year FROM {TO})::int AS evidence_key,
       g.institution_code, g.person_id, g.last_date AS service_date,
       jsonb_build_object('settlement_ids', g.ids, 'disease', g.disease, 'region', g.region,
                          'recognition_id', g.recognition_id, 'year', extract(year FROM {TO})::int,
                          'as_of', {TO}, 'bills', g.bills, 'ytd_fen', g.ytd, 'mean_fen', round(g.mean),
                          'ratio', round(g.ytd / g.mean, 2), 'patients', g.patients,
                          'k', CAST(:k AS numeric)) AS evidence,
       round(g.ytd - g.mean)::bigint AS amount
FROM g
WHERE g.ytd > CAST(:k AS numeric) * g.mean
"""


def select(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return SQL, {"k": Decimal(str(params["k"]))}
