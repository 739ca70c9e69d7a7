"""What the adapter remembers between envelopes, and the reads it answers with.

The message journal makes ``msgid`` the idempotency key: the first answer of a msgid is stored
(``record``) and a repeat is answered from it byte for byte (``find``). Visits (``mdtrt_id``)
carry what an HIS uploads between registration and settlement. Each function owns its short
transaction on the settle path's asyncpg pool; the money moves only in ``bill_settlement``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.accounts import service as accounts
from yibao.bill_settlement import queries as settlement_queries
from yibao.bill_settlement import service as settlements
from yibao.bill_settlement.commands import SettleBill
from yibao.bill_settlement.orm import BILLED_BY_INSTITUTION_SQL
from yibao.clock import CHINA
from yibao.db.statements import ACQUIRE_TIMEOUT_SECONDS, Statement, transaction
from yibao.enrolment import service as enrolment
from yibao.errors import IdempotencyConflict, InvalidState, NotFound
from yibao.institutions.agreements import Institution
from yibao.nhsa.mappers import GEND, INSUTYPE_OF_SCHEME
from yibao.nhsa.statements import Record
from yibao.people import service as people
from yibao.people.orm import PersonGroupRow
from yibao.reference import ReferenceData
from yibao.uuids import uuid7

# ---------------------------------------------------------------- message journal

FIND = Statement(
    "SELECT infno, request_hash, response, infcode, settlement_id, mdtrt_id, reversed_by FROM nhsa_messages "
    "WHERE institution_code = :inst AND msgid = :msgid"
)
RECORD = Statement(
    """
    INSERT INTO nhsa_messages
        (institution_code, msgid, infno, request_hash, infcode, settlement_id, mdtrt_id, response)
    VALUES (:inst, :msgid, :infno, :request_hash, :infcode, :settlement_id, :mdtrt_id, :response)
    ON CONFLICT (institution_code, msgid) DO NOTHING
    RETURNING msgid
    """
)
MARK_REVERSED = Statement(
    "UPDATE nhsa_messages SET reversed_by = :by WHERE institution_code = :inst AND msgid = :msgid "
    "AND reversed_by IS NULL RETURNING msgid"
)


def request_hash(infno: str, payload: Any) -> str:
    return hashlib.sha256(infno.encode() + b"\0" + orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class Message:
    infno: str
    request_hash: str
    response: bytes
    infcode: int
    settlement_id: str | None
    mdtrt_id: str | None
    reversed_by: str | None


def _message(row: Mapping[str, Any]) -> Message:
    return Message(
        row["infno"],
        row["request_hash"],
        str(row["response"]).encode(),
        row["infcode"],
        row["settlement_id"],
        row["mdtrt_id"],
        row["reversed_by"],
    )


async def _fetchrow(pool: asyncpg.Pool, stmt: Statement, params: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """One statement on a pooled connection, no explicit transaction: a read, or a write that
    is a single statement (one round trip instead of three)."""
    async with pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS) as conn:
        row: Mapping[str, Any] | None = await conn.fetchrow(stmt.sql, *stmt.args(params))
    return row


async def find(pool: asyncpg.Pool, institution_code: str, msgid: str) -> Message | None:
    row = await _fetchrow(pool, FIND, {"inst": institution_code, "msgid": msgid})
    return None if row is None else _message(row)


def entry(
    institution_code: str,
    msgid: str,
    infno: str,
    digest: str,
    infcode: int,
    response: bytes,
    *,
    settlement_id: str | None = None,
    mdtrt_id: str | None = None,
) -> dict[str, Any]:
    """The parameters of ``RECORD``: one journal entry."""
    return {
        "inst": institution_code,
        "msgid": msgid,
        "infno": infno,
        "request_hash": digest,
        "infcode": infcode,
        "settlement_id": settlement_id,
        "mdtrt_id": mdtrt_id,
        "response": response.decode(),
    }


async def record(pool: asyncpg.Pool, params: Mapping[str, Any]) -> Message:
    """Journal the answer; if a concurrent twin journaled first, its answer is the one."""
    if await _fetchrow(pool, RECORD, params) is not None:
        return Message(
            params["infno"],
            params["request_hash"],
            str(params["response"]).encode(),
            params["infcode"],
            params["settlement_id"],
            params["mdtrt_id"],
            None,
        )
    row = await _fetchrow(pool, FIND, {"inst": params["inst"], "msgid": params["msgid"]})
    assert row is not None
    return _message(row)


async def mark_reversed(pool: asyncpg.Pool, institution_code: str, msgid: str, by: str) -> bool:
    return await _fetchrow(pool, MARK_REVERSED, {"inst": institution_code, "msgid": msgid, "by": by}) is not None


# ---------------------------------------------------------------- catalogue code map

CODES = Statement(
    "SELECT national_code, item_code FROM nhsa_catalogue_codes WHERE national_code = ANY(CAST(:codes AS varchar[]))"
)


async def item_codes(pool: asyncpg.Pool, national_codes: Sequence[str]) -> dict[str, str]:
    """The product catalogue item of each mapped national code (unmapped ones are absent)."""
    async with pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS) as conn:
        rows = await conn.fetch(CODES.sql, *CODES.args({"codes": sorted(set(national_codes))}))
    return {r["national_code"]: r["item_code"] for r in rows}


# ---------------------------------------------------------------- visits

_VISIT_NAMES = (
    "mdtrt_id",
    "institution_code",
    "psn_no",
    "insutype",
    "med_type",
    "visit_type",
    "ipt_otp_no",
    "begntime",
    "endtime",
    "status",
    "diagnoses",
    "details",
    "settlement_id",
    "delivery_type",
    "babies",
)
_VISIT_COLUMNS = ", ".join(_VISIT_NAMES)
OPEN_VISIT = Statement(
    f"""
    INSERT INTO nhsa_visits (mdtrt_id, institution_code, psn_no, insutype, med_type, visit_type, ipt_otp_no,
                             begntime, status, diagnoses)
    VALUES (:mdtrt_id, :inst, :psn_no, :insutype, :med_type, :visit_type, :ipt_otp_no, :begntime, :status,
            CAST(:diagnoses AS jsonb))
    ON CONFLICT (mdtrt_id) DO NOTHING
    RETURNING {_VISIT_COLUMNS}
    """
)
VISIT = Statement(f"SELECT {_VISIT_COLUMNS} FROM nhsa_visits WHERE mdtrt_id = :mdtrt_id AND institution_code = :inst")
VISIT_FOR_UPDATE = Statement(VISIT.clause.text + " FOR UPDATE")
SETTLED_VISIT = Statement(
    f"SELECT {_VISIT_COLUMNS} FROM nhsa_visits WHERE settlement_id = :settlement_id AND institution_code = :inst"
)
UPDATE_VISIT = Statement(
    f"""
    UPDATE nhsa_visits SET med_type = :med_type, visit_type = :visit_type, endtime = :endtime, status = :status,
        diagnoses = CAST(:diagnoses AS jsonb), details = CAST(:details AS jsonb), settlement_id = :settlement_id,
        delivery_type = :delivery_type, babies = :babies, updated_at = now()
    WHERE mdtrt_id = :mdtrt_id
    RETURNING {_VISIT_COLUMNS}
    """
)


def _visit(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("diagnoses", "details"):
        if isinstance(out[key], str):
            out[key] = orjson.loads(out[key])
    return out


async def open_visit(
    pool: asyncpg.Pool,
    institution_code: str,
    *,
    psn_no: str,
    insutype: str,
    med_type: str,
    visit_type: str,
    ipt_otp_no: str,
    begntime: date,
    diagnoses: Sequence[str] = (),
    mdtrt_id: str | None = None,
    status: str = "registered",
) -> dict[str, Any]:
    """A new visit; with ``mdtrt_id`` given (a pharmacy sale names it after its settlement) an
    existing one of that id is returned as it is (a replayed sale)."""
    params = {
        "mdtrt_id": mdtrt_id or uuid7().hex,
        "status": status,
        "inst": institution_code,
        "psn_no": psn_no,
        "insutype": insutype,
        "med_type": med_type,
        "visit_type": visit_type,
        "ipt_otp_no": ipt_otp_no,
        "begntime": begntime,
        "diagnoses": orjson.dumps(list(diagnoses)).decode(),
    }
    async with transaction(pool) as db:
        row = await db.fetchrow(OPEN_VISIT, params)
        if row is None:
            row = await db.fetchrow(VISIT, {"mdtrt_id": params["mdtrt_id"], "inst": institution_code})
    assert row is not None
    return _visit(row)


async def visit(pool: asyncpg.Pool, institution_code: str, mdtrt_id: str) -> dict[str, Any]:
    """The institution's visit; another institution's is as unknown as a missing one."""
    row = await _fetchrow(pool, VISIT, {"mdtrt_id": mdtrt_id, "inst": institution_code})
    if row is None:
        raise NotFound(f"就诊不存在 no visit with mdtrt_id {mdtrt_id!r}")
    return _visit(row)


async def settled_visit(pool: asyncpg.Pool, institution_code: str, settlement_id: str) -> dict[str, Any] | None:
    row = await _fetchrow(pool, SETTLED_VISIT, {"settlement_id": settlement_id, "inst": institution_code})
    return None if row is None else _visit(row)


async def change_visit(
    pool: asyncpg.Pool,
    institution_code: str,
    mdtrt_id: str,
    *,
    psn_no: str | None = None,
    expect: Sequence[str] = ("registered",),
    details_were: list[Any] | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """Change a visit in one of the ``expect`` states (locked while changed): fee details are
    replaceable until the visit is settled; a settled visit changes only by its cancel.
    ``details_were``: the details the change was computed from; if another call changed them
    meanwhile the change is refused (``INVALID_STATE``) rather than losing that call's lines."""
    async with transaction(pool) as db:
        row = await db.fetchrow(VISIT_FOR_UPDATE, {"mdtrt_id": mdtrt_id, "inst": institution_code})
        if row is None:
            raise NotFound(f"就诊不存在 no visit with mdtrt_id {mdtrt_id!r}")
        current = _visit(row)
        if psn_no is not None and psn_no != current["psn_no"]:
            raise InvalidState(f"人员编号不符 psn_no does not match visit {mdtrt_id}")
        if current["status"] not in expect:
            raise InvalidState(
                f"就诊状态不允许 visit {mdtrt_id} is {current['status']}; this call needs it {' or '.join(expect)}"
            )
        if details_were is not None and current["details"] != details_were:
            raise InvalidState(
                f"就诊明细已被并发修改 the fee details of visit {mdtrt_id} changed meanwhile; send the call again"
            )
        new = {**current, **changes}
        params = {
            **{
                k: new[k]
                for k in (
                    "mdtrt_id",
                    "med_type",
                    "visit_type",
                    "endtime",
                    "status",
                    "settlement_id",
                    "delivery_type",
                    "babies",
                )
            },
            "diagnoses": orjson.dumps(new["diagnoses"]).decode(),
            "details": orjson.dumps(new["details"]).decode(),
        }
        updated = await db.fetchrow(UPDATE_VISIT, params)
    assert updated is not None
    return _visit(updated)


