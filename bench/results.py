"""Print the figures and append a dated section to ``bench/RESULTS.md``.

Why a log file in the repo: a benchmark number means little without the machine, the
commit and the parameters it came from, and regressions are found by comparing
sections, so every run writes all of them next to its figures.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = """# Benchmark results

Appended by `python bench/run.py` (see `bench/README.md`). Newest last. Figures from
different machines or parameters are not comparable; the ratio to pgbench is the
figure meant to travel between machines.
"""


@dataclass
class RunReport:
    """Everything one run produced; ``None`` where a step was skipped."""

    label: str
    params: dict[str, Any]
    environment: dict[str, str]
    seed_line: str | None
    pgbench: dict[str, Any] | None
    phase_a: dict[str, Any]
    phase_b: dict[str, Any] | None
    rates: dict[str, float | None]
    integrity: str
    ceiling: dict[str, Any] | None = None  # the settle SQL replayed without the API (ceiling.py)
    extras: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if not self.pgbench or not self.pgbench["tps"]:
            return None
        return float(self.phase_a["tps"]) / float(self.pgbench["tps"])


def git_commit(repo: Path) -> str:
    """Short commit of the tree that was measured (read-only ``git rev-parse``)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def environment(repo: Path, pg_settings: dict[str, str]) -> dict[str, str]:
    return {
        "uname": " ".join(platform.uname()),
        "cpus": str(os.cpu_count()),
        "commit": git_commit(repo),
        "python": platform.python_version(),
        "postgres": ", ".join(f"{k}={v}" for k, v in pg_settings.items()),
    }


def _lat(phase: dict[str, Any]) -> str:
    lat = phase["latency_ms"]
    return f"{lat['p50']} / {lat['p95']} / {lat['p99']} ms (max {lat['max']})"


def _errors(phase: dict[str, Any]) -> str:
    if not phase["errors"]:
        return "0"
    codes = ", ".join(f"{k}: {v}" for k, v in phase["errors_by_code"].items())
    return f"{phase['errors']} ({codes})"


def _cpu(phase: dict[str, Any]) -> str:
    split = ", ".join(f"{k} {v}" for k, v in phase.get("cpu_cores", {}).items())
    workers = phase.get("api_workers")
    if not workers:
        return split
    return f"{split}; per API worker: cores {workers['cores']}, client connections {workers['connections']}"


def per_settlement(phase: dict[str, Any]) -> str:
    """CPU milliseconds one settlement costs each side: the figure to optimise against."""
    cores, tps = phase.get("cpu_cores"), phase["tps"]
    if not cores or not tps:
        return "n/a"
    api, pg, client = (1000 * cores[k] / tps for k in ("api", "postgres", "loadgen"))
    return f"API {api:.1f} ms, PostgreSQL {pg:.1f} ms, load generator {client:.2f} ms"


def _states(phase: dict[str, Any], top: int = 5) -> str:
    shares = list(phase.get("db_states", {}).items())[:top]
    return "; ".join(f"{k} {100 * v:.0f}%" for k, v in shares) or "-"


NOISY_CORES = 0.2  # more CPU than this used by other processes makes a phase suspect


def _noise(phase: dict[str, Any], profiled: bool) -> str | None:
    other = phase.get("cpu_cores", {}).get("other", 0.0)
    if other < NOISY_CORES:
        return None
    who = "; ".join(phase.get("other_processes", [])) or "exited before the window closed"
    if profiled and phase.get("mode") == "closed":
        who += "; includes py-spy's own sampling"
    return f"DISTURBED: other processes used {other} cores ({who})"


