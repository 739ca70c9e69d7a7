from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, SmallInteger, String, func
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class ProcurementVolumeRow(Base):
    """An institution's procurement amount (集采采购总金额) of a year, from an imported CSV; a later
    import of the same institution and year replaces the figure."""

    __tablename__ = "procurement_volumes"

    institution_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    amount: Mapped[int] = mapped_column(FenColumn)
    imported_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
