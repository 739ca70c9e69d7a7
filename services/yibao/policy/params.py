"""Frozen, typed view of one policy document (one region, one year, one version).

Why a parse step: the document is stored as JSON in ``policy_versions`` so staff can load a
new version without a deploy; the money code must never see strings or floats, so every
amount becomes fen and every ratio a ``Decimal`` here, once, and invalid documents are
refused at load time instead of in the middle of a settlement.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from yibao.money import ZERO, Fen, yuan_to_fen

#: the six codes every policy before the ``groups`` section knew (DOMAIN §2); a policy's own
#: groups are ``PolicyParams.groups`` (DOMAIN §8): validate codes against those, not this list
GROUPS = (
    "destitute",
    "orphan",
    "severe_disability",
    "min_living",
    "poverty_monitoring",
    "marginal",
)
SUBSIDY_KINDS = ("full", "fixed", "none")
#: a group code as tags store it (``person_groups.group`` is 30 characters)
GROUP_CODE = re.compile(r"[a-z][a-z0-9_]{1,29}")


def _by_level(raw: dict[str, str], convert: Any) -> dict[int, Any]:
    return {int(level): convert(value) for level, value in raw.items()}


@dataclass(frozen=True)
class InpatientParams:
    deductible_by_level: dict[int, Fen]
    repeat_admission_deductible_factor: Decimal
    ratio_by_level: dict[int, Decimal]
    retiree_ratio_bonus: Decimal = Decimal(0)
    max_ratio: Decimal = Decimal(1)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> InpatientParams:
        return cls(
            deductible_by_level=_by_level(raw["deductible_by_level"], yuan_to_fen),
            repeat_admission_deductible_factor=Decimal(raw["repeat_admission_deductible_factor"]),
            ratio_by_level=_by_level(raw["ratio_by_level"], Decimal),
            retiree_ratio_bonus=Decimal(raw.get("retiree_ratio_bonus", "0")),
            max_ratio=Decimal(raw.get("max_ratio", "1")),
        )


@dataclass(frozen=True)
class ChronicParams:
    """Chronic (special-disease) outpatient: an annual deductible and a ratio, both by level."""

    deductible_by_level: dict[int, Fen]
    ratio_by_level: dict[int, Decimal]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ChronicParams:
        return cls(
            deductible_by_level=_by_level(raw["deductible_by_level"], yuan_to_fen),
            ratio_by_level=_by_level(raw["ratio_by_level"], Decimal),
        )


@dataclass(frozen=True)
class OutpatientPoolingParams:
    levels: frozenset[int]
    annual_deductible: Fen
    ratio: Decimal
    annual_cap: Fen

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> OutpatientPoolingParams:
        return cls(
            levels=frozenset(int(v) for v in raw["levels"]),
            annual_deductible=yuan_to_fen(raw["annual_deductible"]),
            ratio=Decimal(raw["ratio"]),
            annual_cap=yuan_to_fen(raw["annual_cap"]),
        )


@dataclass(frozen=True)
class Tier:
    upto: Fen | None  # None: unbounded
    ratio: Decimal


@dataclass(frozen=True)
class IncentiveParams:
    continuous_years_from: int
    continuous_step: Fen
    zero_claim_step: Fen
    max_share_of_cap: Decimal

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> IncentiveParams:
        return cls(
            continuous_years_from=int(raw["continuous_years_from"]),
            continuous_step=yuan_to_fen(raw["continuous_step"]),
            zero_claim_step=yuan_to_fen(raw["zero_claim_step"]),
            max_share_of_cap=Decimal(raw["max_share_of_cap"]),
        )


@dataclass(frozen=True)
class CriticalIllnessParams:
    threshold: Fen
    tiers: tuple[Tier, ...]
    cap: Fen
    poor_groups: frozenset[str]
    poor_threshold_factor: Decimal
    poor_ratio_bonus: Decimal
    poor_no_cap: bool
    incentives: IncentiveParams

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> CriticalIllnessParams:
        return cls(
            threshold=yuan_to_fen(raw["threshold"]),
            tiers=tuple(
                Tier(
                    upto=None if t["upto"] is None else yuan_to_fen(t["upto"]),
                    ratio=Decimal(t["ratio"]),
                )
                for t in raw["tiers"]
            ),
            cap=yuan_to_fen(raw["cap"]),
            poor_groups=frozenset(raw["poor_groups"]),
            poor_threshold_factor=Decimal(raw["poor_threshold_factor"]),
            poor_ratio_bonus=Decimal(raw["poor_ratio_bonus"]),
            poor_no_cap=bool(raw["poor_no_cap"]),
            incentives=IncentiveParams.parse(raw["incentives"]),
        )


@dataclass(frozen=True)
class SubsidyParams:
    full_groups: frozenset[str]
    fixed_amount: Fen
    fixed_groups: frozenset[str]
    #: each fixed group's own amount (a ``groups`` section may give groups different amounts);
    #: a fixed group missing here takes ``fixed_amount``
    fixed_amounts: dict[str, Fen] = field(default_factory=dict)

    def amount_of(self, group: str) -> Fen:
        return self.fixed_amounts.get(group, self.fixed_amount)


@dataclass(frozen=True)
class WaitingParams:
    fixed_months: int
    months_per_lapsed_year: int
    exempt_groups: frozenset[str]
    newborn_days: int
    newborn_premium_waived: bool = True


@dataclass(frozen=True)
class SchemeParams:
    """One scheme's benefit rules (resident 390 or employee 310)."""

    scheme: str
    inpatient: InpatientParams
    chronic_outpatient: ChronicParams
    outpatient_pooling: OutpatientPoolingParams
    annual_cap: Fen
    unfiled_cross_region_ratio_reduction: Decimal
    critical_illness: CriticalIllnessParams | None = None  # None: the scheme has no CI tier
    family_sharing_relations: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, scheme: str, raw: dict[str, Any]) -> SchemeParams:
        ci = raw.get("critical_illness")
        account = raw.get("personal_account") or {}
        return cls(
            scheme=scheme,
            inpatient=InpatientParams.parse(raw["inpatient"]),
            chronic_outpatient=ChronicParams.parse(raw["chronic_outpatient"]),
            outpatient_pooling=OutpatientPoolingParams.parse(raw["outpatient_pooling"]),
            annual_cap=yuan_to_fen(raw["annual_cap"]),
            unfiled_cross_region_ratio_reduction=Decimal(raw.get("unfiled_cross_region_ratio_reduction", "0")),
            critical_illness=CriticalIllnessParams.parse(ci) if ci else None,
            family_sharing_relations=frozenset(account.get("family_sharing_relations", ())),
        )


