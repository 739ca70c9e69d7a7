"""Every post-settlement model at its exact threshold: the case on it hits, one step short does not.

The cases are written by hand with their figures in the test. (``test_models.py`` measures
precision and recall against the truth that ``tools/monitoring/synthetic.py`` plants; it reads the
same thresholds as the models, so a shifted comparison moves both at once.) The thresholds in
force come from the seeded rules (``policy-2026.json`` ``monitoring`` and ``rules.DEFAULTS``);
each test first asserts the figures it was written for.

Each test writes its own institutions, persons and bills (``tests/monitoring/rows.py``) in one
transaction, runs one model over 2019 (a year no other test settles in), compares the exact set
of suspects at its own institutions, and rolls back.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tests.monitoring.rows import Rows, fresh_region
from yibao.monitoring.repository import load_rules
from yibao.monitoring.rules import RuleConfig, build
from yibao.monitoring.sweep import MODELS, sweep

FROM, TO = date(2019, 1, 1), date(2019, 12, 31)


async def _run(rows: Rows, rule_id: str, expected_params: dict[str, Any]) -> set[tuple[str, str]]:
    """Run one model over 2019; the suspects it found at this test's institutions."""
    rules = await load_rules(rows.session)
    assert dict(rules.params(rule_id)) == expected_params, "the rule in force is not the one this test is written for"
    await sweep(rows.session, rules, FROM, TO, only=[rule_id])
    return await rows.suspects()


def test_every_model_has_a_threshold_test_here() -> None:
    tested = {name.removeprefix("test_").split("_at_")[0] for name in globals() if name.startswith("test_")}
    assert set(MODELS) <= tested, set(MODELS) - tested


# ---------------------------------------------------------------- split admission: gap ≤ 15 days


async def test_split_admission_at_15_days(rows: Rows) -> None:
    # given stays at one hospital; readmitted 15 days after discharge (hit), 16 days (miss), same day (hit),
    # and 5 days after a discharge from *another* hospital (miss)
    h1, h2 = await rows.institution(), await rows.institution()
    p15, p16, p0, other = [await rows.person() for _ in range(4)]
    for p in (p15, p16, p0):
        await rows.stay(h1, p, date(2019, 3, 1), date(2019, 3, 5))
    on_15 = await rows.stay(h1, p15, date(2019, 3, 20), date(2019, 3, 24), fund_total=123_400)
    await rows.stay(h1, p16, date(2019, 3, 21), date(2019, 3, 25))
    on_0 = await rows.stay(h1, p0, date(2019, 3, 5), date(2019, 3, 8))
    await rows.stay(h2, other, date(2019, 3, 1), date(2019, 3, 5))
    await rows.stay(h1, other, date(2019, 3, 10), date(2019, 3, 12))
    # when
    found = await _run(rows, "split_admission", {"days": 15})
    # then
    assert found == {("split_admission", on_15), ("split_admission", on_0)}
    hit = await rows.suspect("split_admission", on_15)
    assert (hit.institution_code, hit.person_id, hit.amount) == (h1, p15, 123_400)
    assert (hit.evidence["gap_days"], hit.evidence["limit_days"]) == (15, 15)


# ---------------------------------------------------------------- frequent admissions: 3 within 90 days


async def test_frequent_admissions_at_3_in_90_days(rows: Rows) -> None:
    # given admissions (any hospital) on days 0, 45 and 89 of a 90-day window (hit on the third),
    # on days 0, 45 and 90 (miss: 91 days), and two within a week (miss: one short of 3)
    a, b, c = [await rows.institution() for _ in range(3)]
    hit_p, wide_p, two_p = [await rows.person() for _ in range(3)]
    starts = (date(2019, 1, 1), date(2019, 2, 15))
    for inst, start in zip((a, b), starts, strict=True):
        await rows.stay(inst, hit_p, start, start + timedelta(days=3))
        await rows.stay(inst, wide_p, start, start + timedelta(days=3))
    third = await rows.stay(c, hit_p, date(2019, 3, 31), date(2019, 4, 2), fund_total=55_500)  # day 89
    await rows.stay(c, wide_p, date(2019, 4, 1), date(2019, 4, 3))  # day 90
    await rows.stay(a, two_p, date(2019, 5, 1), date(2019, 5, 2))
    await rows.stay(b, two_p, date(2019, 5, 6), date(2019, 5, 8))
    # when
    found = await _run(rows, "frequent_admissions", {"count": 3, "days": 90})
    # then
    assert found == {("frequent_admissions", third)}
    hit = await rows.suspect("frequent_admissions", third)
    assert (hit.institution_code, hit.person_id, hit.amount, hit.evidence["admissions"]) == (c, hit_p, 55_500, 3)


