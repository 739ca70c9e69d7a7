"""Catalogue rows → pure ``CatalogueItem`` values for the benefit calculation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.catalogue.orm import CatalogueItemRow
from yibao.money import Fen
from yibao.values import CatalogueItem


def to_item(row: CatalogueItemRow) -> CatalogueItem:
    return CatalogueItem(
        code=row.code,
        name=row.name,
        kind=row.kind,
        item_class=row.item_class,  # type: ignore[arg-type]
        b_self_pay_ratio=row.b_self_pay_ratio,
        price_cap=Fen(row.price_cap) if row.price_cap is not None else None,
        gender=row.gender,  # type: ignore[arg-type]
        min_age=row.min_age,
        max_age=row.max_age,
        min_level=row.min_level,
        max_days_supply=row.max_days_supply,
        max_units_per_day=row.max_units_per_day,
        trace_required=row.trace_required,
        procured=row.procured,
    )


async def load_all(session: AsyncSession) -> dict[str, CatalogueItem]:
    rows = await session.scalars(select(CatalogueItemRow))
    return {row.code: to_item(row) for row in rows}