@dataclass(frozen=True)
class AssistanceGroup:
    group: str
    threshold: Fen
    ratio: Decimal
    annual_limit: Fen


@dataclass(frozen=True)
class GroupParams:
    """One special group of a region and year (policy section ``groups``; DOMAIN §8)."""

    code: str
    name: str
    subsidy: str  # full / fixed / none
    amount: Fen  # the fixed subsidy (0 unless ``fixed``)
    waiting_exempt: bool
    ci_tilt: bool  # the critical-illness poor-group rule applies
    assistance: AssistanceGroup | None  # medical assistance, or none

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> GroupParams:
        code = str(raw["code"])
        if not GROUP_CODE.fullmatch(code):
            raise ValueError(f"group code {code!r} must be 2–30 lower-case letters, digits or _")
        name = str(raw["name"]).strip()
        if not name:
            raise ValueError(f"group {code} needs a name")
        kind = raw["subsidy"]
        if kind not in SUBSIDY_KINDS:
            raise ValueError(f"group {code}: subsidy must be one of {', '.join(SUBSIDY_KINDS)}")
        if kind == "fixed":
            amount = yuan_to_fen(raw["amount"])
            if amount <= 0:
                raise ValueError(f"group {code}: a fixed subsidy needs a positive amount")
        elif raw.get("amount") not in (None, "0.00", "0"):
            raise ValueError(f"group {code}: only a fixed subsidy has an amount")
        else:
            amount = ZERO
        a = raw.get("assistance")
        assistance = None
        if a is not None:
            assistance = AssistanceGroup(
                group=code,
                threshold=yuan_to_fen(a["threshold"]),
                ratio=Decimal(a["ratio"]),
                annual_limit=yuan_to_fen(a["annual_limit"]),
            )
            if not (Decimal(0) < assistance.ratio <= Decimal(1)) or assistance.threshold < 0:
                raise ValueError(f"group {code}: assistance ratio must be in (0, 1], threshold ≥ 0")
        return cls(
            code=code,
            name=name,
            subsidy=kind,
            amount=amount,
            # DOMAIN §8: every subsidised group is exempt from waiting unless the policy says otherwise
            waiting_exempt=bool(raw.get("waiting_exempt", kind != "none")),
            ci_tilt=bool(raw.get("ci_tilt", False)),
            assistance=assistance,
        )


def parse_groups(raw: list[dict[str, Any]]) -> dict[str, GroupParams]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("groups must be a non-empty list")
    groups: dict[str, GroupParams] = {}
    for item in raw:
        g = GroupParams.parse(item)
        if g.code in groups:
            raise ValueError(f"group {g.code} appears twice")
        groups[g.code] = g
    return groups


