from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, Integer, Numeric, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class CatalogueItemRow(Base):
    __tablename__ = "catalogue_items"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    item_class: Mapped[str] = mapped_column(String(1))
    b_self_pay_ratio: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    price_cap: Mapped[int | None] = mapped_column(FenColumn)
    gender: Mapped[str | None] = mapped_column(String(1))
    min_age: Mapped[int | None] = mapped_column(SmallInteger)
    max_age: Mapped[int | None] = mapped_column(SmallInteger)
    min_level: Mapped[int | None] = mapped_column(SmallInteger)
    max_days_supply: Mapped[int | None] = mapped_column(Integer)
    max_units_per_day: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    trace_required: Mapped[bool] = mapped_column(Boolean, default=False)
    procured: Mapped[bool] = mapped_column(Boolean, default=False)


class DipGroupRow(Base):
    __tablename__ = "dip_groups"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    main_diagnosis: Mapped[str] = mapped_column(String(20), index=True)
    procedure: Mapped[str] = mapped_column(String(20), default="")  # "" = conservative care
    points: Mapped[int] = mapped_column(Integer)
    average_cost: Mapped[int] = mapped_column(FenColumn)