# ---------------------------------------------------------------- bed-hogging: every line a bed or nursing fee


async def test_bed_hogging_at_every_line_a_bed_fee(rows: Rows) -> None:
    # given inpatient bills of only bed and nursing fees (hit), the same plus one blood test (miss),
    # and an outpatient bill of only a bed fee (miss: not a stay)
    h = await rows.institution()
    beds, tested, outpatient = [await rows.person() for _ in range(3)]
    admitted, discharged = date(2019, 4, 1), date(2019, 4, 8)
    bed_days = [("S-BED-2", 7, 4_000, []), ("S-NURS-1", 7, 3_000, [])]
    only_beds = await rows.bill(h, beds, "inpatient", discharged, bed_days, admitted_on=admitted, fund_total=30_000)
    await rows.bill(h, tested, "inpatient", discharged, [*bed_days, ("S-BLRT", 1, 2_000, [])], admitted_on=admitted)
    await rows.bill(h, outpatient, "outpatient", discharged, [("S-BED-2", 1, 4_000, [])])
    # when
    found = await _run(rows, "bed_hogging", {"item_prefixes": ["S-BED", "S-NURS"]})
    # then
    assert found == {("bed_hogging", only_beds)}
    hit = await rows.suspect("bed_hogging", only_beds)
    assert (hit.amount, hit.evidence["lines"], hit.evidence["days"], hit.evidence["total_fen"]) == (
        30_000,
        2,
        7,
        49_000,
    )


# ---------------------------------------------------------------- visits per day: more than 3


async def test_visits_per_day_at_4_visits(rows: Rows) -> None:
    # given 4 outpatient visits on one day (hit; a stay ending that day is not a visit), 3 (miss),
    # and 3 settled + 1 cancelled + 1 inpatient (miss)
    h1, h2 = await rows.institution(), await rows.institution()
    four, three, mixed = [await rows.person() for _ in range(3)]
    day = date(2019, 5, 6)
    for inst in (h1, h1, h1, h2):
        await rows.visit(inst, four, day, fund_total=1_000)
    await rows.stay(h2, four, day - timedelta(days=3), day)
    for inst in (h1, h2, h1):
        await rows.visit(inst, three, day)
        await rows.visit(inst, mixed, day)
    await rows.visit(h2, mixed, day, status="cancelled")
    await rows.stay(h2, mixed, day - timedelta(days=2), day)
    # when
    found = await _run(rows, "visits_per_day", {"max_per_day": 3})
    # then
    key = f"{four}:{day}"
    assert found == {("visits_per_day", key)}
    hit = await rows.suspect("visits_per_day", key)
    assert (hit.institution_code, hit.amount, hit.evidence["visits"]) == (h1, 4_000, 4)


# ---------------------------------------------------------------- institutions per week: more than 4 in 7 days


async def test_institutions_per_week_at_5_institutions_in_7_days(rows: Rows) -> None:
    # given 5 institutions on 7 consecutive days (hit on the 7th) and a 6th the day after (same episode),
    # 5 institutions over 8 days (miss: never 5 in one 7-day window), and 4 institutions on one day (miss)
    insts = [await rows.institution() for _ in range(6)]
    seven, eight, four = [await rows.person() for _ in range(3)]
    start = date(2019, 6, 3)
    for inst, offset in zip(insts[:5], (0, 1, 3, 5, 6), strict=True):
        await rows.visit(inst, seven, start + timedelta(days=offset), fund_total=1_500)
    await rows.visit(insts[5], seven, start + timedelta(days=7))
    for inst, offset in zip(insts[:5], (0, 2, 4, 6, 7), strict=True):
        await rows.visit(inst, eight, start + timedelta(days=offset))
    for inst in insts[:4]:
        await rows.visit(inst, four, start)
    # when
    found = await _run(rows, "institutions_per_week", {"max_institutions": 4, "days": 7})
    # then
    key = f"{seven}:{start + timedelta(days=6)}"
    assert found == {("institutions_per_week", key)}
    hit = await rows.suspect("institutions_per_week", key)
    assert (hit.institution_code, hit.amount, hit.evidence["institutions"]) == (insts[4], 7_500, 5)


