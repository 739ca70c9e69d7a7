"""Import procurement volumes (CSV ``institution_code,year,amount``, amount in yuan): all rows or
none (a bad row is named in the refusal); a row equal to what is stored changes nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidRequest
from yibao.institutions.orm import InstitutionRow
from yibao.money import Fen, yuan_to_fen
from yibao.procurement.orm import ProcurementVolumeRow

COLUMNS = ["institution_code", "year", "amount"]
MAX_ROWS = 100_000


@dataclass(frozen=True)
class Imported:
    rows: int
    changed: int


def _parse(content: bytes) -> list[tuple[str, int, Fen]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("文件须为 UTF-8 编码 the file must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != COLUMNS:
        raise InvalidRequest(f"表头须为 {','.join(COLUMNS)} the header must be {','.join(COLUMNS)}")
    out: list[tuple[str, int, Fen]] = []
    seen: set[tuple[str, int]] = set()
    for n, row in enumerate(reader, start=2):
        if n - 1 > MAX_ROWS:
            raise InvalidRequest(f"最多 {MAX_ROWS} 行 at most {MAX_ROWS} rows")
        try:
            code, year, raw = row["institution_code"].strip(), int(row["year"]), Decimal(row["amount"])
        except (ValueError, InvalidOperation, AttributeError):
            raise InvalidRequest(f"第 {n} 行无效 line {n}: year must be an integer, amount a yuan figure") from None
        if not code or not 2000 <= year <= 2100 or raw < 0 or raw.as_tuple().exponent < -2:  # type: ignore[operator]
            raise InvalidRequest(f"第 {n} 行无效 line {n}: institution, year 2000–2100, amount ≥ 0 with 2 decimals")
        if (code, year) in seen:
            raise InvalidRequest(f"第 {n} 行重复 line {n}: {code} {year} appears twice")
        seen.add((code, year))
        out.append((code, year, yuan_to_fen(raw)))
    if not out:
        raise InvalidRequest("文件无数据行 the file has no rows")
    return out


async def import_csv(uow: UnitOfWork, actor: audit.Actor, content: bytes) -> Imported:
    """Upsert every row (audited ``procurement.volumes.imported``, committed)."""
    rows = _parse(content)
    s = uow.session
    codes = sorted({c for c, _, _ in rows})
    known = set((await s.scalars(select(InstitutionRow.code).where(InstitutionRow.code.in_(codes)))).all())
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InvalidRequest(f"定点机构不存在 unknown institutions: {', '.join(unknown[:10])}")
    stmt = insert(ProcurementVolumeRow).values(
        [{"institution_code": c, "year": y, "amount": int(a), "imported_by": actor.name} for c, y, a in rows]
    )
    result = await s.execute(
        stmt.on_conflict_do_update(
            index_elements=[ProcurementVolumeRow.institution_code, ProcurementVolumeRow.year],
            set_={"amount": stmt.excluded.amount, "imported_by": stmt.excluded.imported_by},
            where=ProcurementVolumeRow.amount != stmt.excluded.amount,
        )
    )
    changed = int(getattr(result, "rowcount", 0) or 0)
    detail = {"rows": len(rows), "changed": changed}
    await audit.record(s, actor, "procurement.volumes.imported", ("procurement_volumes", str(len(rows))), detail)
    await uow.commit()
    return Imported(len(rows), changed)


async def volume(session: AsyncSession, institution_code: str, year: int) -> Fen | None:
    amount = await session.scalar(
        select(ProcurementVolumeRow.amount).where(
            ProcurementVolumeRow.institution_code == institution_code, ProcurementVolumeRow.year == year
        )
    )
    return None if amount is None else Fen(int(amount))
