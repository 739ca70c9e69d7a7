"""Event topic names and which service queues receive each one."""

SETTLEMENT_CREATED = "settlement.created"
SETTLEMENT_CANCELLED = "settlement.cancelled"
JOB_SETTLEMENT = "job.settlement"  # a job run for the institution-settlement worker (see yibao.jobs)
JOB_MONITOR = "job.monitor"

#: topic → [(queue, actor name)]. The relay sends one message per subscriber.
SUBSCRIBERS: dict[str, list[tuple[str, str]]] = {
    SETTLEMENT_CREATED: [
        ("settlement", "settlement.on_settlement_event"),
        ("monitor", "monitor.on_settlement_event"),
    ],
    SETTLEMENT_CANCELLED: [
        ("settlement", "settlement.on_settlement_event"),
        ("monitor", "monitor.on_settlement_event"),
    ],
    JOB_SETTLEMENT: [("settlement", "settlement.run_job")],
    JOB_MONITOR: [("monitor", "monitor.run_job")],
}
