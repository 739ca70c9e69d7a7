"""Start and stop the API exactly as an operator would: ``yibao api`` in a subprocess.

Why a subprocess of the real console script: the benchmark should measure uvicorn with
its workers, uvloop and httptools, the lifespan's engine and outbox relay, and the
settings read from the environment, not an in-process test client.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

VENV_BIN = Path(sys.executable).parent


class ApiFailedToStart(RuntimeError):
    pass


@dataclass
class ApiServer:
    """A running ``yibao api``; ``pid`` is uvicorn's supervisor (parent of the workers)."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the supervisor (it stops its workers); SIGKILL our process group if stuck."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group we created for it
            self.process.wait(5)


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def start_api(env_overrides: dict[str, str], port: int, workers: int, log_path: Path) -> ApiServer:
    """Launch ``yibao api`` in its own process group and wait until ``/healthz`` answers 200."""
    if not port_is_free(port):
        raise ApiFailedToStart(f"port {port} is already in use; pass --port")
    env = {**os.environ, **env_overrides}
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(VENV_BIN / "yibao"), "api", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = ApiServer(process, port, log_path)
    try:
        wait_healthy(server)
    except BaseException:
        server.stop()
        raise
    return server


def wait_healthy(server: ApiServer, timeout: float = 60.0) -> None:
    """Poll ``/healthz`` until every worker could have started (it checks the database too)."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{server.port}/healthz"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ApiFailedToStart(f"yibao api exited with {server.process.returncode}; see {server.log_path}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise ApiFailedToStart(f"/healthz did not answer 200 within {timeout:.0f} s; see {server.log_path}")