MARK_SETTLED = Statement(
    f"""
    UPDATE nhsa_visits SET status = 'settled', settlement_id = :settlement_id, endtime = :endtime, updated_at = now()
    WHERE mdtrt_id = :mdtrt_id AND institution_code = :inst AND status = 'registered'
    RETURNING {_VISIT_COLUMNS}
    """
)


async def mark_settled(
    pool: asyncpg.Pool, institution_code: str, mdtrt_id: str, settlement_id: str, endtime: date | None
) -> None:
    """The settle path's one write here, one statement: the visit is settled by ``settlement_id``
    (a replayed settle finds it so already)."""
    params = {"mdtrt_id": mdtrt_id, "inst": institution_code, "settlement_id": settlement_id, "endtime": endtime}
    if await _fetchrow(pool, MARK_SETTLED, params) is None:
        current = await visit(pool, institution_code, mdtrt_id)
        if current["settlement_id"] != settlement_id:
            raise InvalidState(f"就诊状态不允许 visit {mdtrt_id} is {current['status']}")


# ---------------------------------------------------------------- settle a visit (2207, 2304)

#: the visit, locked, with the person fields a settlement record names (one round trip)
VISIT_WITH_PERSON = Statement(
    f"""
    SELECT {", ".join("v." + c.strip() for c in _VISIT_COLUMNS.split(","))},
           p.name AS psn_name, p.gender, p.birth_date,
           (SELECT response FROM nhsa_messages WHERE institution_code = :inst AND msgid = :msgid) AS j_response,
           (SELECT request_hash FROM nhsa_messages WHERE institution_code = :inst AND msgid = :msgid) AS j_hash
    FROM nhsa_visits v LEFT JOIN persons p ON p.id_number = v.psn_no
    WHERE v.mdtrt_id = :mdtrt_id AND v.institution_code = :inst
    FOR UPDATE OF v
    """
)
#: written in the native settle's own statement (``settlements.Alongside``), so a 2207 costs
#: the native round trips plus the visit's locking read: the visit marked settled (unless this
#: is the replay of a settle that did) and the reply journaled. ``nhsa_`` keeps the names and
#: parameters apart from the settle's.
SETTLED_WRITES = """nhsa_marked AS (
        UPDATE nhsa_visits SET status = 'settled', settlement_id = :nhsa_settlement_id, endtime = :nhsa_endtime,
            updated_at = now()
        WHERE mdtrt_id = :nhsa_mdtrt_id AND status = 'registered'
        RETURNING mdtrt_id
    ), nhsa_journaled AS (
        INSERT INTO nhsa_messages
            (institution_code, msgid, infno, request_hash, infcode, settlement_id, mdtrt_id, response)
        VALUES (:nhsa_inst, :nhsa_msgid, :nhsa_infno, :nhsa_request_hash, :nhsa_infcode, :nhsa_j_settlement_id,
                :nhsa_j_mdtrt_id, :nhsa_response)
        ON CONFLICT (institution_code, msgid) DO NOTHING
        RETURNING msgid
    )"""
