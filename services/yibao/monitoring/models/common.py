"""SQL fragments shared by the models (kept tiny: each model's SQL should read on its own)."""

from __future__ import annotations

#: settlements in the person scope (``:persons`` NULL = everybody)
PERSONS = "(CAST(:persons AS bigint[]) IS NULL OR s.person_id = ANY(CAST(:persons AS bigint[])))"
FROM = "CAST(:date_from AS date)"
TO = "CAST(:date_to AS date)"
#: earlier settlements a hit in the range may pair with
LOOKBACK_DAYS = 400
