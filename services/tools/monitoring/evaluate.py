"""Precision and recall of every post-settlement model on a synthetic year with known truth.

The generator's rows, the sweep's suspects and everything else happen in the caller's
transaction; the CLI rolls it back, so an evaluation never leaves data behind. Only
suspects of the synthetic institutions are scored (real data in the same year is ignored).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tools.monitoring import synthetic
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import MODELS, sweep


@dataclass(frozen=True)
class RuleScore:
    rule_id: str
    planted: int
    found: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.found if self.found else (1.0 if not self.planted else 0.0)

    @property
    def recall(self) -> float:
        return self.true_positives / self.planted if self.planted else 1.0


@dataclass(frozen=True)
class Evaluation:
    scores: list[RuleScore]
    counts: dict[str, int]
    seconds_generate: float
    seconds_models: float

    def lines(self) -> list[str]:
        out = [
            f"synthetic year: {self.counts}  (generate+load {self.seconds_generate:.1f} s, "
            f"models {self.seconds_models:.1f} s)",
            f"{'rule':<24}{'planted':>8}{'found':>8}{'TP':>6}{'precision':>11}{'recall':>8}",
        ]
        for s in self.scores:
            out.append(
                f"{s.rule_id:<24}{s.planted:>8}{s.found:>8}{s.true_positives:>6}{s.precision:>11.3f}{s.recall:>8.3f}"
            )
        return out


async def evaluate(session: AsyncSession, *, persons: int, bills: int, year: int = 2025, seed: int = 7) -> Evaluation:
    began = time.perf_counter()
    rules = await load_rules(session)
    ids = await synthetic.reserve_person_ids(session, synthetic.planted_people(persons))
    syn = synthetic.generate(rules, persons, bills, year=year, seed=seed, person_ids=ids)
    counts = dict(await synthetic.write(session, syn))
    for table in ("settlements", "settlement_lines", "persons"):
        await session.execute(text(f"ANALYZE {table}"))
    generated = time.perf_counter()
    await sweep(session, rules, date(year, 1, 1), date(year, 12, 31))
    modelled = time.perf_counter()
    rows = (
        await session.execute(
            text("SELECT rule_id, evidence_key FROM suspects WHERE institution_code LIKE :prefix"),
            {"prefix": synthetic.PREFIX + "%"},
        )
    ).all()
    found: dict[str, set[str]] = {}
    for rule_id, key in rows:
        found.setdefault(rule_id, set()).add(key)
    scores = [
        RuleScore(
            rule_id=rule_id,
            planted=len(syn.truth.get(rule_id, set())),
            found=len(found.get(rule_id, set())),
            true_positives=len(syn.truth.get(rule_id, set()) & found.get(rule_id, set())),
        )
        for rule_id in MODELS
    ]
    return Evaluation(scores, counts, generated - began, modelled - generated)
