"""A clearing worked by hand for three institutions (budget 52,600.00 → 10.00 per point)."""

from __future__ import annotations

from decimal import Decimal

from yibao.clearing.dip_math import Case, Group, Terms, clear, settle_amount
from yibao.money import Fen
from yibao.policy.params import DipParams

P = DipParams(budget=Fen(5_260_000))
GROUPS = [Group("A01-C", "A01", "", 1000, Fen(1_000_000)), Group("B02-S", "B02", "P1", 500, Fen(500_000))]


def case(cid: str, inst: str, dx: str, proc: str, cost: int, claimed: int) -> Case:
    return Case(cid, inst, [dx], [proc] if proc else [], Fen(cost * 100), Fen(claimed * 100))


def test_three_institutions_by_hand() -> None:
    # given
    cases = [
        case("c1", "X", "A01", "", 10_000, 7_000),  # 1000 points
        case("c2", "X", "A01", "", 25_000, 17_500),  # 2.5 × average > 2 → 2500 points
        case("c3", "X", "Z99", "", 3_000, 2_000),  # no group: listed, paid item-based
        case("c4", "Y", "B02", "P1", 2_000, 1_400),  # 0.4 × average < 0.5 → 200 points
        case("c5", "Y", "B02", "P1", 5_000, 3_500),  # 500 points
        case("c6", "Z", "A01", "", 16_000, 15_000),  # 1.6 × average: not scaled, 1000 points
    ]
    terms = [
        Terms("X", Decimal("1.00"), Fen(100_000_000)),
        Terms("Y", Decimal("0.80"), Fen(100_000_000), prepaid=Fen(100_000)),
        Terms("Z", Decimal("1.20"), Fen(1_300_000)),
    ]
    # when
    result = clear(cases, GROUPS, terms, P, P.budget)
    # then: weighted 3500 + 560 + 1200 = 5260; point value 1000 fen
    assert result.weighted_points == Decimal("5260")
    assert result.point_value == Decimal("1000")
    x, y, z = result.statements
    # X: DIP 35,000; claimed 24,500; surplus 10,500 kept up to 15 % = 5,250 → 29,750
    assert (x.points, x.dip_amount, x.claimed, x.final) == (Decimal("3500"), 3_500_000, 2_450_000, 2_975_000)
    assert x.clearing_ratio == Decimal("1.2143") and x.difference == 525_000
    assert x.unmatched == ("c3",) and x.unmatched_claimed == 200_000
    # Y: DIP 560 × 10 = 5,600; claimed 4,900; surplus 700 ≤ 840 → 5,600; minus prepaid 1,000
    assert (y.weighted_points, y.dip_amount, y.final) == (Decimal("560"), 560_000, 560_000)
    assert y.clearing_ratio == Decimal("1.1429") and y.difference == 560_000 - 490_000 - 100_000
    # Z: DIP 12,000; claimed 15,000; 50 % of 3,000 = 1,500 > 10 % band 1,200 → 13,200; budget 13,000
    assert (z.dip_amount, z.before_cap, z.final) == (1_200_000, 1_320_000, 1_300_000)
    assert z.clearing_ratio == Decimal("0.8667") and z.difference == -200_000


def test_overspend_share_below_the_band_and_exact_match() -> None:
    assert settle_amount(Fen(100_000), Fen(110_000), P) == 105_000  # 50 % of 10,000 < 10 % band
    assert settle_amount(Fen(100_000), Fen(100_000), P) == 100_000


def test_nothing_weighted_gives_zero_point_value() -> None:
    result = clear([], GROUPS, [Terms("X", Decimal(1), Fen(1))], P, P.budget)
    assert result.point_value == 0 and result.statements[0].clearing_ratio is None
