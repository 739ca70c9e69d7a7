"""Active policy lookup: the newest loaded version for a region and year."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.policy.orm import PolicyVersionRow
from yibao.policy.params import GroupParams, PolicyParams


async def load_active(session: AsyncSession) -> dict[tuple[str, int], PolicyParams]:
    """Every region/year's newest version (highest id), parsed once."""
    newest = select(func.max(PolicyVersionRow.id)).group_by(PolicyVersionRow.region, PolicyVersionRow.year)
    rows = await session.scalars(select(PolicyVersionRow).where(PolicyVersionRow.id.in_(newest)))
    return {(r.region, r.year): PolicyParams.parse(r.document) for r in rows}


async def is_pooling_region(session: AsyncSession, region: str) -> bool:
    """Whether ``region`` is a pooling region (统筹区) of the reference data: one that has a policy
    loaded for some year. A person or an employer belongs to one; 999999 is no region."""
    found = await session.scalar(select(PolicyVersionRow.id).where(PolicyVersionRow.region == region).limit(1))
    return found is not None


async def groups_of(session: AsyncSession, region: str, year: int) -> dict[str, GroupParams]:
    """The special groups of ``region``'s policy for ``year`` (its newest version); for a year
    without a policy, those of the nearest year that has one (empty for no pooling region)."""
    row = await session.scalar(
        select(PolicyVersionRow)
        .where(PolicyVersionRow.region == region)
        .order_by(func.abs(PolicyVersionRow.year - year), PolicyVersionRow.year.desc(), PolicyVersionRow.id.desc())
        .limit(1)
    )
    return PolicyParams.parse(row.document).groups if row is not None else {}
