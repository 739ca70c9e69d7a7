"""Domain errors: one class per contract error code.

The domain raises these; only ``api/errors.py`` knows how they map to HTTP statuses.
The ``code`` is what integrators switch on, so never rename one.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "DOMAIN_ERROR"
    default_message: ClassVar[str] = "request refused"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.default_message)
        self.details = details

    @property
    def message(self) -> str:
        return str(self)


class InvalidRequest(DomainError):
    code = "INVALID_REQUEST"
    default_message = "请求无效 invalid request"


class InvalidIdNumber(DomainError):
    code = "INVALID_ID_NUMBER"
    default_message = "身份证号无效 invalid ID number"


class PersonNotFound(DomainError):
    code = "PERSON_NOT_FOUND"
    default_message = "参保人不存在 person not found"


class NotEnrolled(DomainError):
    code = "NOT_ENROLLED"
    default_message = "未参保 person not enrolled on the service date"


class PersonDeceased(DomainError):
    code = "PERSON_DECEASED"
    default_message = "参保人已死亡 person deceased before the service date"


class InstitutionNotActive(DomainError):
    code = "INSTITUTION_NOT_ACTIVE"
    default_message = "定点机构协议未生效 institution agreement not active"


class UnknownItem(DomainError):
    code = "UNKNOWN_ITEM"
    default_message = "目录项目不存在 unknown catalogue item"


class TraceCodeAlreadySettled(DomainError):
    code = "TRACE_CODE_ALREADY_SETTLED"
    default_message = "追溯码已结算 traceability code already settled"


class IdempotencyConflict(DomainError):
    code = "IDEMPOTENCY_CONFLICT"
    default_message = "幂等键已用于不同请求 Idempotency-Key reused with a different body"


class NotFound(DomainError):
    code = "NOT_FOUND"
    default_message = "不存在 not found"


class Forbidden(DomainError):
    code = "FORBIDDEN"
    default_message = "无权限 forbidden"


class AlreadyCancelled(DomainError):
    code = "ALREADY_CANCELLED"
    default_message = "结算已撤销 settlement already cancelled"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    default_message = "未认证 missing or invalid credentials"


class Duplicate(DomainError):
    code = "DUPLICATE"
    default_message = "已存在 already exists"


class PolicyNotFound(DomainError):
    code = "POLICY_NOT_FOUND"
    default_message = "无适用的待遇政策 no policy for this region and year"


class InvalidState(DomainError):
    """The record is not in a state that allows this step (e.g. approving a paid order)."""

    code = "INVALID_STATE"


class SameActor(DomainError):
    """Maker-checker: the person who prepared or first reviewed something cannot approve it."""

    code = "SAME_ACTOR"


class RateLimited(DomainError):
    code = "RATE_LIMITED"


# ---------------------------------------------------------------- premiums and the member app


class PremiumAmountMismatch(DomainError):
    code = "PREMIUM_AMOUNT_MISMATCH"
    default_message = "缴费金额与应缴金额不符 amount differs from the premium due"


class PremiumAlreadyPaid(DomainError):
    code = "PREMIUM_ALREADY_PAID"
    default_message = "该年度已缴费 the premium for this year is already paid"


class PremiumWindowNotOpen(DomainError):
    code = "PREMIUM_WINDOW_NOT_OPEN"
    default_message = "缴费期未开始 collection for this year has not opened yet"


class RefundNotAllowed(DomainError):
    code = "REFUND_NOT_ALLOWED"
    default_message = "保障年度已开始，不能退费 the coverage year has started; no refund"


class InsufficientBalance(DomainError):
    code = "INSUFFICIENT_BALANCE"
    default_message = "个人账户余额不足 personal account balance is too low"


class ActivationCodeInvalid(DomainError):
    code = "ACTIVATION_CODE_INVALID"
    default_message = "激活码无效、已使用或已过期 activation code unknown, used or expired"


class MemberCodeInvalid(DomainError):
    code = "MEMBER_CODE_INVALID"
    default_message = "医保码无效 member code is not one this system issued"


class MemberCodeExpired(DomainError):
    code = "MEMBER_CODE_EXPIRED"
    default_message = "医保码已过期 member code expired; show a fresh one"


class MemberCodeUsed(DomainError):
    code = "MEMBER_CODE_USED"
    default_message = "医保码已使用 member code was already used for another settlement"


class RuleBlocked(DomainError):
    """A monitoring rule in ``block`` mode refused the bill (the message names the rule)."""

    code = "RULE_BLOCKED"
    default_message = "监控规则拒付 refused by a monitoring rule"


# ---------------------------------------------------------------- premiums that could never buy coverage


class AlreadyEnrolled(DomainError):
    """A premium for a year the person is already enrolled in: the enrolment there stays as it is."""

    code = "ALREADY_ENROLLED"
    default_message = "该年度已参保 the person is already enrolled for this year"


class CoverageCannotStart(DomainError):
    """The waiting period would end after the coverage year: the premium would buy nothing."""

    code = "COVERAGE_CANNOT_START"
    default_message = "保障无法在该年度内开始 coverage could not start inside the year paid for"


class PaidOnInFuture(DomainError):
    code = "PAID_ON_IN_FUTURE"
    default_message = "缴费日期晚于今天 paid_on is after today"


class PaybackBeforeFirstEnrolment(DomainError):
    """A pay-back only shortens the wait after a lapse: a year before any enrolment is no lapse."""

    code = "PAYBACK_BEFORE_FIRST_ENROLMENT"
    default_message = "补缴年度早于首次参保 the year paid back is before the person was first enrolled"


# ---------------------------------------------------------------- impossible input (#13.6, #14)


class ServiceDateInFuture(DomainError):
    """A bill or fee line dated after today (China time, less a small clock tolerance)."""

    code = "SERVICE_DATE_IN_FUTURE"
    default_message = "就诊日期晚于今天 service date is after today"


class UnknownRegion(DomainError):
    """A region that is no pooling region of the reference data (no policy loaded for it)."""

    code = "UNKNOWN_REGION"
    default_message = "统筹区不存在 unknown pooling region"


class InvoiceAlreadyClaimed(DomainError):
    """An invoice number is reimbursed once (a rejected claim frees its invoices)."""

    code = "INVOICE_ALREADY_CLAIMED"
    default_message = "发票已报销或正在报销 the invoice number is already claimed"


class ServiceBeforeCoverage(DomainError):
    code = "SERVICE_BEFORE_COVERAGE"
    default_message = "就诊日期早于待遇享受开始日 the service date is before the person's coverage started"


class ClaimTooOld(DomainError):
    code = "CLAIM_TOO_OLD"
    default_message = "超过报销时限 the care is older than the policy's limit for manual claims"


class VisitSettledInRealTime(DomainError):
    """The visit was already settled at the institution's counter: it cannot be claimed again."""

    code = "VISIT_SETTLED_IN_REAL_TIME"
    default_message = "该次就诊已直接结算 the visit was already settled in real time"