async def test_institutions_per_week_at_a_new_episode_7_days_after_the_last_hit(rows: Rows) -> None:
    # given 5 institutions on days 0–4 (a hit on day 4), then all 5 again on one day: on day 11
    # (7 days after the last hit day: a new episode, a second suspect) or on day 10 (6 days: the same episode)
    insts = [await rows.institution() for _ in range(5)]
    gap7, gap6 = await rows.person(), await rows.person()
    start = date(2019, 8, 5)
    for p, again in ((gap7, 11), (gap6, 10)):
        for i, inst in enumerate(insts):
            await rows.visit(inst, p, start + timedelta(days=i))
            await rows.visit(inst, p, start + timedelta(days=again))
    # when
    found = await _run(rows, "institutions_per_week", {"max_institutions": 4, "days": 7})
    # then
    first = start + timedelta(days=4)
    assert found == {
        ("institutions_per_week", f"{gap7}:{first}"),
        ("institutions_per_week", f"{gap7}:{start + timedelta(days=11)}"),
        ("institutions_per_week", f"{gap6}:{first}"),
    }


# ---------------------------------------------------------------- claims after death: dated after the death date


async def test_claims_after_death_at_one_day_after(rows: Rows) -> None:
    # given a person who died on 07-01 with bills on 06-30 and 07-01 (miss) and 07-02 (hit)
    h = await rows.institution()
    died = date(2019, 7, 1)
    p = await rows.person(death_date=died)
    await rows.visit(h, p, died - timedelta(days=1))
    await rows.visit(h, p, died)
    after = await rows.visit(h, p, died + timedelta(days=1), fund_total=1_234)
    # when
    found = await _run(rows, "claims_after_death", {})
    # then
    assert found == {("claims_after_death", after)}
    hit = await rows.suspect("claims_after_death", after)
    assert (hit.person_id, hit.amount, hit.evidence["days_after"]) == (p, 1_234, 1)


# ---------------------------------------------------------------- trace code: on more than one live settlement


async def test_trace_code_duplicate_at_two_live_settlements(rows: Rows) -> None:
    # given code A on two settled bills (hit, the later sale's institution and box share at stake),
    # code B settled once and cancelled once (miss), code C twice on one bill (miss), code D once (miss)
    h1, h2 = await rows.institution(), await rows.institution()
    p1, p2 = await rows.person(), await rows.person()
    tag = h1[-9:]
    a, b, c, d, x = (f"MT{tag}{n}" for n in "ABCDX")
    await rows.bill(h1, p1, "outpatient", date(2019, 7, 1), [("D-AMOX-250", 1, 1_200, [a])])
    await rows.bill(h2, p2, "outpatient", date(2019, 8, 1), [("D-AMOX-250", 2, 1_250, [a, x])])
    await rows.bill(h1, p1, "outpatient", date(2019, 7, 2), [("D-AMOX-250", 1, 1_200, [b])])
    await rows.bill(h2, p2, "outpatient", date(2019, 8, 2), [("D-AMOX-250", 1, 1_200, [b])], status="cancelled")
    await rows.bill(
        h1, p1, "outpatient", date(2019, 7, 3), [("D-AMOX-250", 1, 1_200, [c]), ("D-AMOX-250", 1, 1_200, [c])]
    )
    await rows.bill(h1, p1, "outpatient", date(2019, 7, 4), [("D-AMOX-250", 1, 1_200, [d])])
    # when
    found = await _run(rows, "trace_code_duplicate", {})
    # then
    assert found == {("trace_code_duplicate", a)}
    hit = await rows.suspect("trace_code_duplicate", a)
    assert (hit.institution_code, hit.person_id, hit.service_date, hit.amount) == (h2, p2, date(2019, 8, 1), 1_250)


