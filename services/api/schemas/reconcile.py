from __future__ import annotations

import orjson
from pydantic import Field, ValidationError

from api.schemas.common import Count, MoneyIn, Month, Strict
from yibao.errors import InvalidRequest
from yibao.reconcile.monthly import Detail, SchemeTotal

SCHEME = Field(pattern="^(resident|employee)$", examples=["resident"])
MAX_TOTALS = 10


class SchemeTotalIn(Strict):
    scheme: str = SCHEME
    count: Count
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
            items = orjson.loads(raw)
            if not isinstance(items, list) or len(items) > MAX_TOTALS:
                raise ValueError(f"a JSON list of at most {MAX_TOTALS} scheme totals")
            return [cls.model_validate(t).to_domain() for t in items]
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
    month: Month
    totals: list[SchemeTotalIn] = Field(max_length=MAX_TOTALS)
    details: list[DetailIn] = Field(default_factory=list, max_length=200_000)