def _legacy_groups(
    subsidy: SubsidyParams, exempt: frozenset[str], poor: frozenset[str], assistance: dict[str, AssistanceGroup]
) -> dict[str, GroupParams]:
    """The groups a policy without a ``groups`` section implies (named by their codes)."""
    codes = subsidy.full_groups | subsidy.fixed_groups | exempt | poor | set(assistance)
    out: dict[str, GroupParams] = {}
    for c in sorted(codes):
        kind = "full" if c in subsidy.full_groups else "fixed" if c in subsidy.fixed_groups else "none"
        out[c] = GroupParams(
            code=c,
            name=c,
            subsidy=kind,
            amount=subsidy.amount_of(c) if kind == "fixed" else ZERO,
            waiting_exempt=c in exempt,
            ci_tilt=c in poor,
            assistance=assistance.get(c),
        )
    return out


def _agrees(what: str, legacy: Any, derived: Any) -> None:
    if legacy != derived:
        raise ValueError(f"{what} contradicts the groups section ({legacy!r} there, {derived!r} from groups)")


def _check_legacy(doc: dict[str, Any], groups: dict[str, GroupParams]) -> None:
    """A document with a ``groups`` section may keep the older sections (for readers that know
    only those), but where they name a group they must say what ``groups`` says."""
    res = doc["resident"]
    sub = res.get("subsidy")
    if sub is not None:
        for c in sub.get("full", ()):
            _agrees(f"resident.subsidy.full[{c}]", "full", groups[c].subsidy if c in groups else None)
        fixed = sub.get("fixed") or {}
        for c in fixed.get("groups", ()):
            g = groups.get(c)
            _agrees(
                f"resident.subsidy.fixed[{c}]",
                ("fixed", yuan_to_fen(fixed["amount"])),
                (g.subsidy, g.amount) if g else None,
            )
    for c in res.get("waiting", {}).get("exempt_groups", ()):
        _agrees(f"resident.waiting.exempt_groups[{c}]", True, groups[c].waiting_exempt if c in groups else None)
    for scheme in ("resident", "employee"):
        ci = doc[scheme].get("critical_illness") or {}
        for c in ci.get("poor_groups", ()):
            _agrees(f"{scheme}.critical_illness.poor_groups[{c}]", True, groups[c].ci_tilt if c in groups else None)
    for c, a in (doc.get("medical_assistance") or {}).get("groups", {}).items():
        g = groups.get(c)
        legacy = (yuan_to_fen(a["threshold"]), Decimal(a["ratio"]), yuan_to_fen(a["annual_limit"]))
        derived = (
            (g.assistance.threshold, g.assistance.ratio, g.assistance.annual_limit) if g and g.assistance else None
        )
        _agrees(f"medical_assistance.groups[{c}]", legacy, derived)


@dataclass(frozen=True)
class ContributionParams:
    """Employee scheme: monthly contributions as shares of the contribution base.

    Defaults (8% employer, 2% employee, the employee part credited to the personal account)
    apply when a policy document predates the ``employee.contributions`` key.
    """

    employer_rate: Decimal = Decimal("0.08")
    employee_rate: Decimal = Decimal("0.02")
    account_share_of_employee: Decimal = Decimal("1.00")
    account_share_of_employer: Decimal = Decimal("0.00")
    waiting_months: int = 0

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> ContributionParams:
        raw = raw or {}
        d = cls()
        return cls(
            employer_rate=Decimal(raw.get("employer_rate", d.employer_rate)),
            employee_rate=Decimal(raw.get("employee_rate", d.employee_rate)),
            account_share_of_employee=Decimal(raw.get("account_share_of_employee", d.account_share_of_employee)),
            account_share_of_employer=Decimal(raw.get("account_share_of_employer", d.account_share_of_employer)),
            waiting_months=int(raw.get("waiting_months", d.waiting_months)),
        )


@dataclass(frozen=True)
class PremiumParams:
    premium: Fen
    subsidy: SubsidyParams
    window_from: str  # "MM-DD"
    window_to: str
    waiting: WaitingParams


@dataclass(frozen=True)
class DipParams:
    """DIP year-end clearing and monthly pre-settlement (policy section ``dip``)."""

    budget: Fen = ZERO  # the region's DIP fund budget for the year
    high_multiple: Decimal = Decimal("2.0")
    low_multiple: Decimal = Decimal("0.5")
    surplus_retain_max_ratio: Decimal = Decimal("0.15")
    overspend_share_ratio: Decimal = Decimal("0.50")
    overspend_share_band_ratio: Decimal = Decimal("0.10")
    presettle_ratio: Decimal = Decimal("0.90")  # monthly pre-settlement pays this share of the DIP amount

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> DipParams:
        """Missing keys take the defaults above (a policy without a ``dip`` section has budget 0)."""
        raw = raw or {}
        base = cls()
        ratios = {
            name: Decimal(str(raw[name])) if name in raw else getattr(base, name)
            for name in (
                "high_multiple",
                "low_multiple",
                "surplus_retain_max_ratio",
                "overspend_share_ratio",
                "overspend_share_band_ratio",
                "presettle_ratio",
            )
        }
        return cls(budget=yuan_to_fen(raw["budget"]) if "budget" in raw else Fen(0), **ratios)


