"""Settings from the environment, built by a function (never at import) and passed into factories."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Every knob of the system; each has a default that works on a developer machine."""

    model_config = SettingsConfigDict(env_prefix="", env_file=".env", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@localhost:5432/yibao"
    redis_url: str = "redis://localhost:6379/0"
    broker_namespace: str = "yibao"
    reference_dir: Path = REPO_ROOT / "data" / "reference"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = 1
    db_pool_size: int = 20
    db_max_overflow: int = 10
    outbox_poll_seconds: float = Field(default=0.2, gt=0)
    outbox_batch: int = 500
    run_outbox_relay: bool = True  # the API process relays its own outbox rows
    reference_cache_seconds: float = 5.0
    log_level: str = "INFO"


@functools.cache
def get_settings() -> Settings:
    return Settings()