# ---------------------------------------------------------------- the fund's ledger (issue #19)


class PrepaymentAboveLimit(DomainError):
    """An ordinary prepayment above policy months × the institution's average monthly fund payment."""

    code = "PREPAYMENT_ABOVE_LIMIT"
    default_message = "预付金超过可预付上限 the prepayment is above its computed maximum"


class FundBelowMinimum(DomainError):
    """No ordinary prepayment while the scheme's months of balance are below the policy minimum."""

    code = "FUND_BELOW_MINIMUM"
    default_message = "基金累计结余可支付月数低于下限 the fund's months of balance are below the minimum"


# ---------------------------------------------------------------- chronic diseases (issue #17)


class ChronicNotRecognised(DomainError):
    """A ``chronic_outpatient`` bill without an approved recognition of its disease valid on the
    service date (and, where the disease requires it, at this designated institution)."""

    code = "CHRONIC_NOT_RECOGNISED"
    default_message = "未认定门慢门特病种 no valid recognition of the chronic disease for this bill"


class PrescriptionAlreadyDispensed(DomainError):
    """An e-prescription is dispensed once (cancelling its pharmacy bill gives it back)."""

    code = "PRESCRIPTION_ALREADY_DISPENSED"
    default_message = "处方已调剂 the prescription was already dispensed"


class PrescriptionInvalid(DomainError):
    """A pharmacy bill's prescription is unknown, another person's or region's, cancelled, out of its
    validity, or the bill's lines are not on it (or above its quantities)."""

    code = "PRESCRIPTION_INVALID"
    default_message = "处方无效 the prescription does not cover this bill"


# ---------------------------------------------------------------- the register of people (issue #16)


class UnknownGroup(DomainError):
    """A special-group code that is no group of the region's policy (the message lists the valid ones)."""

    code = "UNKNOWN_GROUP"
    default_message = "特殊人群类别不存在 unknown special group"
