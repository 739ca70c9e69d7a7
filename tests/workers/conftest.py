"""A real Redis broker (per-run db index and namespace) with both services' actors declared."""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq import Worker

from yibao import runtime
from yibao.config import Settings
from yibao.messaging.broker import install_broker

ACTORS = ("on_settlement_event", "run_job")


@pytest.fixture(scope="session")
def broker(settings: Settings) -> Iterator[dramatiq.Broker]:
    broker = install_broker(settings)
    runtime.configure(settings)
    import monitor.actors
    import settlement.actors

    for module in (settlement.actors, monitor.actors):
        for name in ACTORS:
            actor = getattr(module, name)
            if actor.actor_name not in broker.actors:  # imported earlier against another broker
                broker.declare_actor(actor)
    broker.flush_all()
    yield broker
    broker.flush_all()
    broker.close()


def work(broker: dramatiq.Broker) -> None:
    """Run a worker until both queues are drained."""
    worker = Worker(broker, worker_timeout=100, worker_threads=2)
    worker.start()
    try:
        broker.join("settlement", timeout=20_000)
        broker.join("monitor", timeout=20_000)
        worker.join()
    finally:
        worker.stop()
