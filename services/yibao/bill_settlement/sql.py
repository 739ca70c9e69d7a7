"""The statements of the settle and cancel paths, built once at import.

Why plain SQL here, when the rest of the code uses the ORM: ``settle`` is the one hot path
(every bill of every hospital). Built per request, ORM ``insert()/update()`` constructs cost
more CPU in SQLAlchemy (statement building, cache keys, unit-of-work flush) than the
database spends on them, and each statement is a round trip with the person's row locks
held. So the write half of a settlement is a single statement of data-modifying CTEs, and
the locks are taken with one statement each; ``settle`` runs them on an asyncpg connection
(``yibao.db.statements`` says why). ``cancel`` reverses a settlement the same way, in one
statement after its locks.

Nothing here is retyped: the column lists are derived from the tables of ``orm.py`` and the
accumulators from the benefit core's dataclass (``ACCUMULATOR_FIELDS``), and the personal
account's locks and writes are ``yibao.accounts.sql``'s (the one owner of those tables). The
tests in tests/api and tests/integration read the rows back through the ORM.
"""

from __future__ import annotations

import functools
import re

from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

from yibao.accounts import sql as account_sql
from yibao.bill_settlement.orm import ACCUMULATOR_FIELDS, SettlementLineRow, SettlementRow
from yibao.db.statements import Statement

_ACCUMULATORS = ", ".join(ACCUMULATOR_FIELDS)

#: The patient as of the service date: person, special groups, the year's enrolment, an
#: approved cross-region filing, the institution's agreement as committed now (the cached
#: copy may be seconds old), an inpatient stay elsewhere enclosing the date and the running
#: supplies of the bill's dispensed items (monitoring), and their own account's balance as
#: committed (what a caller's answer shows when the bill does not pay from it; a paying account
#: is read again under its lock).
_PATIENT_SELECT = f"""
    SELECT p.id, p.id_number, p.region, p.birth_date, p.gender, p.death_date,
           {account_sql.BALANCE_OF.format(person="p.id")} AS own_balance,
           ARRAY(SELECT g."group" FROM person_groups g
                 WHERE g.person_id = p.id AND g.valid_from <= :d
                   AND (g.valid_to IS NULL OR g.valid_to >= :d)) AS groups,
           e.scheme, e.coverage_start, e.retiree, e.continuous_years, e.zero_claim_credit,
           EXISTS (SELECT 1 FROM filings f
                   WHERE f.person_id = p.id AND f.to_region = :region AND f.status = 'approved'
                     AND f.valid_from <= :d AND (f.valid_to IS NULL OR f.valid_to >= :d)) AS filed,
           i.agreement AS inst_agreement, i.suspended_until AS inst_suspended_until,
           ov.id AS stay_id, ov.institution_code AS stay_institution,
           ov.admitted_on AS stay_admitted_on, ov.discharged_on AS stay_discharged_on,
           -- 超量开药: per item of :supply_items, the earlier supply that lasts longest past the date
           -- (ix_item_supplies_person_item_ends_on; nothing is read for a bill without such items)
           (SELECT CAST(jsonb_agg(jsonb_build_object('item_code', su.item_code, 'starts_on', su.starts_on,
                                                     'ends_on', su.ends_on, 'settlement_id', su.settlement_id))
                        AS text)
            FROM (SELECT DISTINCT ON (x.item_code) x.item_code, x.starts_on, x.ends_on, x.settlement_id
                  FROM item_supplies x
                  WHERE cardinality(CAST(:supply_items AS varchar[])) > 0 AND x.person_id = p.id
                    AND x.item_code = ANY (CAST(:supply_items AS varchar[])) AND x.ends_on > :d
                    AND x.starts_on <= :d
                  ORDER BY x.item_code, x.ends_on DESC) su) AS supplies
    FROM persons p
    -- monitoring: the agreement as committed now (the cached copy may be seconds old) ...
    LEFT JOIN institutions i ON i.code = :inst
    -- ... and an inpatient stay at another institution enclosing the date (ix_settlements_inpatient_stays)
    LEFT JOIN LATERAL (
        SELECT s.id, s.institution_code, s.admitted_on, s.discharged_on FROM settlements s
        WHERE :overlap AND s.person_id = p.id AND s.service_date > :d AND s.visit_type = 'inpatient'
          AND s.status = 'settled' AND s.institution_code <> :inst
          AND s.admitted_on < :d AND s.discharged_on > :d
        LIMIT 1
    ) ov ON true
    LEFT JOIN LATERAL (
        SELECT scheme, coverage_start, retiree, continuous_years, zero_claim_credit
        FROM enrolments
        WHERE person_id = p.id AND year = :y
        ORDER BY coverage_start <= :d DESC,
                 CASE WHEN coverage_start <= :d THEN coverage_start END DESC NULLS LAST,
                 coverage_start
        LIMIT 1
    ) e ON true
    WHERE p.id_number = :id
"""
PATIENT = Statement(_PATIENT_SELECT)

