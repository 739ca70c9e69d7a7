from __future__ import annotations

import orjson
from pydantic import Field, ValidationError

from api.schemas.common import MoneyIn, Strict
from yibao.errors import InvalidRequest
from yibao.reconcile.monthly import Detail, SchemeTotal

SCHEME = Field(pattern="^(resident|employee)$", examples=["resident"])


class SchemeTotalIn(Strict):
    scheme: str = SCHEME
    count: int = Field(ge=0)
    total: MoneyIn
    fund_pay: MoneyIn
    account_pay: MoneyIn

    def to_domain(self) -> SchemeTotal:
        from api.schemas.common import fen

        return SchemeTotal(self.scheme, self.count, fen(self.total), fen(self.fund_pay), fen(self.account_pay))

    @classmethod
    def parse_list(cls, raw: str) -> list[SchemeTotal]:
        """The ``totals`` form field of a CSV upload: a JSON list of scheme totals."""
        try:
            return [cls.model_validate(t).to_domain() for t in orjson.loads(raw)]
        except (ValueError, TypeError, ValidationError) as exc:
            raise InvalidRequest(f"月汇总格式错误 totals malformed: {exc}") from None


class DetailIn(Strict):
    settlement_id: str = Field(max_length=40)
    scheme: str = SCHEME
    total: MoneyIn
    fund_pay: MoneyIn
    account_pay: MoneyIn

    def to_domain(self) -> Detail:
        from api.schemas.common import fen

        return Detail(self.settlement_id, self.scheme, fen(self.total), fen(self.fund_pay), fen(self.account_pay))


class SubmissionCreate(Strict):
    month: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-03"])
    totals: list[SchemeTotalIn] = Field(max_length=10)
    details: list[DetailIn] = Field(default_factory=list, max_length=200_000)