#: DOMAIN §11's default fiscal subsidy a year per enrolled resident (700.00)
DEFAULT_FISCAL_SUBSIDY = Fen(70_000)


@dataclass(frozen=True)
class FundParams:
    """The fund's own numbers (policy section ``fund``, DOMAIN §11).

    ``opening_balances`` (fen per scheme, pooled funds) hold on ``opening_date``: the first day a
    deployment keeps the fund's ledger; the position of any later day adds the postings since.
    An ordinary prepayment is at most ``prepayment_months`` × the institution's average monthly
    fund payment of the last ``lookback_months``, and only while the scheme's months of balance
    are at least ``prepayment_min_months_of_balance``."""

    opening_balances: dict[str, Fen] = field(default_factory=dict)
    opening_date: date | None = None
    lookback_months: int = 12
    prepayment_months: Decimal = Decimal(1)
    prepayment_min_months_of_balance: Decimal = Decimal(6)
    #: budgets: the regional budget of a scheme grows by its rate; an institution's draft is the
    #: weighted average of its last three years' fund payments (weights oldest first)
    budget_growth: dict[str, Decimal] = field(
        default_factory=lambda: {"resident": Decimal("-0.02"), "employee": Decimal("0.04")}
    )
    budget_weights: tuple[Decimal, ...] = (Decimal("0.2"), Decimal("0.3"), Decimal("0.5"))
    #: fiscal subsidy (财政补助) a year per enrolled resident, booked monthly as due from the treasury
    fiscal_subsidy_per_resident: Fen = DEFAULT_FISCAL_SUBSIDY
    #: a procurement (集采) prepayment: this share of the institution's procurement amount of last year
    procurement_prepayment_ratio: Decimal = Decimal("0.45")

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> FundParams:
        raw = raw or {}
        base = cls()
        opening = raw.get("opening") or {}
        budget = raw.get("budget") or {}
        if "weights" in budget and (
            len(budget["weights"]) != 3 or sum(Decimal(str(w)) for w in budget["weights"]) != 1
        ):
            raise ValueError("fund.budget.weights: three weights (oldest year first) summing to 1")
        return cls(
            opening_balances={k: yuan_to_fen(v) for k, v in (opening.get("balances") or {}).items()},
            opening_date=date.fromisoformat(opening["date"]) if "date" in opening else None,
            lookback_months=int(raw.get("lookback_months", base.lookback_months)),
            prepayment_months=Decimal(str(raw.get("prepayment_months", base.prepayment_months))),
            prepayment_min_months_of_balance=Decimal(
                str(raw.get("prepayment_min_months_of_balance", base.prepayment_min_months_of_balance))
            ),
            fiscal_subsidy_per_resident=yuan_to_fen(raw["fiscal_subsidy_per_resident"])
            if "fiscal_subsidy_per_resident" in raw
            else base.fiscal_subsidy_per_resident,
            procurement_prepayment_ratio=Decimal(
                str(raw.get("procurement_prepayment_ratio", base.procurement_prepayment_ratio))
            ),
            budget_growth={k: Decimal(str(v)) for k, v in (budget.get("growth") or {}).items()} or base.budget_growth,
            budget_weights=tuple(Decimal(str(w)) for w in budget["weights"])
            if "weights" in budget
            else base.budget_weights,
        )


@dataclass(frozen=True)
class ApprovalTier:
    """Claims whose fund amount is at least ``from_amount`` need ``approvals`` approvals."""

    from_amount: Fen
    approvals: int