FIRST_ANSWER = Statement(
    "SELECT request_hash, response FROM idempotency_keys WHERE institution_code = :institution_code AND key = :key"
)

#: the person-year accumulators as committed (a preview locks nothing)
ACCUMULATORS = Statement(f"SELECT {_ACCUMULATORS} FROM person_years WHERE person_id = :person_id AND year = :year")
TRACE_CODE_TAKEN = Statement("SELECT code FROM trace_codes WHERE code = ANY(CAST(:codes AS varchar[])) LIMIT 1")
ACCOUNT_BALANCE = account_sql.BALANCE

#: who pays from an account: the payer (by ID number) and how they are bound to the patient
PAYER = Statement(
    """
    SELECT p.id, p.death_date, b.relation FROM persons p
    LEFT JOIN family_bindings b ON b.holder_person_id = p.id AND b.relative_person_id = :patient
    WHERE p.id_number = :payer
    """
)

#: Lock the person-year row, creating it on the person's first bill of the year, and read the
#: accumulators: one round trip instead of SELECT FOR UPDATE (+ INSERT + SELECT FOR UPDATE).
#: ``DO UPDATE`` (a no-op assignment) is what makes the conflicting row come back locked and
#: in its latest committed version, which ``DO NOTHING`` would not return at all.
LOCK_PERSON_YEAR = Statement(
    f"""
    INSERT INTO person_years (person_id, year) VALUES (:person_id, :year)
    ON CONFLICT (person_id, year) DO UPDATE SET year = EXCLUDED.year
    RETURNING {_ACCUMULATORS}
    """
)

#: The first three steps of ``settle`` in one round trip: claim the key, read the patient,
#: and (only if the key was claimed: ``FROM patient, claim``) lock the person-year row. The
#: join on ``claim`` also orders the steps: a retry waiting on its twin's key holds no
#: person-year lock meanwhile, so the lock order key → person-year → account is kept.
#: One row always comes back: ``claimed`` false is a retry, ``id`` NULL an unknown person.
CLAIM_AND_LOCK = Statement(
    f"""
    WITH claim AS (
        INSERT INTO idempotency_keys (institution_code, key, request_hash)
        VALUES (:inst, :key, :request_hash)
        ON CONFLICT DO NOTHING
        RETURNING key
    ), patient AS ({_PATIENT_SELECT}
    ), year_row AS (
        INSERT INTO person_years (person_id, year)
        SELECT patient.id, :y FROM patient, claim
        ON CONFLICT (person_id, year) DO UPDATE SET year = EXCLUDED.year
        RETURNING {_ACCUMULATORS}
    )
    SELECT EXISTS (SELECT 1 FROM claim) AS claimed, patient.*, year_row.*
    FROM (VALUES (1)) AS one (x) LEFT JOIN patient ON true LEFT JOIN year_row ON true
    """
)

LOCK_ACCOUNT = account_sql.LOCK

#: a new settlement's columns: every one but ``cancelled_at`` (set by cancel); each is a
#: parameter of the same name (``service._settlement_params`` and the totals), JSON ones as text
_NEW_SETTLEMENT = [c for c in SettlementRow.__table__.columns if c.name != "cancelled_at"]
_SETTLEMENT_COLUMNS = ", ".join(c.name for c in _NEW_SETTLEMENT)
_SETTLEMENT_VALUES = ", ".join(
    f"CAST(:{c.name} AS jsonb)" if isinstance(c.type, JSONB) else f":{c.name}" for c in _NEW_SETTLEMENT
)
#: a stored settlement, JSON columns as text (so an asyncpg connection and a session read them alike)
_STORED_SETTLEMENT = ", ".join(
    f"CAST({c.name} AS text) AS {c.name}" if isinstance(c.type, JSONB) else c.name
    for c in SettlementRow.__table__.columns
)

#: a settlement line's own columns (all but the settlement's id) and their SQL types without
#: length or precision (the table's own types apply on insert)
_LINES = [c for c in SettlementLineRow.__table__.columns if c.name != "settlement_id"]
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]
_LINE_COLUMNS = ", ".join(c.name for c in _LINES)
#: the record type of one element of the ``:lines`` JSON array (see ``service._lines_json``)
_LINE_RECORD = ", ".join(f"{c.name} {re.sub(r'[(][^)]*[)]', '', c.type.compile(dialect=_PG)).lower()}" for c in _LINES)
#: ``d_<field>``: what the bill moves each accumulator by (negative on cancel)
_ACCRUE = ", ".join(f"{f} = {f} + :d_{f}" for f in ACCUMULATOR_FIELDS)

