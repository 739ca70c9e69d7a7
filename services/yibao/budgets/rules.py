"""Budget arithmetic (pure): the regional budget, institution drafts and per-case quotas.

regional  = round(base × (1 + rate))
raw_i     = Σ weight_k × payments_i,k over the last three years (oldest first)
draft_i   = regional × raw_i ÷ Σ raw, in fen, the rounding remainder handed out by largest
            fraction (ties: institution code), so the drafts sum to the regional budget exactly
cases_i   = round(Σ weight_k × cases_i,k);  quota_i = round(draft_i ÷ cases_i) (none without cases)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from yibao.money import Fen


def _half_up(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def regional(base: int, rate: Decimal) -> Fen:
    return Fen(_half_up(Decimal(base) * (1 + rate)))


@dataclass(frozen=True)
class Draft:
    amount: Fen
    expected_cases: int
    per_case_quota: Fen | None


def quota(amount: int, cases: int) -> Fen | None:
    return None if cases <= 0 else Fen(_half_up(Decimal(amount) / cases))


def drafts(
    payments: Mapping[str, Sequence[int]],
    cases: Mapping[str, Sequence[int]],
    weights: Sequence[Decimal],
    regional_budget: int,
) -> dict[str, Draft]:
    """Each institution's draft (``payments`` and ``cases``: three years, oldest first)."""
    raw = {code: sum((w * p for w, p in zip(weights, ps, strict=True)), Decimal(0)) for code, ps in payments.items()}
    total = sum(raw.values(), Decimal(0))
    if total <= 0:
        shares = dict.fromkeys(raw, 0)
    else:
        exact = {code: Decimal(regional_budget) * r / total for code, r in raw.items()}
        shares = {code: int(x.to_integral_value(rounding=ROUND_FLOOR)) for code, x in exact.items()}
        left = regional_budget - sum(shares.values())
        for code in sorted(exact, key=lambda c: (-(exact[c] - shares[c]), c))[:left]:
            shares[code] += 1
    out = {}
    for code, amount in shares.items():
        expected = _half_up(sum((w * c for w, c in zip(weights, cases[code], strict=True)), Decimal(0)))
        out[code] = Draft(Fen(amount), expected, quota(amount, expected))
    return out