@dataclass(frozen=True)
class ManualReimbursementParams:
    """Manual reimbursement (零星报销), policy section ``manual_reimbursement`` (DOMAIN §10).

    A document without the section keeps the older single key
    ``manual_reimbursement_second_approval_from`` (one approval below it, two from it)."""

    approval_tiers: tuple[ApprovalTier, ...] = (
        ApprovalTier(ZERO, 1),
        ApprovalTier(Fen(1_000_000), 2),
        ApprovalTier(Fen(5_000_000), 3),
    )
    due_working_days: int = 5
    claim_limit_years: int = 2
    #: the approval step that only an admin may take (the third: final approval)
    admin_step: int = 3

    def approvals_for(self, fund_amount: int) -> int:
        """How many approvals a claim paying ``fund_amount`` (fen) from the funds needs."""
        needed = 1
        for tier in self.approval_tiers:
            if fund_amount >= tier.from_amount:
                needed = tier.approvals
        return needed

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> ManualReimbursementParams:
        raw = doc.get("manual_reimbursement")
        if raw is None:
            second = doc.get("manual_reimbursement_second_approval_from")
            if second is None:
                return cls()
            return cls(approval_tiers=(ApprovalTier(ZERO, 1), ApprovalTier(yuan_to_fen(second), 2)))
        tiers = tuple(
            sorted(
                (ApprovalTier(yuan_to_fen(t["from"]), int(t["approvals"])) for t in raw["approval_tiers"]),
                key=lambda t: t.from_amount,
            )
        )
        if not tiers or any(t.approvals < 1 for t in tiers):
            raise ValueError("manual_reimbursement.approval_tiers needs at least one tier of ≥ 1 approval")
        base = cls()
        return cls(
            approval_tiers=tiers,
            due_working_days=int(raw.get("due_working_days", base.due_working_days)),
            claim_limit_years=int(raw.get("claim_limit_years", base.claim_limit_years)),
            admin_step=int(raw.get("admin_step", base.admin_step)),
        )


# ---------------------------------------------------------------- chronic diseases (issue #17, DOMAIN §9)

CHRONIC_CATEGORIES = ("门慢", "门特", "两病")
#: what a ``chronic_outpatient`` bill without a valid recognition does: refused (default), or
#: settled as an ordinary outpatient bill with a warning
CHRONIC_UNRECOGNISED = ("refuse", "outpatient")


def _icd_prefixes(raw: list[str]) -> tuple[str, ...]:
    """ICD-10 prefixes without dots, upper case; ``"C00-C97"`` expands to C00, C01 … C97."""
    out: list[str] = []
    for item in raw:
        text = str(item).replace(".", "").replace("–", "-").upper().strip()
        if "-" in text:
            lo, hi = (part.strip() for part in text.split("-", 1))
            if len(lo) != 3 or len(hi) != 3 or lo[0] != hi[0] or not (lo[1:].isdigit() and hi[1:].isdigit()):
                raise ValueError(f"chronic_diseases: ICD-10 range {item!r} must look like C00-C97")
            out.extend(f"{lo[0]}{n:02d}" for n in range(int(lo[1:]), int(hi[1:]) + 1))
        elif text:
            out.append(text)
        else:
            raise ValueError("chronic_diseases: an empty ICD-10 prefix")
    return tuple(out)


@dataclass(frozen=True)
class ChronicDiseaseTerms:
    """One disease's money terms in one scheme, resolved at parse time: the scheme's
    ``chronic_outpatient`` deductible and ratio unless the disease overrides them (``"inpatient"``:
    the scheme's inpatient ratio of the level), and the disease's annual limit (``None``: only the
    scheme's annual cap)."""

    deductible_by_level: dict[int, Fen]
    ratio_by_level: dict[int, Decimal]
    annual_limit: Fen | None
    ratio_rule: str  # the policy path the ratio comes from, for the explanation


@dataclass(frozen=True)
class DrugRatioOverride:
    """A disease's own ratio for listed drugs (DOMAIN §9, 两病 drugs): at ``levels``, each line
    of an item in ``items`` is paid at ``ratio_by_scheme[scheme]`` instead of the disease's
    ratio of the level; a scheme not named keeps the disease's ratio.

    Policy shape: ``"drug_ratio_override": {"levels": [0, 1], "ratio_by_scheme": {"resident":
    "0.70"}, "items": ["D-METF-500", …]}``."""

    levels: frozenset[int]
    ratio_by_scheme: dict[str, Decimal]
    items: frozenset[str]

    def ratio(self, scheme: str, level: int) -> Decimal | None:
        """The override's ratio for the scheme at the level, or ``None`` (none applies)."""
        return self.ratio_by_scheme.get(scheme) if level in self.levels else None

    @classmethod
    def parse(cls, code: str, raw: dict[str, Any], schemes: dict[str, SchemeParams]) -> DrugRatioOverride:
        where = f"chronic_diseases[{code}].drug_ratio_override"
        levels = frozenset(int(v) for v in raw["levels"])
        ratios = {str(k): Decimal(str(v)) for k, v in raw["ratio_by_scheme"].items()}
        items = frozenset(str(i) for i in raw["items"])
        if not levels or not ratios or not items:
            raise ValueError(f"{where} needs levels, ratio_by_scheme and items")
        for scheme, ratio in ratios.items():
            if scheme not in schemes:
                raise ValueError(f"{where}.ratio_by_scheme: unknown scheme {scheme!r}")
            if not Decimal(0) <= ratio <= Decimal(1):
                raise ValueError(f"{where}.ratio_by_scheme.{scheme} must be in [0, 1]")
        return cls(levels=levels, ratio_by_scheme=ratios, items=items)


