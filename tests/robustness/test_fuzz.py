"""Schemathesis against the OpenAPI schema of every endpoint, as an anonymous caller, an
institution and an admin: no request may produce a 5xx."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.robustness import live
from yibao.config import Settings

EXAMPLES_PER_OPERATION = 15


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = live.free_port()
    log = tmp_path_factory.mktemp("fuzz") / "api.log"
    proc = live.api(settings, port, log, RATE_LIMIT_ENABLED="false", RUN_OUTBOX_RELAY="false")
    base = f"http://127.0.0.1:{port}"
    try:
        live.wait_healthy(base)
        yield base
    finally:
        live.kill(proc)
    server_errors = [ln for ln in log.read_text(errors="replace").splitlines() if "unhandled error" in ln]
    assert not server_errors, f"the API logged unhandled errors: {server_errors[:3]}"


def _fuzz(base: str, headers: list[str], tmp: Path) -> tuple[int, str]:
    args = [
        live.schemathesis(),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--phases",
        "examples,coverage,fuzzing",
        "--continue-on-failure",
        "--seed",
        "2026",
        "--request-timeout",
        "10",
    ]
    for h in headers:
        args += ["-H", h]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("caller", ["anonymous", "institution", "admin"])
def test_no_request_produces_a_server_error(
    server: str, caller: str, institution_keys: dict[str, str], admin_headers: dict[str, str], tmp_path: Path
) -> None:
    headers = {
        "anonymous": [],
        "institution": [f"Authorization: Bearer {institution_keys['H430522100']}"],
        "admin": [f"Authorization: {admin_headers['Authorization']}"],
    }[caller]
    rc, out = _fuzz(server, headers, tmp_path)
    generated = re.search(r"(\d+) generated", out)
    assert generated and int(generated.group(1)) > 100, out[-3000:]
    assert "Server error" not in out and rc == 0, out[-5000:]
