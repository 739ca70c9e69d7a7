"""Every post-settlement model on a small synthetic year: planted hits found, near misses not."""

from __future__ import annotations

from datetime import date

from yibao.monitoring.evaluate import evaluate
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import MODELS, sweep


async def test_every_model_finds_its_planted_cases_and_no_near_miss(sessionmaker) -> None:
    async with sessionmaker() as session:
        try:
            # given a synthetic year with hits and near misses for each rule; when every model runs
            result = await evaluate(session, persons=300, bills=1200, year=2024, seed=11)
            # then: recall 1.0 and precision 1.0 per rule (each near miss sits just outside its threshold)
            by_rule = {s.rule_id: s for s in result.scores}
            assert set(by_rule) == set(MODELS)
            for score in result.scores:
                assert score.planted > 0, score
                assert score.recall == 1.0, score
                assert score.precision == 1.0, score
            # and a second sweep over the same bills adds nothing (unique rule + evidence)
            again = await sweep(session, await load_rules(session), date(2024, 1, 1), date(2024, 12, 31))
            assert sum(again.values()) == 0, again
        finally:
            await session.rollback()


async def test_region_switch_off_silences_a_model(sessionmaker) -> None:
    from yibao.monitoring import synthetic
    from yibao.monitoring.rules import build

    async with sessionmaker() as session:
        try:
            rules = await load_rules(session)
            ids = await synthetic.reserve_person_ids(session, synthetic.planted_people(100))
            await synthetic.write(session, synthetic.generate(rules, 100, 300, year=2023, seed=3, person_ids=ids))
            off = build(rules.rules.values(), [("bed_hogging", synthetic.REGION, False)])
            found = await sweep(session, off, date(2023, 1, 1), date(2023, 12, 31), only=["bed_hogging"])
            assert found == {"bed_hogging": 0}
            found = await sweep(session, rules, date(2023, 1, 1), date(2023, 12, 31), only=["bed_hogging"])
            assert found["bed_hogging"] > 0
        finally:
            await session.rollback()
