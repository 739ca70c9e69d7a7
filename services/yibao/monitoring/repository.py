"""Rules in the database: load the rule set, seed version 1, publish new versions and switches.

Publishing a version and switching a region are use cases: audited and committed here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidRequest, NotFound
from yibao.monitoring import rules as r
from yibao.monitoring.orm import RuleRegionRow, RuleVersionRow


def _config(row: RuleVersionRow) -> r.RuleConfig:
    return r.RuleConfig(
        rule_id=row.rule_id,
        name=row.name,
        stage=row.stage,
        mode=row.mode,
        locked=row.locked,
        enabled=row.enabled,
        params=dict(row.params),
        version=row.version,
    )


async def load_rules(session: AsyncSession) -> r.RuleSet:
    """Latest version of every rule plus region switches (two small reads, cached with refs)."""
    versions = [_config(row) for row in await session.scalars(select(RuleVersionRow))]  # build() keeps the latest
    switches = (await session.execute(select(RuleRegionRow.rule_id, RuleRegionRow.region, RuleRegionRow.enabled))).all()
    return r.build(versions, [(s.rule_id, s.region, s.enabled) for s in switches])


async def seed(session: AsyncSession, policy_monitoring: Mapping[str, Any]) -> int:
    """Version 1 of every rule not stored yet (idempotent; staff edits are never overwritten)."""
    params = r.seed_params(policy_monitoring)
    rows = [
        {
            "rule_id": d.rule_id,
            "version": 1,
            "name": d.name,
            "stage": d.stage,
            "mode": d.mode,
            "locked": d.locked,
            "enabled": True,
            "params": params[d.rule_id],
            "changed_by": "load-reference",
            "note": "seeded from policy monitoring section and DOMAIN §6 defaults",
        }
        for d in r.DEFAULTS
    ]
    inserted = await session.scalars(
        insert(RuleVersionRow).values(rows).on_conflict_do_nothing().returning(RuleVersionRow.rule_id)
    )
    return len(inserted.all())


def _check_params(rule_id: str, given: Mapping[str, Any]) -> None:
    default = next(d for d in r.DEFAULTS if d.rule_id == rule_id).params
    for key, value in given.items():
        if key not in default:
            raise InvalidRequest(
                f"规则参数无效 rule {rule_id} has no parameter {key!r}; known: {', '.join(sorted(default)) or '-'}"
            )
        want = type(default[key])
        if not isinstance(value, want) or isinstance(value, bool):
            raise InvalidRequest(f"规则参数无效 rule {rule_id} parameter {key!r} must be a {want.__name__}")


async def change(
    uow: UnitOfWork,
    actor: audit.Actor,
    rule_id: str,
    *,
    mode: str | None = None,
    params: Mapping[str, Any] | None = None,
    enabled: bool | None = None,
    note: str = "",
) -> r.RuleConfig:
    """Publish version n+1 (audited, committed); earlier versions stay as history."""
    session = uow.session
    current = (await load_rules(session)).rules.get(rule_id)
    if current is None:
        raise NotFound(f"监控规则 {rule_id} 不存在 rule not found")
    if current.locked and (mode not in (None, current.mode) or enabled is False):
        raise InvalidRequest(f"规则 {rule_id} 为法定拒付 rule {rule_id} is a contract refusal: it cannot be changed")
    if mode is not None:
        allowed = ("block", "warn") if current.stage == "in" else ("post",)
        if mode not in allowed:
            raise InvalidRequest(f"rule {rule_id} (stage {current.stage}) accepts mode {' / '.join(allowed)}")
    if params:
        _check_params(rule_id, params)
    # serialise concurrent edits of one rule: the version number is its primary key
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("rule:" + rule_id))))
    latest = await session.scalar(select(func.max(RuleVersionRow.version)).where(RuleVersionRow.rule_id == rule_id))
    row = RuleVersionRow(
        rule_id=rule_id,
        version=(latest or 0) + 1,
        name=current.name,
        stage=current.stage,
        mode=mode or current.mode,
        locked=current.locked,
        enabled=current.enabled if enabled is None else enabled,
        params={**current.params, **(params or {})},
        changed_by=actor.name,
        note=note,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor,
        "monitoring.rule_changed",
        ("monitoring_rule", rule_id),
        {"version": row.version, "mode": row.mode, "enabled": row.enabled, "params": row.params, "note": note},
    )
    config = _config(row)
    await uow.commit()
    return config


async def switch_region(uow: UnitOfWork, actor: audit.Actor, rule_id: str, region: str, enabled: bool) -> r.RuleConfig:
    """Turn a rule on or off for one pooling region (audited, committed); the rule as it now is."""
    session = uow.session
    current = (await load_rules(session)).rules.get(rule_id)
    if current is None:
        raise NotFound(f"监控规则 {rule_id} 不存在 rule not found")
    if current.locked and not enabled:
        raise InvalidRequest(
            f"规则 {rule_id} 为法定拒付 rule {rule_id} is a contract refusal: it cannot be switched off"
        )
    stmt = insert(RuleRegionRow).values(rule_id=rule_id, region=region, enabled=enabled, changed_by=actor.name)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["rule_id", "region"],
            set_={"enabled": enabled, "changed_by": actor.name, "changed_at": func.now()},
        )
    )
    await audit.record(
        session,
        actor,
        "monitoring.rule_switched",
        ("monitoring_rule", rule_id),
        {"region": region, "enabled": enabled},
    )
    rule = (await load_rules(session)).get(rule_id)
    await uow.commit()
    return rule
