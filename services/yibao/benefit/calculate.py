"""The three-tier split of one bill: lines → basic → critical illness → assistance → account.

Why one pure entry point: settlement, pre-settlement, replays and every adapter must get the
same fen for the same (bill, person state, policy); the caller locks and supplies the
year's accumulators and books the returned :class:`Accrual`.
"""

from __future__ import annotations

from decimal import Decimal

from yibao.benefit import chronic, explain, maternity
from yibao.benefit.account import pay_personal_part
from yibao.benefit.assistance import medical_assistance
from yibao.benefit.basic import RatioAdjustment, basic_fund, prescribed_pooling
from yibao.benefit.critical_illness import critical_illness
from yibao.benefit.inputs import (
    Accrual,
    BenefitSplit,
    Bill,
    Explanation,
    PersonState,
    Totals,
)
from yibao.benefit.lines import split_lines
from yibao.money import ZERO, Fen
from yibao.policy.params import PolicyParams, SchemeParams
from yibao.values import RuleWarning

_SECOND_TIER_VISITS = ("inpatient", "chronic_outpatient")


def _cross_region(
    bill: Bill, person: PersonState, scheme: SchemeParams, version: str
) -> tuple[bool, RatioAdjustment, list[RuleWarning]]:
    """Cross-region status; unfiled care loses ratio points on every basic ratio."""
    if person.region == bill.institution_region:
        return False, RatioAdjustment(reduction=Decimal(0), note=""), []
    where = f"cross-region ({person.region} → {bill.institution_region})"
    if person.cross_region_filed:
        note = f"{where}, filed: home-region policy {version}"
        return True, RatioAdjustment(reduction=Decimal(0), note=note), []
    reduction = scheme.unfiled_cross_region_ratio_reduction
    warning = RuleWarning(
        rule="cross_region_unfiled",
        message=(f"{where} without an approved filing: basic ratios reduced by {explain.ratio(reduction)}"),
    )
    note = f"{where}, not filed ({scheme.scheme}.unfiled_cross_region_ratio_reduction)"
    return True, RatioAdjustment(reduction=reduction, note=note), [warning]


def _funds_off(bill: Bill, person: PersonState) -> list[tuple[str, RuleWarning]]:
    """(policy rule, warning) for every reason the funds pay nothing on this bill."""
    reasons: list[tuple[str, RuleWarning]] = []
    if bill.service_date < person.coverage_start:
        rule = "resident.waiting" if person.scheme == "resident" else "enrolment.coverage_start"
        reasons.append(
            (
                rule,
                RuleWarning(
                    rule="waiting_period",
                    message=(
                        f"service date {bill.service_date} is before coverage start "
                        f"{person.coverage_start}: waiting period, every fund pays 0"
                    ),
                ),
            )
        )
    if bill.third_party_liable:
        reasons.append(
            (
                "third_party_injury",
                RuleWarning(
                    rule="third_party_injury",
                    message="injury with a liable third party: every fund pays 0",
                ),
            )
        )
    return reasons


