"""Tables of the national-interface adapter: the message journal, the visits, the code map, the
exchanged files (9101/9102)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base


class NhsaMessageRow(Base):
    """One answered envelope: a repeated ``msgid`` gets ``response`` back byte for byte."""

    __tablename__ = "nhsa_messages"
    #: 3202 names the msgid that settled or cancelled each settlement record
    __table_args__ = (Index("ix_nhsa_messages_settlement", "institution_code", "settlement_id"),)

    institution_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    msgid: Mapped[str] = mapped_column(String(40), primary_key=True)
    infno: Mapped[str] = mapped_column(String(8))
    request_hash: Mapped[str] = mapped_column(String(64))
    infcode: Mapped[int] = mapped_column()
    #: what 2601 needs to reverse this call: the settlement it made, the visit it opened
    settlement_id: Mapped[str | None] = mapped_column(String(40))
    mdtrt_id: Mapped[str | None] = mapped_column(String(40))
    reversed_by: Mapped[str | None] = mapped_column(String(40))
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class NhsaVisitRow(Base):
    """A visit (就诊) an HIS registered through the envelope, and its fee lines until settled."""

    __tablename__ = "nhsa_visits"
    __table_args__ = (Index("ix_nhsa_visits_institution_visit", "institution_code", "ipt_otp_no"),)

    mdtrt_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(20))
    psn_no: Mapped[str] = mapped_column(String(18))  # the person's ID number
    insutype: Mapped[str] = mapped_column(String(6))
    med_type: Mapped[str] = mapped_column(String(8))
    #: outpatient / chronic_outpatient / inpatient / pharmacy / maternity_outpatient / maternity_inpatient
    visit_type: Mapped[str] = mapped_column(String(20))
    ipt_otp_no: Mapped[str] = mapped_column(String(64))
    begntime: Mapped[date] = mapped_column(Date)
    endtime: Mapped[date | None] = mapped_column(Date)
    #: registered / settled / cancelled (registration withdrawn)
    status: Mapped[str] = mapped_column(String(12))
    diagnoses: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default="[]")
    #: the uploaded fee lines (2204/2301), each with its national code and the mapped item
    details: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default="[]")
    settlement_id: Mapped[str | None] = mapped_column(String(40))
    #: a maternity stay's delivery (med_type 52; 2401/2402 ``matn_type``, ``fetus_cnt``):
    #: the native ``delivery_type`` (vaginal / caesarean) and ``babies``
    delivery_type: Mapped[str | None] = mapped_column(String(12))
    babies: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class NhsaCatalogueCodeRow(Base):
    """National catalogue code (医保目录编码) → this product's catalogue item (reference data)."""

    __tablename__ = "nhsa_catalogue_codes"

    national_code: Mapped[str] = mapped_column(String(60), primary_key=True)
    item_code: Mapped[str] = mapped_column(ForeignKey("catalogue_items.code"))
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")


class NhsaFileRow(Base):
    """A file exchanged with an institution: one it uploaded (9101, e.g. a 3202 detail file) or
    one made for it (a 3202 result), downloadable (9102) by that institution alone until
    ``dld_endtime``. ``msgid`` is the call that made it: a retry of that call finds this row."""

    __tablename__ = "nhsa_files"
    __table_args__ = (UniqueConstraint("institution_code", "msgid", name="uq_nhsa_files_msgid"),)

    file_qury_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(20))
    msgid: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))  # upload / result
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    dld_endtime: Mapped[datetime] = mapped_column(DateTime(timezone=True))
