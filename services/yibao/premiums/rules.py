"""What a resident owes for a coverage year: premium − subsidy (pure; DOMAIN §2)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson

from yibao.money import Fen
from yibao.policy.params import PremiumParams


@dataclass(frozen=True)
class Subsidy:
    amount: Fen
    group: str | None  # the group that gave it (None: no subsidy)
    kind: str  # full / fixed / none


def subsidy(groups: Iterable[str], params: PremiumParams) -> Subsidy:
    """The most favourable subsidy among the groups held: full beats fixed beats none, and the
    largest fixed amount beats a smaller one (DOMAIN §8).

    Ties pick the alphabetically first group so the booking is deterministic.
    """
    held = sorted(set(groups))
    s = params.subsidy
    for g in held:
        if g in s.full_groups:
            return Subsidy(params.premium, g, "full")
    fixed = [(Fen(min(s.amount_of(g), params.premium)), g) for g in held if g in s.fixed_groups]
    if fixed:
        # the largest fixed amount (groups may carry different ones); ties: the first by code
        amount, group = min(fixed, key=lambda x: (-x[0], x[1]))
        return Subsidy(amount, group, "fixed")
    return Subsidy(Fen(0), None, "none")


def exempt_group(groups: Iterable[str], params: PremiumParams) -> str | None:
    """A held group that exempts from the waiting period, if any."""
    held = sorted(set(groups) & params.waiting.exempt_groups)
    return held[0] if held else None


def request_hash(request: Mapping[str, object]) -> str:
    """SHA-256 of a payment request's fields (key order does not matter): what an
    ``Idempotency-Key`` is bound to."""
    return hashlib.sha256(orjson.dumps(dict(request), option=orjson.OPT_SORT_KEYS)).hexdigest()
