"""Monitoring rules as data, and the pure in-settlement predicates.

Why data: inspectors tune thresholds and switch rules per pooling region without a deploy.
Every rule has an id, a name, a stage (``in`` = during settlement, ``post`` = batch model,
``config`` = parameters of the workflow and alerts), a mode (``block`` refuses the bill,
``warn`` lets it through with a warning, ``post`` runs after settlement), parameters in
immutable versions (like policy), and an on/off switch per region.

Three refusals are part of the settlement contract (DOMAIN §4) and are ``locked``: deceased,
agreement not active, traceability code already settled. They keep their own error codes
(PERSON_DECEASED, INSTITUTION_NOT_ACTIVE, TRACE_CODE_ALREADY_SETTLED) and cannot be switched
off or downgraded to a warning.

The predicates here are pure: the restriction, units-per-day and days-of-supply checks are
the benefit calculation's own line signals (computed once per bill, reused here instead of
re-derived), and the inpatient overlap and the running supplies of the bill's items (超量开药)
are decided from facts the settle path reads in its existing patient query.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from yibao.errors import RuleBlocked
from yibao.values import RuleWarning


@dataclass(frozen=True)
class RuleDefault:
    rule_id: str
    name: str
    stage: str
    mode: str
    params: Mapping[str, Any]
    locked: bool = False


#: The shipped defaults (DOMAIN §6). The policy JSON ``monitoring`` section overrides the
#: thresholds it names when rules are seeded (see :func:`seed_params`).
DEFAULTS: tuple[RuleDefault, ...] = (
    RuleDefault("deceased", "参保人死亡后就诊 person deceased before the service date", "in", "block", {}, True),
    RuleDefault("agreement_inactive", "定点协议未生效 institution agreement not active", "in", "block", {}, True),
    RuleDefault("trace_code_reused", "追溯码重复结算 traceability code already settled", "in", "block", {}, True),
    RuleDefault("gender_restriction", "性别限制 gender restriction", "in", "warn", {}),
    RuleDefault("age_restriction", "年龄限制 age restriction", "in", "warn", {}),
    RuleDefault("level_restriction", "医院等级限制 institution level restriction", "in", "warn", {}),
    RuleDefault("units_per_day", "超每日限量 units per day above the item's limit", "in", "warn", {}),
    RuleDefault("days_supply", "超限定天数 days of supply above the item's limit", "in", "warn", {}),
    RuleDefault(
        "inpatient_overlap", "住院期间他院门诊 outpatient at another institution during a stay", "in", "warn", {}
    ),
    RuleDefault(
        "oversupply",
        "超量开药 an item dispensed again while more than N days of an earlier supply remain",
        "in",
        "warn",
        {"days": 7},
    ),
    RuleDefault("split_admission", "分解住院 readmission within days of discharge", "post", "post", {"days": 15}),
    RuleDefault("frequent_admissions", "频繁住院 frequent admissions", "post", "post", {"count": 3, "days": 90}),
    RuleDefault(
        "bed_hogging",
        "挂床住院 inpatient days with only bed and nursing fees",
        "post",
        "post",
        {"item_prefixes": ["S-BED", "S-NURS"]},
    ),
    RuleDefault("visits_per_day", "异常就诊 too many visits a day", "post", "post", {"max_per_day": 3}),
    RuleDefault(
        "institutions_per_week",
        "异常就诊 too many institutions in a week",
        "post",
        "post",
        {"max_institutions": 4, "days": 7},
    ),
    RuleDefault("claims_after_death", "死亡后结算 claims dated after the death date", "post", "post", {}),
    RuleDefault("trace_code_duplicate", "追溯码重复 one traceability code on two settlements", "post", "post", {}),
    RuleDefault(
        "institution_outlier",
        "机构费用异常 cost per inpatient case far above same-level peers",
        "post",
        "post",
        {"sigmas": "3", "min_cases": 5, "min_peers": 5},
    ),
    RuleDefault(
        "duplicate_test",
        "重复检查 the same test at two institutions within days",
        "post",
        "post",
        {"days": 7, "items": ["S-BLRT", "S-CTHD", "S-MRI", "S-PSA", "S-HPV"]},
    ),
    RuleDefault(
        "chronic_high_cost",
        "特病高额费用 a recognised patient's spending on the disease this year above k × the region's mean",
        "post",
        "post",
        {"k": 3},
    ),
    RuleDefault(
        "credit_grade",
        "信用等级 grade from confirmed violations in a window",
        "config",
        "post",
        {"window_days": 365, "thresholds": {"B": 1, "C": 3, "D": 5}},
    ),
    RuleDefault(
        "penalty", "处罚倍数 penalty multiple bounds", "config", "post", {"min_multiple": 1, "max_multiple": 5}
    ),
    RuleDefault("return_to_poverty", "因病返贫监测 annual self-pay above", "config", "post", {"self_pay": "50000.00"}),
    RuleDefault(
        "fund_health",
        "基金运行 months of balance below",
        "config",
        "post",
        {"months_alert": 6},  # the figures are the ledger's fund position (yibao.ledger.position)
    ),
    RuleDefault("budget_growth", "机构费用增长 spending pace above budget pace", "config", "post", {"factor": "1.5"}),
    RuleDefault(
        "maternity_allowance_suspect",
        "疑似虚构劳动关系 maternity allowance: contributions began shortly before delivery, or no other contributor",
        "post",
        "post",
        {"months": 10},
    ),
)


@dataclass(frozen=True)
class RuleConfig:
    """A rule as in force: the latest version plus its region switches."""

    rule_id: str
    name: str
    stage: str
    mode: str
    locked: bool
    enabled: bool
    params: Mapping[str, Any]
    version: int = 0  # 0 = shipped default, never stored
    regions: Mapping[str, bool] = field(default_factory=dict)

    def enabled_in(self, region: str) -> bool:
        return self.regions.get(region, self.enabled)


def _from_default(d: RuleDefault) -> RuleConfig:
    return RuleConfig(d.rule_id, d.name, d.stage, d.mode, d.locked, True, copy.deepcopy(dict(d.params)))


@dataclass(frozen=True)
class RuleSet:
    rules: Mapping[str, RuleConfig]

    @staticmethod
    def defaults() -> RuleSet:
        return RuleSet({d.rule_id: _from_default(d) for d in DEFAULTS})

    def get(self, rule_id: str) -> RuleConfig:
        return self.rules[rule_id]

    def params(self, rule_id: str) -> Mapping[str, Any]:
        return self.rules[rule_id].params


def build(versions: Iterable[RuleConfig], switches: Iterable[tuple[str, str, bool]]) -> RuleSet:
    """Overlay stored versions (latest per rule) and region switches on the shipped defaults."""
    rules = dict(RuleSet.defaults().rules)
    for v in versions:
        current = rules.get(v.rule_id)
        if current is None or v.version >= current.version:
            rules[v.rule_id] = v
    by_rule: dict[str, dict[str, bool]] = {}
    for rule_id, region, enabled in switches:
        by_rule.setdefault(rule_id, {})[region] = enabled
    for rule_id, regions in by_rule.items():
        if rule_id in rules:
            r = rules[rule_id]
            rules[rule_id] = RuleConfig(
                r.rule_id, r.name, r.stage, r.mode, r.locked, r.enabled, r.params, r.version, regions
            )
    return RuleSet(rules)


def seed_params(policy_monitoring: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Default params per rule with the thresholds a policy document's ``monitoring`` names."""
    params = {d.rule_id: copy.deepcopy(dict(d.params)) for d in DEFAULTS}
    m = policy_monitoring
    if "split_admission_days" in m:
        params["split_admission"]["days"] = int(m["split_admission_days"])
    if "frequent_admissions" in m:
        params["frequent_admissions"] = {
            "count": int(m["frequent_admissions"]["count"]),
            "days": int(m["frequent_admissions"]["days"]),
        }
    visits = m.get("abnormal_visits") or {}
    if "per_day" in visits:
        params["visits_per_day"]["max_per_day"] = int(visits["per_day"])
    if "institutions_per_week" in visits:
        params["institutions_per_week"]["max_institutions"] = int(visits["institutions_per_week"])
    if "return_to_poverty_self_pay" in m:
        params["return_to_poverty"]["self_pay"] = str(m["return_to_poverty_self_pay"])
    if "fund_months_of_balance_alert" in m:
        params["fund_health"]["months_alert"] = int(m["fund_months_of_balance_alert"])
    if "penalty_multiple" in m:
        params["penalty"] = {
            "min_multiple": int(m["penalty_multiple"]["min"]),
            "max_multiple": int(m["penalty_multiple"]["max"]),
        }
    return params


