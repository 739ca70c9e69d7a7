"""Schemathesis against the OpenAPI schema of every endpoint, as an anonymous caller, an
institution, a member and an admin: no request may produce a 5xx.

The server runs against a database of its own (created, migrated, loaded, dropped), so what the
generated requests are allowed to write (a person, a bill, the jobs schema's example daily
settle) can never reach another test's day, institution or rule. The run is reproducible
(``--seed``, ``--generation-deterministic``); ``test_hostile_openapi.py`` complements it with
every hostile number and date at every place, in-process.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import _load_reference
from tests.robustness import live
from yibao.config import Settings
from yibao.db import admin
from yibao.people.id_number import make

EXAMPLES_PER_OPERATION = 12


@dataclass(frozen=True)
class Server:
    base: str
    headers: dict[str, list[str]]  # caller → -H arguments


async def _tokens(own: Settings) -> tuple[str, str]:
    """An admin token and a key of the county hospital, in the server's own database. The token
    is renewed, so an admin account the fuzz itself creates (``POST /staff``) does not stop it."""
    from yibao.auth.tokens import create_institution_key, issue_staff_token, renew_staff_token
    from yibao.db.engine import make_engine, make_sessionmaker

    engine = make_engine(own, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            issued = await issue_staff_token(s, "admin", "fuzz-admin")
            await renew_staff_token(s, issued.id)
            return issued.secret, await create_institution_key(s, "H430522100")
    finally:
        await engine.dispose()


def _member(base: str, admin_token: str) -> str:
    """The examples' person, registered and enrolled, signed in to the app: a member token."""
    idn, auth = make("43052219900101123"), {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=base, headers=auth, timeout=10) as c:
        assert c.post("/api/v1/persons", json={"id_number": idn, "name": "张三", "region": "430522"}).status_code == 201
        body = {"id_number": idn, "scheme": "resident", "year": 2026, "coverage_start": "2026-01-01"}
        assert c.post("/api/v1/enrolments", json=body).status_code == 201
        code = c.post(f"/api/v1/persons/{idn}/activation-codes").json()["activation_code"]
        return str(c.post("/api/v1/me/activate", json={"activation_code": code}, headers={}).json()["token"])


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    run = secrets.token_hex(4)
    own = settings.model_copy(
        update={
            "database_url": settings.database_url.rsplit("/", 1)[0] + f"/yibao_fuzz_{run}",
            "broker_namespace": f"{settings.broker_namespace}-fuzz-{run}",
        }
    )
    asyncio.run(admin.create_database(own.database_url))
    port = live.free_port()
    log = tmp_path_factory.mktemp("fuzz") / "api.log"
    proc = None
    try:
        admin.upgrade(own.database_url)
        asyncio.run(_load_reference(own))
        admin_token, key = asyncio.run(_tokens(own))
        proc = live.api(own, port, log, RATE_LIMIT_ENABLED="false", RUN_OUTBOX_RELAY="false")
        base = f"http://127.0.0.1:{port}"
        live.wait_healthy(base)
        member = _member(base, admin_token)
        yield Server(
            base,
            {
                "anonymous": [],
                "institution": [f"Authorization: Bearer {key}"],
                "member": [f"Authorization: Bearer {member}"],
                "admin": [f"Authorization: Bearer {admin_token}"],
            },
        )
    finally:
        if proc is not None:
            live.kill(proc)
        live.clear_broker(own)
        asyncio.run(admin.drop_database(own.database_url))
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
        "--generation-deterministic",
        "--request-timeout",
        "10",
    ]
    for h in headers:
        args += ["-H", h]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("caller", ["anonymous", "institution", "member", "admin"])
def test_no_request_produces_a_server_error(server: Server, caller: str, tmp_path: Path) -> None:
    rc, out = _fuzz(server.base, server.headers[caller], tmp_path)
    generated = re.search(r"(\d+) generated", out)
    assert generated and int(generated.group(1)) > 100, out[-3000:]
    assert "Server error" not in out and rc == 0, out[-5000:]
    print(f"\nschemathesis as {caller}: {generated.group(1)} generated")