SETTLED_READ = (
    "EXISTS (SELECT 1 FROM nhsa_marked) AS nhsa_marked, EXISTS (SELECT 1 FROM nhsa_journaled) AS nhsa_journaled"
)


@dataclass(frozen=True)
class SettledVisit:
    visit: dict[str, Any]
    body: dict[str, Any]  # the native settlement body
    person: dict[str, Any]  # the fields of ``brief``, balance after the settlement
    replayed: bool
    answer: bytes | None = None  # the journaled reply


def _first_answer(response: str, request_hash: str, digest: str, msgid: str) -> bytes:
    if request_hash != digest:
        raise IdempotencyConflict(f"报文ID已用于不同请求 msgid {msgid} was already used for a different request")
    return response.encode()


async def settle_visit(
    pool: asyncpg.Pool,
    refs: ReferenceData,
    institution: Institution,
    mdtrt_id: str,
    key: str,
    command: Callable[[dict[str, Any]], SettleBill],
    journal: Callable[[SettledVisit], dict[str, Any]],
    *,
    msgid: str = "",
    digest: str = "",
) -> SettledVisit | bytes:
    """Settle a registered visit with the native ``settle`` in one transaction that also locks
    the visit, marks it settled and journals the reply (``journal``: the parameters of
    ``RECORD`` for the reply built from the result): what the HIS is told and what happened
    commit together, the last two in the settlement's own statement. ``command`` checks the
    visit and builds the native command from it. A settled visit is passed to the native settle
    too: with the same key it replays the first settlement, with another it is refused as a
    second settlement of the visit (``DUPLICATE``).

    The msgid's journal is read in the same round trip as the visit: a msgid answered before
    returns its first answer (bytes) and nothing runs; the same msgid with another request
    (``digest``) is ``IDEMPOTENCY_CONFLICT``, also when such a request journals it meanwhile
    (then nothing of this call is committed)."""
    async with transaction(pool) as db:
        row = await db.fetchrow(VISIT_WITH_PERSON, {"mdtrt_id": mdtrt_id, "inst": institution.code, "msgid": msgid})
        if row is None:
            first = await db.fetchrow(FIND, {"inst": institution.code, "msgid": msgid})
            if first is not None:
                return _first_answer(str(first["response"]), first["request_hash"], digest, msgid)
            raise NotFound(f"就诊不存在 no visit with mdtrt_id {mdtrt_id!r}")
        if row["j_response"] is not None:
            return _first_answer(str(row["j_response"]), row["j_hash"], digest, msgid)
        visit = _visit({k: row[k] for k in _VISIT_NAMES})
        cmd = command(visit)
        birth: date = row["birth_date"]
        on = cmd.service_date
        age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
        done: list[SettledVisit] = []

        def writes(settled: settlements.Settled) -> settlements.Alongside:
            sid = settled.body["settlement_id"]
            person = {
                "psn_no": visit["psn_no"],
                "psn_name": row["psn_name"],
                "gend": GEND.get(row["gender"], "9"),
                "brdy": birth.isoformat(),
                "age": age,
                "scheme": settled.scheme,
                "psn_type": "" if settled.retiree is None else ("12" if settled.retiree else "11"),
                "balc": settled.balance,
            }
            marked = {**visit, "status": "settled", "settlement_id": sid, "endtime": cmd.discharged_on}
            result = SettledVisit(marked, settled.body, person, settled.replayed)
            entry = journal(result)
            done.append(replace(result, answer=str(entry["response"]).encode()))
            params = {
                "nhsa_mdtrt_id": mdtrt_id,
                "nhsa_settlement_id": sid,
                "nhsa_endtime": cmd.discharged_on,
                "nhsa_j_settlement_id": entry["settlement_id"],
                "nhsa_j_mdtrt_id": entry["mdtrt_id"],
                **{f"nhsa_{k}": entry[k] for k in ("inst", "msgid", "infno", "request_hash", "infcode", "response")},
            }
            return settlements.Alongside(SETTLED_WRITES, SETTLED_READ, params)

        result = await settlements.settle(db, refs, institution, cmd, key, alongside=writes)
        written = result.alongside
        assert written is not None and done  # ``writes`` ran and its statement returned a row
        settled = done[0]
        if not written["nhsa_marked"] and visit["settlement_id"] != settled.body["settlement_id"]:
            raise InvalidState(f"就诊状态不允许 visit {mdtrt_id} is {visit['status']}")
        if not written["nhsa_journaled"]:  # another request took this msgid meanwhile
            raise IdempotencyConflict(f"报文ID已用于不同请求 msgid {msgid} was already used for a different request")
    return settled


