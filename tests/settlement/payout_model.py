"""A reference daily settle written from DOMAIN §5 alone, to check the product's orders against.

Per institution and fund, after day D closes: what was settled minus what was cancelled on
every day up to D not yet paid, minus the confirmed deductions due by D (oldest first, the
rest carried in the deduction), is the net payable. When the cancels outweigh the bills, nothing
is paid and the whole of it carries to the next day, where it shows again as settled and
cancelled. No SQL, no product code: plain lists and sums.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from itertools import count


@dataclass(frozen=True)
class Line:
    settled: int
    cancelled: int
    deducted: int
    net: int

    def figures(self) -> tuple[int, int, int, int, int]:
        """Like ``helpers.line_figures``: (settled, cancelled, adjusted, deducted, net)."""
        return (self.settled, self.cancelled, 0, self.deducted, self.net)


@dataclass
class _Deduction:
    due_on: date
    seq: int
    remaining: int


@dataclass
class PayoutModel:
    #: (institution, fund) → open movements (business date, "settlement" | "cancel", fen)
    open: dict[tuple[str, str], list[tuple[date, str, int]]] = field(default_factory=lambda: defaultdict(list))
    deductions: dict[tuple[str, str], list[_Deduction]] = field(default_factory=lambda: defaultdict(list))
    _seq: count[int] = field(default_factory=count)

    def bill(self, institution: str, parts: dict[str, int], day: date) -> None:
        """A bill settled on ``day`` with its fund parts (fen); zero parts move nothing."""
        for fund, amount in parts.items():
            if amount:
                self.open[(institution, fund)].append((day, "settlement", amount))

    def cancel(self, institution: str, parts: dict[str, int], day: date) -> None:
        """The bill cancelled on ``day``: booked on the day of the cancel, not the bill's."""
        for fund, amount in parts.items():
            if amount:
                self.open[(institution, fund)].append((day, "cancel", amount))

    def deduct(self, institution: str, fund: str, amount: int, due_on: date) -> None:
        self.deductions[(institution, fund)].append(_Deduction(due_on, next(self._seq), amount))

    def close(self, day: date) -> dict[tuple[str, str], Line]:
        """The order of ``day``: one line per institution and fund that had something open."""
        lines: dict[tuple[str, str], Line] = {}
        for k, movements in self.open.items():
            taken = [m for m in movements if m[0] <= day]
            if not taken:
                continue
            settled = sum(a for _, kind, a in taken if kind == "settlement")
            cancelled = sum(a for _, kind, a in taken if kind == "cancel")
            owed = settled - cancelled
            if owed < 0:  # carried forward untouched
                continue
            deducted = 0
            for d in sorted(self.deductions.get(k, []), key=lambda d: (d.due_on, d.seq)):
                if d.due_on <= day and d.remaining > 0:
                    take = min(d.remaining, owed - deducted)
                    d.remaining -= take
                    deducted += take
            self.open[k] = [m for m in movements if m[0] > day]
            lines[k] = Line(settled, cancelled, deducted, owed - deducted)
        return lines

    def still_open(self) -> dict[tuple[str, str], int]:
        """What is owed but not yet in any order (negative: cancels waiting for new bills)."""
        out = {
            k: sum(a if kind == "settlement" else -a for _, kind, a in movements) for k, movements in self.open.items()
        }
        return {k: v for k, v in out.items() if self.open[k]}

    def remaining(self) -> dict[tuple[str, str], int]:
        """What is left of the deductions booked, per institution and fund."""
        return {k: sum(d.remaining for d in ds) for k, ds in self.deductions.items() if ds}