# ---------------------------------------------------------------- in-settlement predicates


@dataclass(frozen=True)
class StayOverlap:
    """An inpatient stay at another institution that encloses this bill's service date."""

    settlement_id: str
    institution_code: str
    admitted_on: date
    discharged_on: date


OVERLAP_VISIT_TYPES = ("outpatient", "chronic_outpatient", "pharmacy")


def overlap_warning(visit_type: str, service_date: date, stay: StayOverlap | None) -> RuleWarning | None:
    """Outpatient-type bill dated strictly inside another institution's inpatient stay."""
    if visit_type not in OVERLAP_VISIT_TYPES or stay is None:
        return None
    if not stay.admitted_on < service_date < stay.discharged_on:
        return None
    return RuleWarning(
        rule="inpatient_overlap",
        message=(
            f"住院期间他院门诊 outpatient on {service_date} during an inpatient stay at "
            f"{stay.institution_code} ({stay.admitted_on} – {stay.discharged_on}, settlement {stay.settlement_id})"
        ),
    )


#: bills whose lines with days of supply are a supply taken home (and so write ``item_supplies``)
SUPPLY_VISIT_TYPES = ("outpatient", "chronic_outpatient", "pharmacy")


@dataclass(frozen=True)
class Supply:
    """A person's earlier supply of an item: from ``starts_on`` to the day before ``ends_on``."""

    item_code: str
    starts_on: date
    ends_on: date
    settlement_id: str


