"""Run the real system as subprocesses against the test run's database (for fuzzing and crash tests)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from yibao.config import Settings

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        BROKER_NAMESPACE=settings.broker_namespace,
        LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A process group of its own, so a SIGKILL takes its children (uvicorn/dramatiq workers) too."""
    fh = log.open("ab")
    return subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_healthy(base_url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} did not become healthy in {timeout} s")


def api(settings: Settings, port: int, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    return start([str(BIN / "yibao"), "api", "--port", str(port)], env_for(settings, **extra), log)


def schemathesis() -> str:
    return shutil.which("st", path=str(BIN)) or str(BIN / "st")


def clear_broker(settings: Settings) -> None:
    """Drop what killed processes left under ``settings``' broker namespace (queued, delayed or
    unacked messages), so no later worker of the run drains them."""
    import redis

    client = redis.Redis.from_url(settings.redis_url)
    try:
        keys = list(client.scan_iter(match=f"{settings.broker_namespace}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