def figures(r: RunReport) -> list[tuple[str, str]]:
    """(figure, value) rows, the same for the console and the markdown table."""
    a, b = r.phase_a, r.phase_b
    rows = []
    if r.pgbench:
        tps, latency = r.pgbench["tps"], r.pgbench["latency_ms"]
        rows.append(("pgbench TPC-B tps", f"{tps:.1f} (latency avg {latency} ms)"))
    rows += [
        (f"settlement tps, phase A (closed loop, C={a['concurrency']})", f"{a['tps']:.1f}"),
        ("ratio settlement_tps / pgbench_tps", f"{r.ratio:.3f}" if r.ratio is not None else "n/a"),
        ("phase A latency p50 / p95 / p99", _lat(a)),
        ("phase A errors", _errors(a)),
        ("phase A CPU (cores)", _cpu(a)),
        ("phase A CPU per settlement", per_settlement(a)),
        ("phase A DB backends (non-idle samples)", _states(a)),
    ]
    profiled = bool(r.params.get("profiled"))
    if noise := _noise(a, profiled):
        rows.append(("phase A noise", noise))
    if b is not None:
        half_pg, half_a = r.rates.get("half_pgbench"), r.rates.get("half_phase_a")
        rows += [
            (
                "phase B offered rate (open loop, Poisson)",
                f"{b['rate_target']:.1f}/s = 50% of min(pgbench, A): "
                f"50% pgbench {half_pg if half_pg is not None else 'n/a'}, 50% A {half_a}",
            ),
            ("phase B achieved tps", f"{b['tps']:.1f}"),
            ("phase B latency p50 / p95 / p99", _lat(b)),
            ("phase B errors", _errors(b)),
            ("phase B CPU (cores)", _cpu(b)),
            ("phase B DB backends (non-idle samples)", _states(b)),
        ]
        if noise := _noise(b, profiled):
            rows.append(("phase B noise", noise))
    if r.ceiling is not None:
        rows += _ceiling_rows(r)
    rows.append(("integrity", r.integrity))
    if r.seed_line:
        rows.append(("seed", r.seed_line))
    return rows


def _ceiling_rows(r: RunReport) -> list[tuple[str, str]]:
    c = r.ceiling
    assert c is not None
    tps, cores = c["tps"], c.get("cpu_cores", {})
    rows = [
        (
            f"database ceiling: settle SQL replayed without the API (asyncpg, C={c['concurrency']})",
            f"{tps:.1f} settlements/s, errors {c['errors'] or 0}",
        )
    ]
    if r.pgbench and r.pgbench["tps"]:
        rows.append(("ratio ceiling / pgbench_tps", f"{tps / r.pgbench['tps']:.3f}"))
    if tps:
        rows.append(("ratio settlement_tps (phase A) / ceiling", f"{r.phase_a['tps'] / tps:.3f}"))
    if cores and tps:
        pg_ms, client_ms = 1000 * cores["postgres"] / tps, 1000 * c["client_cpu_s"] / c["duration_s"] / tps
        rows.append(
            (
                "ceiling CPU (cores) and per settlement",
                f"postgres {cores['postgres']}, replay client {cores['api']}, other {cores['other']}, "
                f"idle {cores['idle']}; PostgreSQL {pg_ms:.2f} ms, client {client_ms:.2f} ms per settlement",
            )
        )
    return rows


def console(r: RunReport) -> str:
    width = max(len(k) for k, _ in figures(r))
    lines = [f"== {r.label} =="]
    lines += [f"{k:<{width}}  {v}" for k, v in figures(r)]
    lines += r.extras
    return "\n".join(lines)


def markdown(r: RunReport) -> str:
    env = r.environment
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    params = ", ".join(f"{k}={v}" for k, v in r.params.items())
    lines = [
        f"## {now} — {r.label}",
        "",
        f"- machine: `{env['uname']}`; CPUs: {env['cpus']}; Python {env['python']}",
        f"- commit: `{env['commit']}`",
        f"- PostgreSQL: {env['postgres']}",
        f"- parameters: {params}",
        "",
        "| figure | value |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in figures(r)]
    if r.extras:
        lines += ["", "```", *r.extras, "```"]
    return "\n".join(lines) + "\n"


def append(r: RunReport, path: Path = RESULTS_MD) -> None:
    text = path.read_text() if path.exists() else HEADER
    path.write_text(text.rstrip("\n") + "\n\n" + markdown(r))