def supplied_items(visit_type: str, prescribed: bool, lines: Iterable[tuple[str, int | None]]) -> list[str]:
    """The items a bill supplies (``lines``: item code, days of supply): lines with days of supply
    of an outpatient, chronic or pharmacy bill, and every line of a prescription-backed one (its
    days are the prescription's). Only these are looked up for 超量开药."""
    if visit_type not in SUPPLY_VISIT_TYPES:
        return []
    return sorted({code for code, days in lines if days is not None or prescribed})


def oversupply_warnings(
    service_date: date, items: Iterable[str], supplies: Mapping[str, Supply], params: Mapping[str, Any]
) -> tuple[RuleWarning, ...]:
    """超量开药 (DOMAIN §9): an item supplied again while more than ``days`` days of an earlier
    supply of it remain (earlier start + its days − this service date). ``supplies``: per item, the
    person's earlier supply lasting longest past the date, as the patient statement reads it."""
    limit = int(params["days"])
    out = []
    for code in items:
        earlier = supplies.get(code)
        if earlier is None or earlier.starts_on > service_date:
            continue
        remaining = (earlier.ends_on - service_date).days
        if remaining > limit:
            out.append(
                RuleWarning(
                    rule="oversupply",
                    message=(
                        f"超量开药 {code} supplied again on {service_date} while {remaining} days of the supply "
                        f"from {earlier.starts_on} (settlement {earlier.settlement_id}) remain (limit {limit})"
                    ),
                )
            )
    return tuple(out)


def apply_in_settlement(
    rules: RuleSet,
    region: str,
    split_warnings: Iterable[RuleWarning],
    extra: Iterable[RuleWarning] = (),
    *,
    refuse: bool = True,
) -> tuple[RuleWarning, ...]:
    """The bill's warnings after the rules: a ``block`` hit raises RULE_BLOCKED, a disabled
    rule's signal is dropped, ``warn`` keeps it. Signals no rule owns pass through.
    ``refuse=False`` (a review, nothing settled): a ``block`` hit is kept like a warning."""
    out: list[RuleWarning] = []
    for w in (*split_warnings, *extra):
        rule = rules.rules.get(w.rule)
        if rule is None or rule.stage != "in":
            out.append(w)
            continue
        if not rule.enabled_in(region):
            continue
        if rule.mode == "block" and refuse:
            raise RuleBlocked(
                f"监控规则拒付 refused by monitoring rule {rule.rule_id} (v{rule.version}): {w.message}",
                rule_id=rule.rule_id,
            )
        out.append(w)
    return tuple(out)