# ---------------------------------------------------------------- 3201 / 3202 reconciliation

#: the institution's settlement records of a window as the platform counts them: a settlement
#: settled in the window is a record (refd_setl_flag 0) with its amounts, one cancelled in the
#: window a record (flag 1) with the negated amounts (its negative mirror), so a bill settled
#: and cancelled inside the window nets out; only bills the institution billed
#: (``bill_settlement.orm.BILLED_BY_INSTITUTION_SQL``). Read-only over the settlements table; 3201
#: sums these records and 3202 lists them, so the two cannot disagree.
_RECORDS = f"""
    SELECT id AS settlement_id, id_number AS psn_no, r.refd_setl_flag, r.stamp,
           r.sign * total AS medfee, r.sign * fund_total AS fund, r.sign * personal_account AS acct
    FROM settlements
    CROSS JOIN LATERAL (VALUES ('0', 1, settled_at), ('1', -1, cancelled_at)) AS r(refd_setl_flag, sign, stamp)
    WHERE institution_code = :inst AND scheme = ANY(CAST(:schemes AS varchar[]))
      AND visit_type = ANY(CAST(:visit_types AS varchar[])) AND {BILLED_BY_INSTITUTION_SQL}
      AND ((settled_at >= :begin AND settled_at < :end) OR (cancelled_at >= :begin AND cancelled_at < :end))
      AND r.stamp >= :begin AND r.stamp < :end
"""
STATEMENT_TOTALS = Statement(
    f"""
    SELECT count(*) FILTER (WHERE refd_setl_flag = '0') - count(*) FILTER (WHERE refd_setl_flag = '1') AS setl_cnt,
           COALESCE(sum(medfee), 0) AS medfee, COALESCE(sum(fund), 0) AS fund, COALESCE(sum(acct), 0) AS acct
    FROM ({_RECORDS}) AS rec
    """
)
#: the records one by one, with the msgid that settled (flag 0) or cancelled (flag 1) each and
#: the visit it settled, from the journal (empty for a bill settled or cancelled natively)
STATEMENT_RECORDS = Statement(
    f"""
    SELECT rec.settlement_id::text AS setl_id, rec.psn_no, rec.refd_setl_flag, rec.medfee, rec.fund, rec.acct,
           CASE rec.refd_setl_flag WHEN '0' THEN fwd.msgid ELSE rev.msgid END AS msgid,
           COALESCE(fwd.mdtrt_id, rev.mdtrt_id) AS mdtrt_id
    FROM ({_RECORDS}) AS rec
    LEFT JOIN LATERAL (
        SELECT msgid, mdtrt_id FROM nhsa_messages
        WHERE institution_code = :inst AND settlement_id = rec.settlement_id::text AND infcode = 0
          AND left(infno, 4) IN ('2207', '2304', '2102')
        ORDER BY created_at LIMIT 1
    ) AS fwd ON true
    LEFT JOIN LATERAL (
        SELECT msgid, mdtrt_id FROM nhsa_messages
        WHERE institution_code = :inst AND settlement_id = rec.settlement_id::text AND infcode = 0
          AND infno IN ('2208', '2305', '2103', '2601')
        ORDER BY created_at LIMIT 1
    ) AS rev ON true
    ORDER BY rec.stamp, rec.settlement_id, rec.refd_setl_flag
    """
)