#: Everything a settlement writes once its split is computed, in one round trip:
#: the settlement, its lines, its trace codes (a code settled before is skipped and left out
#: of the answer, so the caller can refuse the bill and roll back), the accumulators, the
#: account debit and its movement, the outbox event and the stored answer for retries.
#: Lines, codes and the movement select from ``settlement`` so they are inserted after it.
#: A second open settlement of the visit fails on ``uq_settlements_open_visit`` as before.
_RECORD_SETTLEMENT_WITH = f"""
    WITH settlement AS (
        INSERT INTO settlements ({_SETTLEMENT_COLUMNS}) VALUES ({_SETTLEMENT_VALUES})
        RETURNING id
    ), lines AS (
        INSERT INTO settlement_lines (settlement_id, {_LINE_COLUMNS})
        SELECT settlement.id, {_LINE_COLUMNS}
        FROM settlement, jsonb_to_recordset(CAST(:lines AS jsonb)) AS l({_LINE_RECORD})
    ), traced AS (
        INSERT INTO trace_codes (code, settlement_id, institution_code)
        SELECT code, settlement.id, :institution_code
        FROM settlement, unnest(CAST(:trace_codes AS varchar[])) AS code
        ON CONFLICT DO NOTHING
        RETURNING code
    ), accrued AS (
        UPDATE person_years SET {_ACCRUE}, updated_at = now()
        WHERE person_id = :person_id AND year = :year AND :accrues
    ), disease_accrued AS (
        INSERT INTO chronic_disease_years (person_id, year, disease, basic_paid)
        SELECT CAST(:person_id AS bigint), CAST(:year AS smallint), CAST(:chronic_disease AS varchar),
               CAST(:chronic_disease_paid AS bigint)
        WHERE CAST(:chronic_disease AS varchar) IS NOT NULL
        ON CONFLICT (person_id, year, disease) DO UPDATE
        SET basic_paid = chronic_disease_years.basic_paid + EXCLUDED.basic_paid, updated_at = now()
    ), supplied AS (  -- 超量开药's facts: the bill's take-home supplies (``service._supplies_json``)
        INSERT INTO item_supplies (settlement_id, line_no, person_id, item_code, starts_on, ends_on)
        SELECT settlement.id, x.line_no, CAST(:person_id AS bigint), x.item_code, x.starts_on, x.ends_on
        FROM settlement, jsonb_to_recordset(CAST(:supplies AS jsonb))
                         AS x(line_no int, item_code varchar, starts_on date, ends_on date)
    ), dispensed AS (
        INSERT INTO prescription_dispensings (rx_id, settlement_id, institution_code)
        SELECT CAST(:prescription_id AS varchar), settlement.id, :institution_code FROM settlement
        WHERE CAST(:prescription_id AS varchar) IS NOT NULL
    ), {account_sql.SETTLEMENT_DEBIT}, event AS (
        INSERT INTO outbox (event_id, topic, payload) VALUES (:event_id, :event_topic, CAST(:event AS jsonb))
    ), answer AS (
        UPDATE idempotency_keys SET settlement_id = :id, response = :response
        WHERE institution_code = :institution_code AND key = :idempotency_key
    )"""
_INSERTED_CODES = "ARRAY(SELECT code FROM traced) AS inserted_codes"
RECORD_SETTLEMENT = Statement(f"{_RECORD_SETTLEMENT_WITH}\n    SELECT {_INSERTED_CODES}")


@functools.cache
def record_settlement_with(ctes: str, columns: str) -> Statement:
    """``RECORD_SETTLEMENT`` with another module's writes in the same statement (one round trip
    for both, committed together): ``ctes`` are that module's data-modifying CTEs over its own
    tables, ``columns`` what it reads back from them, after ``inserted_codes``. Built once per
    text (the caller passes constants)."""
    return Statement(f"{_RECORD_SETTLEMENT_WITH}, {ctes}\n    SELECT {_INSERTED_CODES}, {columns}")


@functools.cache
def alongside_alone(ctes: str, columns: str) -> Statement:
    """The same writes on their own: a replayed settle, which writes no settlement."""
    return Statement(f"WITH {ctes}\n    SELECT {columns}")


