"""One scrubber over every log line: messages, tracebacks and stacks, on every handler
(uvicorn's included), for every credential the product issues and for ID numbers."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError

from yibao import config
from yibao.config import Settings
from yibao.logs import ScrubFilter, install, scrub
from yibao.members import codes

ID = "430522199001011235"
MASKED_ID = "4305221990******35"


def test_scrub_masks_ids_and_secrets() -> None:
    line = "settle 430522199001011235 key=ybk_4NjJKSZYZ6jFOPDE8f6hVOn1 x 43052219900101123X"
    assert scrub(line) == "settle 4305221990******35 key=ybk_*** x 4305221990******3X"


def test_scrub_masks_every_credential_the_product_issues() -> None:
    staff_token = jwt.encode({"sub": "1", "name": "li", "role": "admin", "ver": 0}, "k" * 32, algorithm="HS256")
    member_code, _ = codes.issue(42, "m" * 32, 60)
    issued = {
        "institution key": "ybk_4NjJKSZYZ6jFOPDE8f6hVOn1hvH-x_Y2",
        "bootstrap staff token": "ybs__SEs8UWgVBn9i7OZsEkzinsAkMhnguS36Tjse9edb4I",
        "member token": "ybm_Q2xZk3-9vYw_0aLp4RtUe8sN1cBfHjKmXoIyGdVzAq",
        "activation code": "yba_3q2UaRf0xK7_Lm-Pz9WbTe1c",
        "staff access token": staff_token,
        "member QR code": member_code,
    }
    for kind, secret in issued.items():
        cleaned = scrub(f"refused {secret}, retrying")
        assert secret not in cleaned and secret[8:20] not in cleaned, kind
        assert cleaned.startswith("refused ") and cleaned.endswith(", retrying"), (kind, cleaned)
    # whatever was sent as a bearer credential, and secrets assigned by name
    assert scrub("Authorization: Bearer whatever-it-was") == "Authorization: Bearer ***"
    assert scrub("SECRET_KEY=abc123def456 AUDIT_SECRET: 'xyz789' password=hunter22") == (
        "SECRET_KEY=*** AUDIT_SECRET: '***' password=***"
    )


def test_scrub_leaves_digests_and_key_ids_alone() -> None:
    """A hex digest can hold 18 digits in a row; a key id is not a secret."""
    digest = "ab430522199001011235cd" + "0" * 42
    assert scrub(f"hash {digest} key id kid_3f9a0c27d41e") == f"hash {digest} key id kid_3f9a0c27d41e"
    assert scrub(f"person {ID}, {ID}.") == f"person {MASKED_ID}, {MASKED_ID}."


def test_filter_rewrites_the_record(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("yibao.test")
    caplog.handler.addFilter(ScrubFilter())
    with caplog.at_level(logging.INFO):
        logger.info("person %s not enrolled", ID)
    assert ID not in caplog.text and MASKED_ID in caplog.text


def _raise_with_secrets() -> None:
    key = "ybk_4NjJKSZYZ6jFOPDE8f6hVOn1hvH"
    raise RuntimeError(f"could not settle for {ID} with {key}")


def test_tracebacks_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    # given a handler that prints tracebacks (the filter on it)
    logger = logging.getLogger("yibao.test.tb")
    caplog.handler.addFilter(ScrubFilter())
    with caplog.at_level(logging.ERROR):
        # when an exception carrying an ID number and a key is logged with its traceback
        try:
            _raise_with_secrets()
        except RuntimeError:
            logger.exception("unhandled error")
    # then neither appears in what the handler printed, the traceback included
    printed = caplog.text
    assert "Traceback" in printed and "RuntimeError" in printed
    assert ID not in printed and "ybk_4NjJ" not in printed
    assert MASKED_ID in printed and "ybk_***" in printed


UVICORN_SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, socket, sys
    import httpx, uvicorn
    from yibao import logs

    ID = "430522199001011235"
    KEY = "ybk_4NjJKSZYZ6jFOPDE8f6hVOn1hvH"

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        raise RuntimeError(f"boom for {ID} with {KEY}")

    async def main():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # uvicorn configures its own loggers and handlers here, before the application is loaded
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", access_log=True)
        logs.install()  # what create_app does when uvicorn imports the application
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/api/v1/persons/{ID}", headers={"Authorization": "Bearer " + KEY})
        server.should_exit = True
        await task

    asyncio.run(main())
    """
)


def test_uvicorns_own_handlers_are_scrubbed(tmp_path: Path) -> None:
    """uvicorn logs an application's exception, with its traceback, through its own handler
    (``uvicorn.error`` → stderr) and each request through ``uvicorn.access``; neither may
    print the ID number in the path or the key in the exception."""
    script = tmp_path / "serve.py"
    script.write_text(UVICORN_SCRIPT)
    services = str(Path(config.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": services, "PATH": "/usr/bin:/bin"},
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    assert "Exception in ASGI application" in printed and "Traceback" in printed, printed
    assert f"/api/v1/persons/{MASKED_ID}" in printed and "500" in printed, printed  # the access line, intact
    assert ID not in printed and "ybk_4NjJ" not in printed, printed


def test_install_puts_the_filter_on_every_existing_handler() -> None:
    handler = logging.StreamHandler()
    logging.getLogger("some.library").addHandler(handler)
    try:
        install()
        assert any(isinstance(f, ScrubFilter) for f in handler.filters)
    finally:
        logging.getLogger("some.library").removeHandler(handler)


# ------------------------------------------------------------------ the server's secret
def test_development_generates_its_secret_outside_the_source_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given no SECRET_KEY, a state directory of the user's, and a source tree
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    tree = tmp_path / "repo"
    tree.mkdir()
    monkeypatch.setattr(config, "REPO_ROOT", tree)
    # when the settings need the secret
    secret = Settings(_env_file=None).master_secret()  # type: ignore[call-arg]
    # then it was generated under $XDG_STATE_HOME/yibao, private, and nothing in the source tree
    written = tmp_path / "state" / "yibao" / "secret"
    assert written.read_text().encode() == secret and len(secret) >= 32
    assert written.stat().st_mode & 0o777 == 0o600
    assert list(tree.iterdir()) == []
    assert config.default_state_dir() == tmp_path / "state" / "yibao"


def test_production_refuses_to_start_without_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="SECRET_KEY must be set"):
        Settings(_env_file=None, environment="production", state_dir=tmp_path)  # type: ignore[call-arg]
    assert list(tmp_path.iterdir()) == []  # and generated nothing on the way
    with pytest.raises(ValidationError, match="AUDIT_SECRET must be at least 32"):
        Settings(_env_file=None, secret_key="s" * 32, audit_secret="short")  # type: ignore[call-arg]
    ok = Settings(_env_file=None, environment="production", secret_key="s" * 32)  # type: ignore[call-arg]
    assert len(ok.audit_key()) == 64 and ok.audit_key() != ok.master_secret()