def _window(
    institution_code: str, schemes: Sequence[str], visit_types: Sequence[str], begin: date, end: date
) -> dict[str, Any]:
    """The parameters of a window from ``begin`` to ``end`` inclusive (China days)."""
    return {
        "inst": institution_code,
        "schemes": list(schemes),
        "visit_types": list(visit_types),
        "begin": datetime.combine(begin, time.min, tzinfo=CHINA),
        "end": datetime.combine(end + timedelta(days=1), time.min, tzinfo=CHINA),
    }


async def statement_totals(
    pool: asyncpg.Pool, institution_code: str, scheme: str, visit_types: Sequence[str], begin: date, end: date
) -> dict[str, int]:
    """Count (settlements − cancels) and sums (fen) of the institution's records settled or
    cancelled from ``begin`` to ``end`` inclusive (China days)."""
    row = await _fetchrow(pool, STATEMENT_TOTALS, _window(institution_code, [scheme], visit_types, begin, end))
    assert row is not None  # an aggregate always returns one row
    return {k: int(row[k]) for k in ("setl_cnt", "medfee", "fund", "acct")}


async def statement_records(
    pool: asyncpg.Pool,
    institution_code: str,
    schemes: Sequence[str],
    visit_types: Sequence[str],
    begin: date,
    end: date,
) -> list[Record]:
    """The records ``statement_totals`` sums, one by one, in time order (3202)."""
    stmt = STATEMENT_RECORDS
    async with pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS) as conn:
        rows = await conn.fetch(stmt.sql, *stmt.args(_window(institution_code, schemes, visit_types, begin, end)))
    return [
        Record(
            setl_id=r["setl_id"],
            mdtrt_id=r["mdtrt_id"] or "",
            psn_no=r["psn_no"],
            medfee_sumamt=int(r["medfee"]),
            fund_pay_sumamt=int(r["fund"]),
            acct_pay=int(r["acct"]),
            refd_setl_flag=r["refd_setl_flag"],
            msgid=r["msgid"] or "",
        )
        for r in rows
    ]