# ---------------------------------------------------------------- institution outlier: above peer mean + 3σ


async def _peer_region(rows: Rows, peer_costs: list[int], target_cost: int, *, target_cases: int = 5) -> str:
    """A fresh region of level-2 hospitals: peers with 5 cases each at the given cost, and the
    target hospital (returned) with ``target_cases`` cases at ``target_cost``."""
    region = fresh_region()
    person = await rows.person()
    day = date(2019, 9, 2)
    for cost in peer_costs:
        inst = await rows.institution(level=2, region=region)
        for _ in range(5):
            await rows.bill(inst, person, "inpatient", day, [("S-APPX", 1, cost, [])], admitted_on=day)
    target = await rows.institution(level=2, region=region)
    for _ in range(target_cases):
        await rows.bill(target, person, "inpatient", day, [("S-APPX", 1, target_cost, [])], admitted_on=day)
    return target


async def test_institution_outlier_at_peer_mean_plus_3_sigma(rows: Rows) -> None:
    # given regions of six level-2 peers at 900.00 ×3 and 1,100.00 ×3 per case: mean 1,000.00, σ 100.00,
    # so mean + 3σ = 1,300.00. A hospital at 1,300.01 per case hits; one at exactly 1,300.00 does not;
    # one far above with only 4 cases (minimum 5) does not; with 5 peers one far above hits, with 4 it does not
    six = [90_000, 90_000, 90_000, 110_000, 110_000, 110_000]
    above = await _peer_region(rows, six, 130_001)
    await _peer_region(rows, six, 130_000)
    await _peer_region(rows, six, 500_000, target_cases=4)
    five_peers = await _peer_region(rows, [90_000, 90_000, 100_000, 110_000, 110_000], 500_000)
    await _peer_region(rows, [90_000, 90_000, 110_000, 110_000], 500_000)
    # when
    found = await _run(rows, "institution_outlier", {"sigmas": "3", "min_cases": 5, "min_peers": 5})
    # then
    assert found == {("institution_outlier", f"{above}:2019"), ("institution_outlier", f"{five_peers}:2019")}
    hit = await rows.suspect("institution_outlier", f"{above}:2019")
    assert hit.amount == (130_001 - 100_000) * 5
    ev = hit.evidence
    assert (ev["peer_mean_fen"], ev["peer_sd_fen"], ev["peers"], ev["cases"]) == (100_000, 10_000, 6, 5)
    assert (hit.person_id, hit.service_date) == (None, TO)


# ---------------------------------------------------------------- duplicate test: same test elsewhere within 7 days


async def test_duplicate_test_at_7_days(rows: Rows) -> None:
    # given a head CT at one hospital and again at another 7 days later (hit), 8 days later (miss),
    # again at the same hospital (miss), and acupuncture (not a listed test) at two hospitals (miss)
    h1, h2 = await rows.institution(), await rows.institution()
    seven, eight, same, other = [await rows.person() for _ in range(4)]
    day = date(2019, 10, 1)
    for p in (seven, eight, same):
        await rows.visit(h1, p, day, "S-CTHD")
    again = await rows.visit(h2, seven, day + timedelta(days=7), "S-CTHD")
    await rows.visit(h2, eight, day + timedelta(days=8), "S-CTHD")
    await rows.visit(h1, same, day + timedelta(days=2), "S-CTHD")
    await rows.visit(h1, other, day, "S-ACUP")
    await rows.visit(h2, other, day + timedelta(days=1), "S-ACUP")
    # when
    found = await _run(rows, "duplicate_test", {"days": 7, "items": ["S-BLRT", "S-CTHD", "S-MRI", "S-PSA", "S-HPV"]})
    # then
    key = f"{again}:S-CTHD"
    assert found == {("duplicate_test", key)}
    hit = await rows.suspect("duplicate_test", key)
    assert (hit.institution_code, hit.person_id, hit.amount, hit.evidence["earlier_institutions"]) == (
        h2,
        seven,
        3_000,
        [h1],
    )