@dataclass(frozen=True)
class ChronicDisease:
    code: str
    name: str
    category: str  # 门慢 / 门特 / 两病
    icd10_prefixes: tuple[str, ...]
    validity_months: int
    designated_institution_required: bool
    items: frozenset[str] | None  # None: every catalogue item; else items outside are fully self-paid
    terms: dict[str, ChronicDiseaseTerms]  # by scheme
    drug_override: DrugRatioOverride | None = None  # 两病: listed drugs at their own ratio

    def covers(self, diagnosis: str) -> bool:
        code = diagnosis.replace(".", "").upper()
        return any(code.startswith(prefix) for prefix in self.icd10_prefixes)

    @classmethod
    def parse(cls, raw: dict[str, Any], schemes: dict[str, SchemeParams]) -> ChronicDisease:
        code = str(raw["code"])
        if raw["category"] not in CHRONIC_CATEGORIES:
            raise ValueError(f"chronic_diseases[{code}].category must be one of {CHRONIC_CATEGORIES}")
        terms: dict[str, ChronicDiseaseTerms] = {}
        for name, scheme in schemes.items():
            own = (raw.get("schemes") or {}).get(name) or {}
            ratio = own.get("ratio_by_level")
            if ratio == "inpatient":  # the inpatient ratio of the level; levels without one keep chronic's
                ratios = {**scheme.chronic_outpatient.ratio_by_level, **scheme.inpatient.ratio_by_level}
                ratio_rule = f"{name}.inpatient.ratio_by_level"
            elif ratio is not None:
                ratios = _by_level(ratio, Decimal)
                ratio_rule = f"chronic_diseases[{code}].schemes.{name}.ratio_by_level"
            else:
                ratios = scheme.chronic_outpatient.ratio_by_level
                ratio_rule = f"{name}.chronic_outpatient.ratio_by_level"
            deductible = own.get("deductible_by_level")
            limit = own.get("annual_limit")
            terms[name] = ChronicDiseaseTerms(
                deductible_by_level=_by_level(deductible, yuan_to_fen)
                if deductible is not None
                else scheme.chronic_outpatient.deductible_by_level,
                ratio_by_level=ratios,
                annual_limit=None if limit is None else yuan_to_fen(limit),
                ratio_rule=ratio_rule,
            )
        items = raw.get("items")
        override = raw.get("drug_ratio_override")
        months = int(raw["validity_months"])
        if months < 1:
            raise ValueError(f"chronic_diseases[{code}].validity_months must be at least 1")
        return cls(
            code=code,
            name=str(raw["name"]),
            category=str(raw["category"]),
            icd10_prefixes=_icd_prefixes(raw["icd10_prefixes"]),
            validity_months=months,
            designated_institution_required=bool(raw.get("designated_institution_required", False)),
            items=None if items is None else frozenset(str(i) for i in items),
            terms=terms,
            drug_override=None if override is None else DrugRatioOverride.parse(code, override, schemes),
        )


@dataclass(frozen=True)
class ChronicPolicy:
    """Policy keys ``chronic_diseases`` (a list) and ``chronic_unrecognised``; a document without
    them has no recognisable disease (every ``chronic_outpatient`` bill is refused by default)."""

    diseases: dict[str, ChronicDisease] = field(default_factory=dict)
    unrecognised: str = "refuse"
    rereview_days_ahead: int = 60

    def for_diagnoses(self, diagnoses: tuple[str, ...]) -> ChronicDisease | None:
        """The first disease (in policy order) whose prefixes cover one of ``diagnoses``."""
        for disease in self.diseases.values():
            if any(disease.covers(d) for d in diagnoses):
                return disease
        return None

    @classmethod
    def parse(cls, doc: dict[str, Any], schemes: dict[str, SchemeParams]) -> ChronicPolicy:
        diseases: dict[str, ChronicDisease] = {}
        for raw in doc.get("chronic_diseases") or ():
            disease = ChronicDisease.parse(raw, schemes)
            if disease.code in diseases:
                raise ValueError(f"chronic_diseases: code {disease.code} appears twice")
            diseases[disease.code] = disease
        unrecognised = str(doc.get("chronic_unrecognised", "refuse"))
        if unrecognised not in CHRONIC_UNRECOGNISED:
            raise ValueError(f"chronic_unrecognised must be one of {CHRONIC_UNRECOGNISED}")
        return cls(
            diseases=diseases,
            unrecognised=unrecognised,
            rereview_days_ahead=int(doc.get("chronic_rereview_days_ahead", 60)),
        )