def calculate(bill: Bill, person: PersonState, policy: PolicyParams) -> BenefitSplit:
    """Split one bill into fund and personal parts, with accruals, warnings and reasons."""
    scheme = policy.scheme(person.scheme)
    employee_maternity = maternity.is_maternity(bill) and person.scheme == "employee"
    waive_deductible = bill.visit_type == "maternity_inpatient" and not employee_maternity
    if maternity.is_maternity(bill) and not employee_maternity:
        bill = maternity.resident_bill(bill)  # residents: delivery as inpatient care, checks as outpatient
    lines = split_lines(bill, person)
    warnings: list[RuleWarning] = list(lines.warnings)
    notes: list[Explanation] = []
    disease = chronic.disease_of(bill, person, policy)
    line_splits = lines.lines
    item_notes: list[Explanation] = []
    if disease is not None:
        line_splits, item_notes = chronic.restrict_items(bill, line_splits, disease)

    total = Fen(sum(line.amount for line in line_splits))
    full = Fen(sum(line.full_self_pay for line in line_splits))
    over = Fen(sum(line.over_cap_self_pay for line in line_splits))
    pre = Fen(sum(line.pre_self_pay for line in line_splits))
    policy_range = Fen(sum(line.policy_range for line in line_splits))
    notes.append(
        explain.entry(
            "total",
            "bill.lines",
            f"sum of {len(line_splits)} line amount(s) = {explain.yuan(total)}",
        )
    )
    notes.extend(lines.explanations)
    notes.extend(item_notes)
    notes.append(
        explain.entry(
            "policy_range",
            "catalogue",
            f"{explain.yuan(total)} − full {explain.yuan(full)} − over cap "
            f"{explain.yuan(over)} − pre {explain.yuan(pre)} = {explain.yuan(policy_range)}",
        )
    )

    # a 双通道 pharmacy bill reaches the pooled tiers as a chronic bill (lines keep the pharmacy's level)
    tier = chronic.tier_bill(bill)
    listed = (
        chronic.listed_drugs(bill, line_splits, disease, person.scheme, tier.institution_level)
        if disease is not None
        else None
    )
    cross_region, adjust, cross_warnings = _cross_region(bill, person, scheme, policy.version)
    warnings.extend(cross_warnings)
    off = _funds_off(bill, person)
    warnings.extend(warning for _, warning in off)
    funds_off = bool(off)
    second_tier = tier.visit_type in _SECOND_TIER_VISITS
    admission_order = person.accumulators.inpatient_admissions + 1 if bill.visit_type == "inpatient" else None

    deductible = basic = critical = assistance = maternity_paid = ZERO
    self_pay = assistance_base = ZERO
    if funds_off:
        for rule, warning in off:
            for part in ("deductible", "basic_fund"):
                notes.append(explain.entry(part, rule, f"{warning.message}: 0.00"))
    elif employee_maternity:  # DOMAIN §10: the maternity fund, not the basic fund
        maternity_out = maternity.maternity_fund(bill, person, policy.maternity, policy_range)
        maternity_paid = maternity_out.paid
        notes.extend(maternity_out.explanations)
    else:
        basic_out = basic_fund(tier, person, scheme, policy_range, adjust, disease, waive_deductible, listed)
        deductible, basic = basic_out.deductible, basic_out.basic
        if disease is not None:
            notes.append(chronic.recognition_note(person, disease))
            if tier is not bill:
                notes.append(chronic.dual_channel_note(bill, disease))
        if listed is not None:  # the answer's lines show which were paid at the drug ratio
            line_splits = chronic.mark_listed(line_splits, listed)
        notes.extend(basic_out.explanations)
        self_pay = Fen(policy_range - basic)
        if second_tier:
            ci = scheme.critical_illness
            if ci is None:
                notes.append(
                    explain.entry(
                        "critical_illness",
                        f"{scheme.scheme}.critical_illness",
                        f"the {scheme.scheme} scheme has no critical-illness tier: 0.00",
                    )
                )
            else:
                ci_out = critical_illness(person, ci, scheme.scheme, self_pay)
                critical = ci_out.payout
                notes.extend(ci_out.explanations)
            assistance_base = Fen(self_pay - critical)
            ma_out = medical_assistance(person, policy.assistance, assistance_base)
            assistance = ma_out.payout
            notes.extend(ma_out.explanations)

    fund_total = Fen(basic + critical + assistance + maternity_paid)
    personal_part = Fen(total - fund_total)
    maternity_text = f" + maternity {explain.yuan(maternity_paid)}" if employee_maternity else ""
    notes.append(
        explain.entry(
            "fund_total",
            "settlement.fund_total",
            f"basic {explain.yuan(basic)} + critical illness {explain.yuan(critical)} + "
            f"assistance {explain.yuan(assistance)}{maternity_text} = {explain.yuan(fund_total)}",
        )
    )
    notes.append(
        explain.entry(
            "personal_part",
            "settlement.personal_part",
            f"total {explain.yuan(total)} − funds {explain.yuan(fund_total)} = {explain.yuan(personal_part)}",
        )
    )
    account = pay_personal_part(person.account, personal_part)
    notes.extend(account.explanations)

    inpatient = bill.visit_type == "inpatient"
    if funds_off:
        accrual = Accrual(inpatient_admissions=int(inpatient), personal_paid=personal_part)
    else:
        outpatient = tier.visit_type == "outpatient" or prescribed_pooling(tier, person)
        accrual = Accrual(
            inpatient_admissions=int(inpatient),
            basic_paid=basic if second_tier else ZERO,
            chronic_deductible_used=(deductible if tier.visit_type == "chronic_outpatient" else ZERO),
            outpatient_deductible_used=deductible if outpatient else ZERO,
            outpatient_pool_paid=basic if outpatient else ZERO,
            policy_range_self_pay=self_pay if second_tier else ZERO,
            critical_paid=critical,
            assistance_base=assistance_base,
            assistance_paid=assistance,
            fund_paid=fund_total,
            personal_paid=personal_part,
            maternity_prenatal_paid=(maternity_paid if bill.visit_type == "maternity_outpatient" else ZERO),
        )

    totals = Totals(
        total=total,
        full_self_pay=full,
        over_cap_self_pay=over,
        pre_self_pay=pre,
        policy_range=policy_range,
        deductible=deductible,
        basic_fund=basic,
        critical_illness=critical,
        medical_assistance=assistance,
        fund_total=fund_total,
        personal_part=personal_part,
        personal_account=account.account,
        cash=account.cash,
        maternity_fund=maternity_paid,
    )
    return BenefitSplit(
        policy_version=policy.version,
        totals=totals,
        lines=line_splits,
        accrual=accrual,
        warnings=tuple(warnings),
        explanation=tuple(notes),
        funds_off=funds_off,
        admission_order=admission_order,
        cross_region=cross_region,
        chronic_disease=disease.code if disease is not None else None,
        chronic_disease_name=disease.name if disease is not None else None,
        chronic_recognition_id=person.chronic.recognition_id if disease is not None and person.chronic else None,
        chronic_disease_paid=basic if disease is not None and not funds_off else ZERO,
    )
