"""/docs and /redoc render on an isolated network: a headless Chromium that can resolve no host
but the API's own loads them and finds the operations drawn (Swagger UI and ReDoc run their
JavaScript, fetch /openapi.json and render it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.robustness import live
from yibao.config import Settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _rendered(url: str, profile: Path) -> str:
    """The DOM after the page's scripts ran, every host but 127.0.0.1 unresolvable (no CDN)."""
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_docs_and_redoc_render_every_operation_without_the_internet(settings: Settings, tmp_path: Path) -> None:
    port = live.free_port()
    proc = live.api(settings, port, tmp_path / "api.log", RUN_OUTBOX_RELAY="false")
    try:
        live.wait_healthy(f"http://127.0.0.1:{port}")
        swagger = _rendered(f"http://127.0.0.1:{port}/docs", tmp_path / "profile-docs")
        redoc = _rendered(f"http://127.0.0.1:{port}/redoc", tmp_path / "profile-redoc")
    finally:
        live.kill(proc)

    # Swagger UI drew one block per operation, with the paths and summaries of the document
    assert swagger.count('class="opblock opblock-') >= 70, swagger[:2000]
    assert "/api/v1/settlements" in swagger and "Register an insured person" in swagger
    assert "cdn.jsdelivr.net" not in swagger and "/static-offline-docs/swagger-ui-bundle.js" in swagger
    # ReDoc drew its menu of operations
    assert "Register an insured person" in redoc and "redoc.standalone.js" in redoc
    assert "cdn.jsdelivr.net" not in redoc and "fonts.googleapis.com" not in redoc