#: Lock what a cancel moves, in the settle path's order, and read the settlement with its lines
#: (one round trip): the institution's own settlement, then (only if it is still settled: the
#: insert selects from ``target``) the person-year row. The account, if the bill was paid from
#: one, is locked next with ``LOCK_ACCOUNT``. No row: not this institution's settlement.
LOCK_FOR_CANCEL = Statement(
    f"""
    WITH target AS (
        SELECT {_STORED_SETTLEMENT} FROM settlements
        WHERE id = :id AND institution_code = :institution_code
          AND source = 'realtime'  -- a manual claim's settlement is the bureau's, not the institution's to cancel
        FOR UPDATE
    ), year_row AS (
        INSERT INTO person_years (person_id, year)
        SELECT person_id, year FROM target WHERE status = 'settled'
        ON CONFLICT (person_id, year) DO UPDATE SET year = EXCLUDED.year
        RETURNING person_id
    )
    SELECT target.*, EXISTS (SELECT 1 FROM year_row) AS year_locked,
           (SELECT CAST(jsonb_agg(to_jsonb(l) ORDER BY l.line_no) AS text)
            FROM settlement_lines l WHERE l.settlement_id = target.id) AS lines
    FROM target
    """
)

#: Everything a cancel writes, in one round trip once ``LOCK_FOR_CANCEL`` (and ``LOCK_ACCOUNT``)
#: hold the rows: the settlement's status, the accumulators moved back (``d_<field>`` negated;
#: a chronic bill's disease limit by its own ``chronic_disease_paid``),
#: the account's part back with its movement, the trace codes freed for another bill, its item
#: supplies removed, and the outbox event. Booked on the day of the cancel (``:cancelled_at``).
CANCEL_SETTLEMENT = Statement(
    f"""
    WITH cancelled AS (
        UPDATE settlements SET status = 'cancelled', cancelled_at = :cancelled_at
        WHERE id = :id AND status = 'settled'
        RETURNING id, account_payer_person_id, personal_account, person_id, year, chronic_disease, chronic_disease_paid
    ), accrued AS (
        UPDATE person_years SET {_ACCRUE}, updated_at = now()
        WHERE person_id = :person_id AND year = :year AND :accrues
    ), disease_restored AS (
        UPDATE chronic_disease_years y SET basic_paid = y.basic_paid - c.chronic_disease_paid, updated_at = now()
        FROM cancelled c
        WHERE y.person_id = c.person_id AND y.year = c.year AND y.disease = c.chronic_disease
          AND c.chronic_disease_paid <> 0
    ), {account_sql.SETTLEMENT_REVERSAL}, freed AS (
        DELETE FROM trace_codes WHERE settlement_id = :id
    ), undispensed AS (
        DELETE FROM prescription_dispensings WHERE settlement_id = :id
    ), unsupplied AS (
        DELETE FROM item_supplies WHERE settlement_id = :id
    ), event AS (
        INSERT INTO outbox (event_id, topic, payload) VALUES (:event_id, :event_topic, CAST(:event AS jsonb))
    )
    SELECT count(*) FROM cancelled
    """
)

#: A chronic bill's recognition (issue #17): the person's approved recognition of the disease
#: valid on the service date (one at this institution first, for a disease that requires a
#: designated one) and what the disease's annual limit has accrued this year. Read after the
#: person-year lock, which every writer of ``chronic_disease_years`` holds.
CHRONIC_RECOGNITION = Statement(
    """
    SELECT CAST(r.id AS text) AS id, r.designated_institution,
           COALESCE((SELECT y.basic_paid FROM chronic_disease_years y
                     WHERE y.person_id = :person_id AND y.year = :year AND y.disease = :disease), 0) AS disease_paid
    FROM chronic_recognitions r
    -- 'expired' (set by the re-review job) still covers bills dated within its validity
    WHERE r.person_id = :person_id AND r.disease = :disease AND r.status IN ('approved', 'expired')
      AND r.valid_from <= :d AND r.valid_to >= :d
    ORDER BY (r.designated_institution IS NOT DISTINCT FROM :inst) DESC, r.valid_to DESC
    LIMIT 1
    """
)

#: A pharmacy bill's e-prescription and whether it was dispensed (read after the person-year
#: lock: two bills of one person on it are serialised; the primary key of the dispensing is the
#: last guard).
PRESCRIPTION = Statement(
    """
    SELECT p.rx_id, p.person_id, p.region, p.diagnoses, CAST(p.items AS text) AS items_json, p.valid_until,
           p.status, CAST(p.issued_at AT TIME ZONE 'Asia/Shanghai' AS date) AS issued_on,
           d.settlement_id AS dispensed_by
    FROM prescriptions p LEFT JOIN prescription_dispensings d ON d.rx_id = p.rx_id
    WHERE p.rx_id = :rx_id
    """
)
