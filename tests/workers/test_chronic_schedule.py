"""The chronic-disease re-review (复审, issue #17) as a scheduled job: every night the scheduler
requests today's run once; the settlement worker runs ``yibao.chronic.service.rereview``.

Day owned here: 2019-03-02 (no recognition in any test ends before it, so whichever drain runs
the queued request expires nothing of another test's)."""

from __future__ import annotations

from datetime import date


async def test_the_scheduler_requests_todays_chronic_rereview_once(sessionmaker) -> None:
    from settlement.schedule import REREVIEW_AT, request_chronic_rereview
    from yibao.jobs import kinds, runner

    # when the scheduler asks twice on the same day (a restart, a second scheduler)
    first = await request_chronic_rereview(sessionmaker, date(2019, 3, 2))
    again = await request_chronic_rereview(sessionmaker, date(2019, 3, 2))
    # then one run re-reviews that day, with exactly the parameters the job kind declares
    assert first == again
    async with sessionmaker() as s:
        run = await runner.get(s, first)
    assert (run.kind, run.params) == ("chronic_rereview", {"date": "2019-03-02"})
    declared = kinds.KINDS["chronic_rereview"].params
    assert declared is not None and set(run.params) == set(declared)
    # and the next day is a run of its own; it is requested before the counters open (China time)
    assert await request_chronic_rereview(sessionmaker, date(2019, 3, 3)) != first
    assert REREVIEW_AT["hour"] < 8
