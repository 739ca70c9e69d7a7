"""Post-settlement models: one module per rule, each one set-based SELECT of hits.

A model module exports ``RULE_ID``, ``PERSON_SCOPED`` (may run for a few persons on an
event) and ``select(params) -> (sql, binds)``. The SQL yields rows of ``evidence_key,
institution_code, person_id, service_date, evidence (jsonb), amount (fen)`` anchored on
settlements whose ``service_date`` lies in ``[:date_from, :date_to]``, optionally limited
to ``:persons``; :mod:`yibao.monitoring.sweep` wraps it in one INSERT … ON CONFLICT.
"""
