"""``yibao load-reference DIR``: policies (and the monitoring rules they seed), catalogue,
institutions and DIP groups.

Idempotent: reference rows are upserted by code, and a policy version is inserted once
(loading the same version with different content is refused: publish a new version).
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.catalogue.orm import CatalogueItemRow, DipGroupRow
from yibao.errors import InvalidRequest
from yibao.institutions.orm import InstitutionRow
from yibao.money import yuan_to_fen
from yibao.monitoring.repository import seed as seed_rules
from yibao.nhsa.orm import NhsaCatalogueCodeRow
from yibao.policy.orm import PolicyVersionRow
from yibao.policy.params import PolicyParams
from yibao.values import CatalogueItem


@dataclass
class LoadReport:
    policies_added: list[str]
    policies_unchanged: list[str]
    catalogue_items: int
    institutions: int
    dip_groups: int
    nhsa_codes: int = 0

    def lines(self) -> list[str]:
        return [
            f"policies added: {', '.join(self.policies_added) or '-'}",
            f"policies already loaded: {', '.join(self.policies_unchanged) or '-'}",
            f"catalogue items: {self.catalogue_items}",
            f"institutions: {self.institutions}",
            f"DIP groups: {self.dip_groups}",
            f"national catalogue codes: {self.nhsa_codes}",
        ]


def _opt(value: str) -> str | None:
    value = value.strip()
    return value or None


def _opt_int(value: str) -> int | None:
    v = _opt(value)
    return int(v) if v is not None else None


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def catalogue_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for r in _read_csv(path):
        cap = _opt(r["price_cap"])
        ratio = _opt(r["b_self_pay_ratio"])
        units = _opt(r["max_units_per_day"])
        rows.append(
            {
                "code": r["code"].strip(),
                "name": r["name"].strip(),
                "kind": r["kind"].strip(),
                "item_class": r["class"].strip().upper(),
                "b_self_pay_ratio": Decimal(ratio) if ratio else None,
                "price_cap": yuan_to_fen(cap) if cap else None,
                "gender": _opt(r["gender"]),
                "min_age": _opt_int(r["min_age"]),
                "max_age": _opt_int(r["max_age"]),
                "min_level": _opt_int(r["min_level"]),
                "max_days_supply": _opt_int(r["max_days_supply"]),
                "max_units_per_day": Decimal(units) if units else None,
                "trace_required": r["trace_required"].strip().lower() == "true",
                "procured": r["procured"].strip().lower() == "true",
            }
        )
    return rows


def catalogue_items(path: Path) -> dict[str, CatalogueItem]:
    """A catalogue file as the values the calculation prices with, by code (no database)."""
    return {row["code"]: CatalogueItem(**row) for row in catalogue_rows(path)}


def institution_rows(path: Path) -> list[dict[str, Any]]:
    return [
        {
            "code": r["code"].strip(),
            "name": r["name"].strip(),
            "type": r["type"].strip(),
            "level": int(r["level"]),
            "region": r["region"].strip(),
            "agreement": r["agreement"].strip(),
            "suspended_until": None,
            "credit_grade": r["credit_grade"].strip(),
            "annual_budget": yuan_to_fen(r["annual_budget"]),
            "dip_coefficient": Decimal(r["dip_coefficient"]) if _opt(r["dip_coefficient"]) else None,
        }
        for r in _read_csv(path)
    ]


def dip_rows(path: Path) -> list[dict[str, Any]]:
    return [
        {
            "code": r["code"].strip(),
            "name": r["name"].strip(),
            "main_diagnosis": r["main_diagnosis"].strip(),
            "procedure": r["procedure"].strip(),
            "points": int(r["points"]),
            "average_cost": yuan_to_fen(r["average_cost"]),
        }
        for r in _read_csv(path)
    ]


def nhsa_code_rows(path: Path, catalogue_codes: set[str] | None = None) -> list[dict[str, Any]]:
    """National catalogue code (医保目录编码) → product catalogue item; a row naming an item the
    catalogue does not have is refused with its line (the mapping would settle nothing)."""
    rows = []
    for n, r in enumerate(_read_csv(path), start=2):
        item = r["item_code"].strip()
        if catalogue_codes is not None and item not in catalogue_codes:
            raise InvalidRequest(f"{path.name} line {n}: unknown catalogue item {item!r}")
        rows.append({"national_code": r["national_code"].strip(), "item_code": item, "name": r["name"].strip()})
    return rows


async def _upsert(
    session: AsyncSession,
    table: Any,
    rows: list[dict[str, Any]],
    key: str,
    keep: tuple[str, ...] = (),
) -> int:
    """Insert or update by ``key``; ``keep`` columns are operational state set only on insert."""
    if not rows:
        return 0
    stmt = insert(table).values(rows)
    update = {c: stmt.excluded[c] for c in rows[0] if c != key and c not in keep}
    await session.execute(stmt.on_conflict_do_update(index_elements=[key], set_=update))
    return len(rows)


async def load_policy(session: AsyncSession, doc: dict[str, Any]) -> bool:
    """Insert a policy version; ``False`` if that exact version is already loaded."""
    params = PolicyParams.parse(doc)  # refuses a malformed document before anything is written
    checksum = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    existing = await session.scalar(select(PolicyVersionRow).where(PolicyVersionRow.version == params.version))
    if existing is not None:
        if existing.checksum != checksum:
            raise InvalidRequest(
                f"policy version {params.version} is already loaded with different content; "
                "publish the change under a new version"
            )
        return False
    session.add(
        PolicyVersionRow(
            region=params.region,
            year=params.year,
            version=params.version,
            checksum=checksum,
            document=doc,
        )
    )
    await session.flush()
    return True


async def load_reference(session: AsyncSession, directory: Path) -> LoadReport:
    """Load every reference file found in ``directory`` (policy-*.json, the three CSVs and the
    national catalogue-code map ``nhsa-catalog-map.csv``)."""
    if not directory.is_dir():
        raise InvalidRequest(f"reference directory not found: {directory}")
    added: list[str] = []
    unchanged: list[str] = []
    institutions = catalogue = dips = 0
    if (directory / "institutions.csv").exists():
        institutions = await _upsert(
            session,
            InstitutionRow,
            institution_rows(directory / "institutions.csv"),
            "code",
            keep=("agreement", "suspended_until", "credit_grade"),  # owned by monitoring once live
        )
    if (directory / "catalog.csv").exists():
        catalogue = await _upsert(session, CatalogueItemRow, catalogue_rows(directory / "catalog.csv"), "code")
    if (directory / "dip-groups.csv").exists():
        dips = await _upsert(session, DipGroupRow, dip_rows(directory / "dip-groups.csv"), "code")
    nhsa_codes = 0
    if (directory / "nhsa-catalog-map.csv").exists():
        known = set((await session.scalars(select(CatalogueItemRow.code))).all())
        rows = nhsa_code_rows(directory / "nhsa-catalog-map.csv", known)
        nhsa_codes = await _upsert(session, NhsaCatalogueCodeRow, rows, "national_code")
    for path in sorted(directory.glob("policy-*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        (added if await load_policy(session, doc) else unchanged).append(str(doc["version"]))
        if isinstance(doc.get("monitoring"), dict):  # first seeding wins; staff edits are kept
            await seed_rules(session, doc["monitoring"])
    return LoadReport(added, unchanged, catalogue, institutions, dips, nhsa_codes)
