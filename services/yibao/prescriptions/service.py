"""Issue, read and cancel e-prescriptions (电子处方流转, DOMAIN §9).

A hospital issues a prescription with its key (valid ``VALID_DAYS`` days unless it says
otherwise) and gets a pickup code for the patient; a pharmacy reads it with that code (its
own hospital reads it without). Dispensing is the pharmacy bill's settlement (``prescription_id``
on the bill): once, given back when that bill is cancelled. Use cases take ``(uow, actor, ...)``,
write their audit entry and commit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.db.statements import SessionDb
from yibao.db.uow import UnitOfWork
from yibao.errors import Duplicate, InvalidRequest, InvalidState, NotFound, PersonNotFound, UnknownItem
from yibao.members import codes
from yibao.people import id_number as ids
from yibao.people.orm import PersonRow
from yibao.prescriptions.orm import PrescriptionRow
from yibao.reference import ReferenceData

VALID_DAYS = 3  # DOMAIN §9: an e-prescription is valid 3 days


@dataclass(frozen=True)
class RxItem:
    item_code: str
    quantity: Decimal
    days_supply: int | None = None


@dataclass(frozen=True)
class Issue:
    rx_id: str
    doctor_code: str
    id_number: str
    diagnoses: tuple[str, ...]
    items: tuple[RxItem, ...]
    valid_until: date | None = None


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def _dispensed(session: AsyncSession, rx_id: str) -> str | None:
    """The settlement that dispensed it (``prescription_dispensings``, the settle path's table)."""
    value = await session.scalar(
        text("SELECT CAST(settlement_id AS text) FROM prescription_dispensings WHERE rx_id = :rx"), {"rx": rx_id}
    )
    return None if value is None else str(value)


async def render(session: AsyncSession, row: PrescriptionRow, pickup_code: str | None = None) -> dict[str, Any]:
    dispensed_by = await _dispensed(session, row.rx_id)
    status = row.status
    if status == "issued" and dispensed_by is not None:
        status = "dispensed"
    elif status == "issued" and row.valid_until < clock.today():
        status = "expired"
    body: dict[str, Any] = {
        "rx_id": row.rx_id,
        "institution_code": row.institution_code,
        "doctor_code": row.doctor_code,
        "id_number": ids.mask(row.id_number),
        "diagnoses": list(row.diagnoses),
        "items": row.items,
        "issued_at": row.issued_at.isoformat(),
        "valid_until": row.valid_until.isoformat(),
        "status": status,
        "dispensed_by_settlement": dispensed_by,
    }
    if pickup_code is not None:
        body["pickup_code"] = pickup_code
    return body


async def issue(
    uow: UnitOfWork, actor: audit.Actor, refs: ReferenceData, institution_code: str, cmd: Issue
) -> dict[str, Any]:
    """A hospital issues a prescription; the answer (only this one) carries the pickup code."""
    session = uow.session
    institution = refs.institutions[institution_code]
    if institution.type == "pharmacy":
        raise InvalidRequest("药店不能开具处方 a pharmacy cannot issue prescriptions")
    number = ids.parse(cmd.id_number).id_number
    person = await session.scalar(select(PersonRow).where(PersonRow.id_number == number))
    if person is None:
        raise PersonNotFound(f"参保人不存在 no person with ID {ids.mask(number)}")
    for item in cmd.items:
        if item.item_code not in refs.catalogue:
            raise UnknownItem(f"目录项目不存在 unknown item {item.item_code!r}")
    if len({i.item_code for i in cmd.items}) != len(cmd.items):
        raise InvalidRequest("an item appears twice on the prescription")
    issued_at = clock.now()
    today = clock.today()
    valid_until = cmd.valid_until or today + timedelta(days=VALID_DAYS - 1)
    if valid_until < today:
        raise InvalidRequest(f"valid_until {valid_until} is before today {today}")
    if await session.get(PrescriptionRow, cmd.rx_id) is not None:
        raise Duplicate(f"处方 {cmd.rx_id} 已存在 prescription {cmd.rx_id} already exists")
    code = f"{secrets.randbelow(10**8):08d}"
    row = PrescriptionRow(
        rx_id=cmd.rx_id,
        institution_code=institution_code,
        region=institution.region,
        doctor_code=cmd.doctor_code,
        person_id=person.id,
        id_number=person.id_number,
        diagnoses=list(cmd.diagnoses),
        items=[
            {"item_code": i.item_code, "quantity": str(i.quantity), "days_supply": i.days_supply} for i in cmd.items
        ],
        issued_at=issued_at,
        valid_until=valid_until,
        status="issued",
        pickup_code_sha256=_digest(code),
    )
    session.add(row)
    await session.flush()
    await audit.record(session, actor, "prescription.issued", ("prescription", row.rx_id), {"items": len(row.items)})
    body = await render(session, row, pickup_code=code)
    await uow.commit()
    return body


@dataclass(frozen=True)
class Consent:
    """What a pharmacy shows to read a prescription it did not issue: the pickup code printed
    for the patient, or the patient's member QR code (医保码, with the secret that signs it)."""

    pickup_code: str | None = None
    member_code: str | None = None
    code_secret: str = ""


async def read(session: AsyncSession, institution_code: str, rx_id: str, consent: Consent) -> dict[str, Any]:
    """The issuing hospital reads its own; any other institution (a pharmacy) needs the patient's
    consent: the pickup code, or a valid, unused member QR code of the prescription's own person
    (not consumed: the bill that dispenses it redeems the code). Otherwise ``NOT_FOUND`` (no
    telling whether it exists); an expired or used member code says so."""
    row = await session.get(PrescriptionRow, rx_id)
    if row is None or not (row.institution_code == institution_code or await _consented(session, row, consent)):
        raise NotFound(f"处方 {rx_id} 不存在 prescription not found")
    return await render(session, row)


async def _consented(session: AsyncSession, row: PrescriptionRow, consent: Consent) -> bool:
    if consent.pickup_code is not None and hmac.compare_digest(_digest(consent.pickup_code), row.pickup_code_sha256):
        return True
    if consent.member_code is not None:
        return await codes.holder(SessionDb(session), consent.member_code, consent.code_secret) == row.person_id
    return False


async def cancel(uow: UnitOfWork, actor: audit.Actor, institution_code: str, rx_id: str) -> dict[str, Any]:
    """The issuing hospital cancels a prescription not dispensed."""
    session = uow.session
    row = await session.get(PrescriptionRow, rx_id, with_for_update=True)
    if row is None or row.institution_code != institution_code:
        raise NotFound(f"处方 {rx_id} 不存在 prescription not found")
    if row.status != "issued" or await _dispensed(session, rx_id) is not None:
        raise InvalidState(f"处方 {rx_id} 不能撤销 the prescription is dispensed or cancelled already")
    row.status = "cancelled"
    await session.flush()
    await audit.record(session, actor, "prescription.cancelled", ("prescription", rx_id), {})
    body = await render(session, row)
    await uow.commit()
    return body
