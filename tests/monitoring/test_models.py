"""Every post-settlement model on a small synthetic year: planted hits found, near misses not.

The planted truth comes from ``tools/monitoring/synthetic.py``, which reads the same thresholds as
the models; the hand-written cases at each exact threshold are in ``test_model_thresholds.py``.
Everything here runs in one transaction that is rolled back, and only suspects at this test's
own institutions are counted, so other tests' bills (or their order) cannot change the answer.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from tests.monitoring.rows import Rows, fresh_region
from tools.monitoring import synthetic
from tools.monitoring.evaluate import evaluate
from yibao.monitoring.repository import load_rules
from yibao.monitoring.rules import RuleConfig, RuleSet, build
from yibao.monitoring.sweep import MODELS, sweep


async def _synthetic_suspects(session) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = await session.execute(
        text("SELECT rule_id, evidence_key FROM suspects WHERE institution_code LIKE :prefix"),
        {"prefix": synthetic.PREFIX + "%"},
    )
    return {(r.rule_id, r.evidence_key) for r in found}


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
            # and a second sweep over the same bills adds nothing at the synthetic institutions
            before = await _synthetic_suspects(session)
            assert len(before) == sum(s.found for s in result.scores)
            await sweep(session, await load_rules(session), date(2024, 1, 1), date(2024, 12, 31))
            assert await _synthetic_suspects(session) == before
        finally:
            await session.rollback()


async def _bed_hogging_bill(rows: Rows, region: str) -> str:
    inst = await rows.institution(region=region)
    day = date(2019, 11, 12)
    lines: list[tuple[str, int, int, list[str]]] = [("S-BED-2", 5, 4_000, [])]
    return await rows.bill(inst, await rows.person(), "inpatient", day, lines, admitted_on=date(2019, 11, 7))


async def test_region_switches_silence_or_enable_a_model_only_there(rows: Rows) -> None:
    # given a bed-hogging stay in each of three regions
    regions: list[str] = []
    while len(regions) < 3:
        if (region := fresh_region()) not in regions:
            regions.append(region)
    a, b, c = regions
    stay = {region: await _bed_hogging_bill(rows, region) for region in regions}
    rules = await load_rules(rows.session)
    bed = rules.get("bed_hogging")
    default_off = RuleConfig(**{**bed.__dict__, "enabled": False, "version": bed.version + 1})

    async def run(rule_set: RuleSet) -> set[tuple[str, str]]:
        await sweep(rows.session, rule_set, date(2019, 11, 1), date(2019, 11, 30), only=["bed_hogging"])
        return await rows.suspects()

    # when the rule is off by default and switched on for region a, then only a's stay is a suspect
    assert await run(build([*rules.rules.values(), default_off], [("bed_hogging", a, True)])) == {
        ("bed_hogging", stay[a])
    }
    # when it is on by default and switched off for region b, then c's stay is added, b's is not
    assert await run(build(rules.rules.values(), [("bed_hogging", b, False)])) == {
        ("bed_hogging", stay[a]),
        ("bed_hogging", stay[c]),
    }
    # when it is on everywhere, then b's stay is found as well
    assert await run(rules) == {("bed_hogging", stay[region]) for region in regions}
