"""Job kind → core function, for the jobs this worker runs (see yibao.jobs.kinds)."""

from __future__ import annotations

from yibao.jobs.runner import Handler

HANDLERS: dict[str, Handler] = {}
