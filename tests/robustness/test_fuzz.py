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


@pytest.fixture
def fuzz_admin(settings: Settings) -> Iterator[str]:
    """A bootstrap admin token of the fuzz's own: the fuzz may log it out or revoke tokens by id
    (``/auth/logout``, ``/staff-tokens/{id}/revoke``), which must not touch the run's shared
    ``admin_headers``. Renewed, so an admin account the fuzz happens to create does not stop it;
    afterwards no admin account is left active (that would stop every other bootstrap token)."""
    import asyncio

    from sqlalchemy import update

    from yibao.auth.orm import StaffUserRow
    from yibao.auth.tokens import issue_staff_token, renew_staff_token
    from yibao.db.engine import make_engine, make_sessionmaker

    async def run(work):  # type: ignore[no-untyped-def]
        engine = make_engine(settings, pool_size=1)
        try:
            async with make_sessionmaker(engine)() as s, s.begin():
                return await work(s)
        finally:
            await engine.dispose()

    async def issue(s):  # type: ignore[no-untyped-def]
        issued = await issue_staff_token(s, "admin", "fuzz")
        await renew_staff_token(s, issued.id)
        return issued.secret

    async def no_admin_accounts(s):  # type: ignore[no-untyped-def]
        await s.execute(update(StaffUserRow).where(StaffUserRow.role == "admin").values(active=False))

    yield asyncio.run(run(issue))
    asyncio.run(run(no_admin_accounts))


@pytest.mark.slow
@pytest.mark.parametrize("caller", ["anonymous", "institution", "admin"])
def test_no_request_produces_a_server_error(
    server: str, caller: str, institution_keys: dict[str, str], fuzz_admin: str, tmp_path: Path
) -> None:
    headers = {
        "anonymous": [],
        "institution": [f"Authorization: Bearer {institution_keys['H430522100']}"],
        "admin": [f"Authorization: Bearer {fuzz_admin}"],
    }[caller]
    rc, out = _fuzz(server, headers, tmp_path)
    generated = re.search(r"(\d+) generated", out)
    assert generated and int(generated.group(1)) > 100, out[-3000:]
    assert "Server error" not in out and rc == 0, out[-5000:]