# ---------------------------------------------------------------- person reads (1101, 2001)


async def person(session: AsyncSession, id_number: str, on: date) -> dict[str, Any]:
    """The person as 1101 shows them, from the people, enrolment and accounts reads."""
    row = await people.get(session, id_number)
    enrolled = await enrolment.get(session, row.id, on.year)
    balance, _ = await accounts.statement(session, row.id, limit=1)
    groups = await session.scalars(select(PersonGroupRow).where(PersonGroupRow.person_id == row.id))
    age = on.year - row.birth_date.year - ((on.month, on.day) < (row.birth_date.month, row.birth_date.day))
    return {
        "person_id": row.id,
        "psn_no": row.id_number,
        "psn_name": row.name,
        "gend": GEND.get(row.gender, "9"),
        "brdy": row.birth_date.isoformat(),
        "age": age,
        "region": row.region,
        "death_date": row.death_date,
        "scheme": enrolled.scheme if enrolled else None,
        "insutype": INSUTYPE_OF_SCHEME[enrolled.scheme] if enrolled else None,
        "coverage_start": enrolled.coverage_start if enrolled else None,
        "psn_type": ("12" if enrolled.retiree else "11") if enrolled else "",
        "balc": balance,
        "groups": [
            {
                "psn_idet_type": g.group,
                "begntime": g.valid_from.isoformat(),
                "endtime": g.valid_to.isoformat() if g.valid_to else None,
            }
            for g in groups
        ],
    }