_ONE_THOUSAND = Fen(100_000)


@dataclass(frozen=True)
class MaternityParams:
    """Maternity (生育保险), policy section ``maternity`` (DOMAIN §10): the employees' maternity
    fund's limits and the maternity allowance. A document without the section keeps these defaults."""

    prenatal_ratio: Decimal = Decimal(1)
    prenatal_limit: Fen = _ONE_THOUSAND  # per pregnancy (counted per person-year)
    delivery_ratio: Decimal = Decimal(1)
    #: delivery type → {level → limit}
    delivery_limit: dict[str, dict[int, Fen]] = field(
        default_factory=lambda: {
            "vaginal": {0: Fen(300_000), 1: Fen(300_000), 2: Fen(300_000), 3: Fen(400_000)},
            "caesarean": {0: Fen(500_000), 1: Fen(500_000), 2: Fen(500_000), 3: Fen(600_000)},
        }
    )
    extra_baby_limit: Fen = _ONE_THOUSAND
    allowance_days: int = 98
    caesarean_extra_days: int = 15
    extra_baby_days: int = 15
    base_months: int = 12  # the employer's average monthly contribution base over these months
    min_contribution_months: int = 12
    contribution_lookback_months: int = 24
    flag_contributions_under_months: int = 10  # the allowance monitor (虚构劳动关系)

    def delivery_cap(self, delivery_type: str, level: int, babies: int) -> Fen | None:
        """The delivery limit for the type and level (+ per extra baby); ``None``: not covered."""
        by_level = self.delivery_limit.get(delivery_type, {})
        if level not in by_level:
            return None
        return Fen(by_level[level] + self.extra_baby_limit * max(0, babies - 1))

    def allowance_days_for(self, delivery_type: str, babies: int) -> int:
        extra = self.caesarean_extra_days if delivery_type == "caesarean" else 0
        return self.allowance_days + extra + self.extra_baby_days * max(0, babies - 1)

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> MaternityParams:
        if raw is None:
            return cls()
        base = cls()
        limits = raw.get("delivery_limit_by_level")
        allowance = raw.get("allowance", {})
        return cls(
            prenatal_ratio=Decimal(raw.get("prenatal_ratio", "1")),
            prenatal_limit=yuan_to_fen(raw["prenatal_limit"]) if "prenatal_limit" in raw else base.prenatal_limit,
            delivery_ratio=Decimal(raw.get("delivery_ratio", "1")),
            delivery_limit=(
                {kind: _by_level(by_level, yuan_to_fen) for kind, by_level in limits.items()}
                if limits is not None
                else base.delivery_limit
            ),
            extra_baby_limit=(
                yuan_to_fen(raw["extra_baby_limit"]) if "extra_baby_limit" in raw else base.extra_baby_limit
            ),
            allowance_days=int(allowance.get("days", base.allowance_days)),
            caesarean_extra_days=int(allowance.get("caesarean_extra_days", base.caesarean_extra_days)),
            extra_baby_days=int(allowance.get("extra_baby_days", base.extra_baby_days)),
            base_months=int(allowance.get("base_months", base.base_months)),
            min_contribution_months=int(allowance.get("min_contribution_months", base.min_contribution_months)),
            contribution_lookback_months=int(
                allowance.get("contribution_lookback_months", base.contribution_lookback_months)
            ),
            flag_contributions_under_months=int(
                allowance.get("flag_contributions_under_months", base.flag_contributions_under_months)
            ),
        )