# ---------------------------------------------------------------- maternity allowance: began < 10 months, or alone


async def test_maternity_allowance_suspect_at_10_months(rows: Rows) -> None:
    # given deliveries in 2019-11 whose contributions at the employer began 9 months before (hit),
    # 10 months before (miss), 20 months before at an employer with no other contributor (hit), and the
    # same but the allowance void (its delivery was cancelled: miss)
    from sqlalchemy import text

    h = await rows.institution()
    employer = await rows.session.scalar(
        text("INSERT INTO employers (code, name, region) VALUES (:c, '监控测试单位', '430522') RETURNING id"),
        {"c": f"91MT{rows.institutions[0][-10:]}"[:18]},
    )
    delivered = date(2019, 11, 20)
    cases = {  # person → (first contribution month, other contributors, status)
        "nine": (date(2019, 2, 1), 3, "pending"),
        "ten": (date(2019, 1, 1), 3, "pending"),
        "alone": (date(2018, 3, 1), 0, "approved"),
        "void": (date(2018, 3, 1), 0, "void"),
    }
    keys = {}
    for name, (first, others, status) in cases.items():
        p = await rows.person()
        bill = await rows.bill(h, p, "maternity_inpatient", delivered, [("S-APPX", 1, 300_000, [])], scheme="employee")
        keys[name] = f"SYMT{name.upper()}{bill[:6]}"
        await rows.session.execute(
            text(
                "INSERT INTO maternity_allowances (id, allowance_no, settlement_id, institution_code, person_id, "
                "employer_id, delivery_date, delivery_type, babies, days, months_contributed, "
                "first_contribution_month, other_contributors, average_base, daily_amount, amount, eligible, flags, "
                "status, policy_version) VALUES (gen_random_uuid(), :no, CAST(:sid AS uuid), :h, :p, :e, :d, "
                "'vaginal', 1, 98, 12, :first, :others, 600000, 20000, 1960000, true, '{}', :status, 'test')"
            ),
            {
                "no": keys[name],
                "sid": bill,
                "h": h,
                "p": p,
                "e": employer,
                "d": delivered,
                "first": first,
                "others": others,
                "status": status,
            },
        )
    # when
    found = await _run(rows, "maternity_allowance_suspect", {"months": 10})
    # then
    assert found == {("maternity_allowance_suspect", keys["nine"]), ("maternity_allowance_suspect", keys["alone"])}
    hit = await rows.suspect("maternity_allowance_suspect", keys["nine"])
    assert (hit.amount, hit.evidence["months_at_employer"], hit.evidence["other_contributors"]) == (1_960_000, 9, 3)


# ---------------------------------------------------------------- 特病高额费用: spending on the disease > 3 × its mean

_HC_YEAR = FROM.year


async def _chronic_patient(rows: Rows, inst: str, region: str, disease: str, spends: list[int], **bill: object) -> int:
    """A recognised patient of ``disease`` in ``region`` with one chronic bill per amount (fen)."""
    person = await rows.person()
    await rows.recognition(person, disease, region, FROM, TO)
    for n, amount in enumerate(spends):
        day = date(_HC_YEAR, 3 + n, 10)
        await rows.bill(inst, person, "chronic_outpatient", day, [("D-METF-500", 1, amount, [])],
                        chronic_disease=disease, **bill)  # type: ignore[arg-type]  # fmt: skip
    return person


async def _high_cost(rows: Rows, date_to: date) -> set[tuple[str, str]]:
    rules = await load_rules(rows.session)
    assert dict(rules.params("chronic_high_cost")) == {"k": 3}, "the rule in force is not the one tested here"
    await sweep(rows.session, rules, date_to.replace(day=1), date_to, only=["chronic_high_cost"])
    return await rows.suspects("chronic_high_cost")