async def cumulative(session: AsyncSession, id_number: str, year: int) -> dict[str, Any]:
    """5206: the person's accumulators of ``year`` (the settle path's own running totals) and
    the scheme of that year's enrolment (``None`` if not enrolled). Whom 1101 shows, 5206 shows:
    any person by ID number (``INVALID_ID_NUMBER`` / ``PERSON_NOT_FOUND`` as natively)."""
    row = await people.get(session, id_number)
    enrolled = await enrolment.get(session, row.id, year)
    return {
        "psn_no": row.id_number,
        "scheme": enrolled.scheme if enrolled else None,
        "figures": await settlement_queries.year_accumulators(session, row.id, year),
    }


#: what a settlement record names of its person, in one round trip (read-only)
BRIEF = Statement(
    """
    SELECT p.id_number, p.name, p.gender, p.birth_date, e.scheme, e.retiree, a.balance
    FROM persons p
    LEFT JOIN enrolments e ON e.person_id = p.id AND e.year = :year
    LEFT JOIN personal_accounts a ON a.person_id = p.id
    WHERE p.id_number = :id
    ORDER BY e.scheme NULLS LAST
    LIMIT 1
    """
)


async def brief(pool: asyncpg.Pool, id_number: str, on: date) -> dict[str, Any]:
    """The person fields of ``setlinfo`` and the account balance (after the settlement)."""
    row = await _fetchrow(pool, BRIEF, {"id": id_number, "year": on.year})
    if row is None:
        raise NotFound(f"参保人不存在 no person with psn_no {id_number}")
    birth: date = row["birth_date"]
    return {
        "psn_no": row["id_number"],
        "psn_name": row["name"],
        "gend": GEND.get(row["gender"], "9"),
        "brdy": birth.isoformat(),
        "age": on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day)),
        "scheme": row["scheme"],
        "psn_type": "" if row["retiree"] is None else ("12" if row["retiree"] else "11"),
        "balc": None if row["balance"] is None else int(row["balance"]),
    }