@dataclass(frozen=True)
class PolicyParams:
    """Everything the benefit calculation needs, for one region/year/version."""

    region: str
    year: int
    version: str
    resident: SchemeParams
    employee: SchemeParams
    assistance: dict[str, AssistanceGroup]
    premium: PremiumParams
    contributions: ContributionParams = field(default_factory=ContributionParams)
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False, default_factory=dict)
    dip: DipParams = field(default_factory=DipParams)
    manual_reimbursement: ManualReimbursementParams = field(default_factory=ManualReimbursementParams)
    fund: FundParams = field(default_factory=FundParams)
    chronic: ChronicPolicy = field(default_factory=ChronicPolicy)
    #: the special groups of this region and year, by code (DOMAIN §8)
    groups: dict[str, GroupParams] = field(default_factory=dict)
    maternity: MaternityParams = field(default_factory=MaternityParams)

    def scheme(self, scheme: str) -> SchemeParams:
        if scheme == "resident":
            return self.resident
        if scheme == "employee":
            return self.employee
        raise ValueError(f"unknown scheme {scheme!r}")

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> PolicyParams:
        """Parse and validate a policy document; raises ``ValueError``/``KeyError`` if malformed.

        With a ``groups`` section, subsidies, waiting exemptions, the critical-illness tilt and
        medical assistance all come from it (older sections, where kept, must agree)."""
        base = cls._parse(doc) if "groups" not in doc else cls._parse(_with_legacy_defaults(doc))
        if "groups" not in doc:
            return dataclasses.replace(
                base,
                groups=_legacy_groups(
                    base.premium.subsidy,
                    base.premium.waiting.exempt_groups,
                    base.resident.critical_illness.poor_groups if base.resident.critical_illness else frozenset(),
                    base.assistance,
                ),
            )
        groups = parse_groups(doc["groups"])
        _check_legacy(doc, groups)
        full = frozenset(c for c, g in groups.items() if g.subsidy == "full")
        fixed = {c: g.amount for c, g in groups.items() if g.subsidy == "fixed"}
        tilt = frozenset(c for c, g in groups.items() if g.ci_tilt)

        def tilted(scheme: SchemeParams) -> SchemeParams:
            ci = scheme.critical_illness
            if ci is None:
                return scheme
            return dataclasses.replace(scheme, critical_illness=dataclasses.replace(ci, poor_groups=tilt))

        premium = base.premium
        return dataclasses.replace(
            base,
            groups=groups,
            resident=tilted(base.resident),
            employee=tilted(base.employee),
            assistance={c: g.assistance for c, g in groups.items() if g.assistance is not None},
            premium=dataclasses.replace(
                premium,
                subsidy=SubsidyParams(
                    full_groups=full,
                    fixed_amount=max(fixed.values(), default=ZERO),
                    fixed_groups=frozenset(fixed),
                    fixed_amounts=fixed,
                ),
                waiting=dataclasses.replace(
                    premium.waiting, exempt_groups=frozenset(c for c, g in groups.items() if g.waiting_exempt)
                ),
            ),
        )

    @classmethod
    def _parse(cls, doc: dict[str, Any]) -> PolicyParams:
        res = doc["resident"]
        subsidy = res["subsidy"]
        waiting = res["waiting"]
        resident = SchemeParams.parse("resident", res)
        employee = SchemeParams.parse("employee", doc["employee"])
        return cls(
            region=str(doc["region"]),
            year=int(doc["year"]),
            version=str(doc["version"]),
            resident=resident,
            employee=employee,
            assistance={
                name: AssistanceGroup(
                    group=name,
                    threshold=yuan_to_fen(g["threshold"]),
                    ratio=Decimal(g["ratio"]),
                    annual_limit=yuan_to_fen(g["annual_limit"]),
                )
                for name, g in doc["medical_assistance"]["groups"].items()
            },
            premium=PremiumParams(
                premium=yuan_to_fen(res["premium"]),
                subsidy=SubsidyParams(
                    full_groups=frozenset(subsidy["full"]),
                    fixed_amount=yuan_to_fen(subsidy["fixed"]["amount"]),
                    fixed_groups=frozenset(subsidy["fixed"]["groups"]),
                ),
                window_from=res["window"]["from"],
                window_to=res["window"]["to"],
                waiting=WaitingParams(
                    fixed_months=int(waiting["fixed_months"]),
                    months_per_lapsed_year=int(waiting["months_per_lapsed_year"]),
                    exempt_groups=frozenset(waiting["exempt_groups"]),
                    newborn_days=int(waiting["newborn_days"]),
                    newborn_premium_waived=bool(waiting.get("newborn_premium_waived", True)),
                ),
            ),
            contributions=ContributionParams.parse(doc["employee"].get("contributions")),
            raw=doc,
            dip=DipParams.parse(doc.get("dip")),
            manual_reimbursement=ManualReimbursementParams.parse(doc),
            fund=FundParams.parse(doc.get("fund")),
            chronic=ChronicPolicy.parse(doc, {"resident": resident, "employee": employee}),
            maternity=MaternityParams.parse(doc.get("maternity")),
        )


def _with_legacy_defaults(doc: dict[str, Any]) -> dict[str, Any]:
    """A document with ``groups`` need not carry the older group sections: empty ones stand in
    while the rest is parsed (the groups then fill them)."""
    res = dict(doc["resident"])
    res.setdefault("subsidy", {"full": [], "fixed": {"amount": "0.00", "groups": []}})
    waiting = dict(res["waiting"])
    waiting.setdefault("exempt_groups", [])
    res["waiting"] = waiting
    if res.get("critical_illness") is not None:
        ci = dict(res["critical_illness"])
        ci.setdefault("poor_groups", [])
        res["critical_illness"] = ci
    out = {**doc, "resident": res}
    out.setdefault("medical_assistance", {"groups": {}})
    return out
