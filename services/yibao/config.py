"""Settings from the environment, built by a function (never at import) and passed into factories."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
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
    #: "production" refuses unsafe defaults (an empty member-code secret)
    environment: str = "development"
    #: member app bearer tokens live this long after activation
    member_token_days: int = Field(default=30, ge=1, le=365)
    #: a staff-issued activation code must be used within this many hours
    member_activation_hours: int = Field(default=72, ge=1, le=720)
    #: the member QR code (医保码) is valid this many seconds
    member_code_seconds: int = Field(default=60, ge=10, le=600)
    #: HMAC secret signing member QR codes; every API process must share it
    member_code_secret: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _member_code_secret(self) -> Settings:
        """Production must set MEMBER_CODE_SECRET; a developer machine gets a random one per process."""
        if not self.member_code_secret.get_secret_value():
            if self.environment == "production":
                raise ValueError("MEMBER_CODE_SECRET must be set in production")
            self.member_code_secret = SecretStr("dev-" + secrets.token_urlsafe(32))
        elif self.environment == "production" and len(self.member_code_secret.get_secret_value()) < 32:
            raise ValueError("MEMBER_CODE_SECRET must be at least 32 characters in production")
        return self


@functools.cache
def get_settings() -> Settings:
    return Settings()
