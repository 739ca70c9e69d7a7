"""Summarize py-spy collapsed stacks: where the API workers spend their CPU.

Usage: ``python bench/hotspots.py bench/out/profile.collapsed [--top 20]``

Why not just the flame graph: a ranked table is what goes into RESULTS.md and issue
comments, and comparing two runs by eye on flame graphs is unreliable. "Self" is time
with the function on top of the stack (C code such as asyncpg's protocol, uvloop, orjson
or pydantic-core counts as self time of the Python function that called it); "inclusive"
is time with it anywhere on the stack. The per-line table of project code points at the
statement (``await s.execute(insert(...))`` …) that costs the time.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_PROCESS = re.compile(r'process \d+:"[^"]*";?')  # command lines may contain ';'
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]+?)(?::(?P<line>\d+))?\)$")

#: Leaf frames that are a thread parked on a lock or queue, not CPU work. py-spy's idle
#: detection misses some of them under ``--nonblocking`` (anyio's worker threads).
IDLE_LEAVES = (
    "threading.py:Condition.wait",
    "threading.py:Event.wait",
    "queue.py:Queue.get",
    "selectors.py:EpollSelector.select",
)

PROJECT = ("yibao/", "api/")
SERVICES = Path(__file__).resolve().parents[1] / "services"
SETTLE = "yibao/bill_settlement/service.py:settle"

#: Layer of a sample = first pattern matching its leaf frame ("file:function").
LAYERS: list[tuple[str, str]] = [
    ("SQLAlchemy: building statements, cache keys (sql/)", r"^sqlalchemy/sql/(?!compiler)"),
    ("SQLAlchemy: compiler", r"^sqlalchemy/sql/compiler\.py:"),
    ("SQLAlchemy: engine (execution context, results)", r"^sqlalchemy/engine/"),
    ("SQLAlchemy: ORM session", r"^sqlalchemy/orm/"),
    ("SQLAlchemy: asyncpg adapter, greenlet bridge", r"^sqlalchemy/(dialects|util/_concurrency)"),
    ("SQLAlchemy: pool", r"^sqlalchemy/pool/"),
    ("SQLAlchemy: other", r"^sqlalchemy/"),
    ("asyncpg (incl. its C protocol)", r"^asyncpg/"),
    ("event loop, sockets (uvloop C code)", r"^asyncio/runners\.py:Runner\.run$"),
    ("redis client (outbox relay)", r"^(redis|dramatiq)/"),
    ("uvicorn, starlette, FastAPI, anyio", r"^(uvicorn|starlette|fastapi|anyio)/"),
    ("pydantic", r"^pydantic"),
    ("project code (yibao, api)", r"^(yibao|api)/"),
    ("stdlib and other", r""),
]

#: Step of a sample (where in the request it happens) when it is not inside settle().
STEPS: list[tuple[str, str]] = [
    ("outbox relay (poll outbox, enqueue to Redis in a thread)", r"^yibao/messaging/relay\.py:"),
    ("route: to_command() and Response", r"^api/routes/settlements\.py:settle$"),
    (
        "FastAPI: request body → SettleRequest (pydantic)",
        r"^fastapi/.*:(request_body_to_args|_validate_value_with_model_field)$",
    ),
    (
        "FastAPI: dependencies (auth, refs, UnitOfWork open/close)",
        r"^fastapi/dependencies/utils\.py:solve_dependencies$|^api/deps\.py:",
    ),
    ("FastAPI: rest of the request handling", r"^fastapi/"),
    ("uvicorn/starlette: HTTP parsing, middleware, sending", r"^(uvicorn|starlette)/"),
    ("event loop, sockets (uvloop C code)", r"^asyncio/runners\.py:Runner\.run$"),
]

#: SQLAlchemy's async API runs the sync ORM/Core code in a greenlet, whose stack py-spy
#: shows as its own root, cut off from the coroutine that awaits it. Such samples are
#: attributed by the kind of statement being executed instead (first match wins).
GREENLET_STEPS: list[tuple[str, str]] = [
    (
        "SQLAlchemy (greenlet): Session.commit (outbox row flush + COMMIT)",
        r"^sqlalchemy/orm/session\.py:Session\.commit$",
    ),
    (
        "SQLAlchemy (greenlet): ORM bulk INSERT from a list of dicts (settlement_lines)",
        r"^sqlalchemy/orm/bulk_persistence\.py:_bulk_insert$",
    ),
    (
        "SQLAlchemy (greenlet): ORM-enabled INSERT … VALUES (settlements, keys, traces, …)",
        r"^sqlalchemy/orm/bulk_persistence\.py:_BulkORMInsert",
    ),
    (
        "SQLAlchemy (greenlet): ORM-enabled UPDATE incl. synchronize_session",
        r"^sqlalchemy/orm/bulk_persistence\.py:_BulkORMUpdate",
    ),
    (
        "SQLAlchemy (greenlet): SELECT and text() statements",
        r"^sqlalchemy/orm/(context\.py:|session\.py:Session\._execute_internal$)",
    ),
    (
        "SQLAlchemy (greenlet): session close / rollback / connection return",
        r"^sqlalchemy/orm/session\.py:(Session|SessionTransaction)\.(close|rollback)",
    ),
    ("SQLAlchemy (greenlet): other", r"^sqlalchemy/"),
    ("asyncpg protocol (started from a greenlet)", r"^asyncpg/"),
]


@dataclass(frozen=True)
class Frame:
    file: str
    name: str
    line: int | None

    @property
    def func(self) -> str:
        return f"{self.file}:{self.name}"


@dataclass(frozen=True)
class Sample:
    frames: tuple[Frame, ...]  # outermost first
    count: int


def parse_frame(text: str) -> Frame:
    m = _FRAME.match(text)
    if m is None:
        return Frame(text, "?", None)
    line = m.group("line")
    return Frame(m.group("file"), m.group("name"), int(line) if line else None)


def read(path: Path) -> list[Sample]:
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = _PROCESS.sub("", line).rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = tuple(parse_frame(f) for f in stack.split(";") if not f.startswith("thread "))
        samples.append(Sample(frames, int(count)))
    return samples


def first_match(table: list[tuple[str, str]], funcs: list[str]) -> str | None:
    for name, pattern in table:
        if any(re.search(pattern, f) for f in funcs):
            return name
    return None


def source_line(frame: Frame) -> str:
    """The statement a project frame is executing, read from services/ (best effort)."""
    try:
        text = (SERVICES / frame.file).read_text().splitlines()[(frame.line or 0) - 1].strip()
    except (OSError, IndexError):
        return "?"
    return text if len(text) <= 70 else text[:67] + "..."


def step_of(sample: Sample) -> str:
    """Which statement of settle() (by line), or which part of the request around it."""
    for f in sample.frames:
        if f.func == SETTLE:
            return f"settle():{f.line}  {source_line(f)}"
    leaf_first = [f.func for f in reversed(sample.frames)]
    root = sample.frames[0].func
    if root.startswith("threading.py:"):
        table = STEPS[:1]  # worker threads: the relay's enqueue, else idle bookkeeping
    elif root == "asyncio/runners.py:Runner.run" or root.startswith(("<", "tools/")):
        table = STEPS
    else:
        table = GREENLET_STEPS
    return first_match(table, leaf_first) or "other"


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:5.1f}%"


def summarize(samples: list[Sample], top: int) -> str:
    busy = [s for s in samples if s.frames and s.frames[-1].func not in IDLE_LEAVES]
    total = sum(s.count for s in busy) or 1
    parked = sum(s.count for s in samples) - total
    layers: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    step_layers: dict[str, Counter[str]] = {}
    own: Counter[str] = Counter()
    for s in busy:
        layer = first_match(LAYERS, [s.frames[-1].func]) or "stdlib and other"
        step = step_of(s)
        layers[layer] += s.count
        steps[step] += s.count
        step_layers.setdefault(step, Counter())[layer.split(" (")[0]] += s.count
        own[s.frames[-1].func] += s.count

    out = [
        f"{total} busy samples ({parked} samples of parked threads left out)",
        "",
        "where: step of the request (each sample counted once; top layers within the step):",
    ]
    for step, n in steps.most_common(top):
        mix = ", ".join(f"{layer} {100 * m / n:.0f}%" for layer, m in step_layers[step].most_common(3))
        out.append(f"  {_pct(n, total)}  {step}")
        out.append(f"          {mix}")
    out += ["", "what: layer of the code on CPU (leaf frame):"]
    out += [f"  {_pct(n, total)}  {name}" for name, n in layers.most_common()]
    out += ["", "top functions by self time:"]
    out += [f"  {_pct(n, total)}  {name}" for name, n in own.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("collapsed", type=Path, help="py-spy --format raw output")
    p.add_argument("--top", type=int, default=20)
    args = p.parse_args(argv)
    print(summarize(read(args.collapsed), args.top))


if __name__ == "__main__":
    main()