async def test_chronic_high_cost_at_3_times_the_mean(rows: Rows) -> None:
    region, other_region = fresh_region(), fresh_region()
    inst = await rows.institution(region=region)
    # given 10 recognised CHD patients spending 560.00 each, one spending 3,500.00 in two bills and one
    # 2,900.00 (the region's CHD mean is then (5,600 + 3,500 + 2,900) / 12 = 1,000.00 exactly)
    for _ in range(10):
        await _chronic_patient(rows, inst, region, "CHD", [56_000])
    high = await _chronic_patient(rows, inst, region, "CHD", [200_000, 150_000])
    near = await _chronic_patient(rows, inst, region, "CHD", [290_000])
    # ... a cancelled bill, a bill of next year and another disease's bill do not count towards it
    await rows.bill(inst, near, "chronic_outpatient", date(_HC_YEAR, 6, 1), [("D-METF-500", 1, 500_000, [])],
                    chronic_disease="CHD", status="cancelled")  # fmt: skip
    await rows.bill(inst, near, "chronic_outpatient", date(_HC_YEAR + 1, 1, 5), [("D-METF-500", 1, 500_000, [])],
                    chronic_disease="CHD")  # fmt: skip
    # ... and COPD patients of the same region and CHD patients of another region spending 3,500.00 and
    # 10,000.00: pooled with the CHD patients above they would lift the mean and hide the hit
    for _ in range(3):
        await _chronic_patient(rows, inst, region, "COPD", [350_000])
    other_inst = await rows.institution(region=other_region)
    for _ in range(2):
        await _chronic_patient(rows, other_inst, other_region, "CHD", [1_000_000])

    # when the model runs over the year (spending from 1 January up to the sweep's last day)
    hits = await _high_cost(rows, TO)

    # then only the 3.5× patient is a suspect: not the 2.9× one, nor the COPD or other region's patients
    key = f"{high}:CHD:{_HC_YEAR}"
    assert hits == {("chronic_high_cost", key)}
    hit = await rows.suspect("chronic_high_cost", key)
    assert (hit.institution_code, hit.person_id, hit.service_date) == (inst, high, date(_HC_YEAR, 4, 10))
    e = hit.evidence
    assert (e["disease"], e["region"], e["year"], e["bills"], e["patients"]) == ("CHD", region, _HC_YEAR, 2, 12)
    assert (e["ytd_fen"], e["mean_fen"], Decimal(str(e["ratio"])), e["k"]) == (350_000, 100_000, Decimal("3.5"), 3)
    assert len(e["settlement_ids"]) == 2
    assert hit.amount == 250_000  # the spending above the mean
    # and a second sweep adds nothing
    assert await _high_cost(rows, TO) == hits


async def test_chronic_high_cost_counts_spending_up_to_the_sweeps_last_day(rows: Rows) -> None:
    region = fresh_region()
    inst = await rows.institution(region=region)
    # given four HTN patients at 100.00 and one whose 400.00 are billed in March and May (by the end of
    # April 200.00 against a mean of 120.00; by December 400.00 against 160.00: 2.5×)
    for _ in range(4):
        await _chronic_patient(rows, inst, region, "HTN", [10_000])
    person = await rows.person()
    await rows.recognition(person, "HTN", region, FROM, TO)
    for day in (date(_HC_YEAR, 3, 1), date(_HC_YEAR, 5, 1)):
        await rows.bill(inst, person, "chronic_outpatient", day, [("D-METF-500", 1, 20_000, [])],
                        chronic_disease="HTN")  # fmt: skip
    # when the April sweep and the December sweep run, then nothing (neither is above 3×)
    assert await _high_cost(rows, date(_HC_YEAR, 4, 30)) == set()
    assert await _high_cost(rows, TO) == set()
    # and with k lowered to 2 by a new version of the rule, December's 2.5× is a hit
    rules = await load_rules(rows.session)
    rule = rules.get("chronic_high_cost")
    lowered = RuleConfig(**{**rule.__dict__, "params": {"k": 2}, "version": rule.version + 1})
    await sweep(rows.session, build([*rules.rules.values(), lowered], []), FROM, TO, only=["chronic_high_cost"])
    assert await rows.suspects("chronic_high_cost") == {("chronic_high_cost", f"{person}:HTN:{_HC_YEAR}")}
