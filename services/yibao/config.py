"""Settings from the environment, built by a function (never at import) and passed into factories."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Every knob of the system; each has a default that works on a developer machine."""

    model_config = SettingsConfigDict(env_prefix="", env_file=".env", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@localhost:5432/yibao"
    redis_url: str = "redis://localhost:6379/0"
    broker_namespace: str = "yibao"
    #: a worker silent this long is dead; its unacknowledged messages go back to the queue
    broker_heartbeat_timeout_ms: int = 60_000
    #: broker calls per MILLION that sweep dead workers' unacknowledged messages back to their queue
    #: (Dramatiq's scale; its default 1,000 left a killed worker's messages stranded for ~15 min
    #: of idle polling, measured by the crash test): 10,000 = 1 % of calls
    broker_maintenance_chance: int = Field(default=10_000, ge=1, le=1_000_000)
    reference_dir: Path = REPO_ROOT / "data" / "reference"
    #: the home pooling region (统筹区): clearing and DIP pre-settlement default to it
    home_region: str = Field(default="430522", pattern=r"^\d{6}$")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = 1
    db_pool_size: int = 20
    db_max_overflow: int = 10
    #: test each pooled connection with a round trip before use. Off by default: it cost
    #: ~3 round trips per settlement, asyncpg notices a dead socket on first use anyway, the
    #: disconnect invalidates the whole pool, and that request answers 503 for the HIS to
    #: retry (tests/robustness/test_outages.py restarts PostgreSQL under load to prove it)
    db_pool_pre_ping: bool = False
    outbox_poll_seconds: float = Field(default=0.2, gt=0)
    outbox_batch: int = 500
    #: an event a consumer has not received this long after it was sent is sent to it again
    #: (the wait doubles per resend; after ``outbox_redeliver_max`` resends it is logged and left)
    outbox_redeliver_seconds: float = Field(default=120.0, gt=0)
    outbox_redeliver_max: int = Field(default=6, ge=0, le=20)
    run_outbox_relay: bool = True  # the API process relays its own outbox rows
    reference_cache_seconds: float = 5.0
    #: a bill or fee line may be dated up to this many minutes ahead of China-time now (a HIS
    #: clock running a little fast around midnight); later is SERVICE_DATE_IN_FUTURE
    service_date_tolerance_minutes: int = Field(default=10, ge=0, le=24 * 60)
    log_level: str = "INFO"
    #: member app bearer tokens live this long after activation
    member_token_days: int = Field(default=30, ge=1, le=365)
    #: a staff-issued activation code must be used within this many hours
    member_activation_hours: int = Field(default=72, ge=1, le=720)
    #: the member QR code (医保码) is valid this many seconds
    member_code_seconds: int = Field(default=60, ge=10, le=600)
    #: HMAC secret signing member QR codes; every API process must share it. Unset, it is
    #: derived from SECRET_KEY (or the developer secret), which every process already shares.
    member_code_secret: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _member_code_secret(self) -> Settings:
        secret = self.member_code_secret.get_secret_value()
        if not secret:
            derived = hmac.new(self.master_secret(), b"yibao-member-codes", hashlib.sha256).hexdigest()
            self.member_code_secret = SecretStr(derived)
        elif len(secret) < 32:
            raise ValueError("MEMBER_CODE_SECRET must be at least 32 characters")
        return self

    # ---- security
    environment: str = "development"  # "production" refuses to start without a real secret_key
    #: signs staff access tokens and encrypts institution signing keys at rest; 32+ characters
    secret_key: SecretStr | None = None
    staff_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    staff_max_failed_logins: int = 5
    staff_lockout_minutes: int = 15
    #: when true, institutions must sign every request (HMAC); otherwise a bare key is also accepted
    require_signed_institution_requests: bool = False
    signature_max_skew_seconds: int = 300
    rate_limit_enabled: bool = True
    rate_limit_institution: str = "3000/minute"
    rate_limit_staff: str = "600/minute"
    rate_limit_member: str = "300/minute"
    rate_limit_login: str = "10/minute"

    @model_validator(mode="after")
    def _refuse_unsafe_secrets(self) -> Self:
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if self.environment == "production" and len(key) < 32:
            raise ValueError("SECRET_KEY must be set (32+ characters) when ENVIRONMENT=production")
        if key and len(key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters")
        return self

    def master_secret(self) -> bytes:
        """The configured secret, or on a developer machine one generated once into the user's
        state directory (``<state dir>/secret``, never the working tree), shared by every process
        of this user, so tokens work across workers. Production never generates one."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if self.environment == "production":
            raise ValueError("SECRET_KEY must be set (32+ characters) when ENVIRONMENT=production")
        return _dev_secret(self.state_path())

    # ---- audit chain, bootstrap tokens, login back-off, state directory (issue #14)
    #: HMAC key of the audit chain (``yibao audit verify`` needs the same one); 32+ characters.
    #: Unset, it is derived from SECRET_KEY (which production requires). Set it explicitly before
    #: ever rotating SECRET_KEY, or the entries written so far stop verifying.
    audit_secret: SecretStr = SecretStr("")
    #: where the chain's head is anchored (JSON lines; see yibao.audit.anchors); default
    #: ``<state dir>/audit-anchors.jsonl``. Best on storage the database's operators cannot write
    audit_anchor_file: Path | None = None
    #: bootstrap staff tokens (``yibao tokens create``, ``yibao up``) expire after this many hours
    bootstrap_token_hours: int = Field(default=24, ge=1, le=24 * 366)
    #: failed logins for one username from one address: after ``staff_max_failed_logins`` the
    #: next attempt waits this many seconds, doubling with each failure up to ``staff_lockout_minutes``
    staff_login_backoff_seconds: int = Field(default=1, ge=1, le=3600)
    #: the developer secret, audit anchors and ``yibao up``'s bootstrap token; default
    #: ``$XDG_STATE_HOME/yibao`` or ``~/.local/state/yibao`` (never the source tree)
    state_dir: Path | None = None

    @model_validator(mode="after")
    def _audit_secret(self) -> Self:
        secret = self.audit_secret.get_secret_value()
        if not secret:
            derived = hmac.new(self.master_secret(), b"yibao-audit-chain", hashlib.sha256).hexdigest()
            self.audit_secret = SecretStr(derived)
        elif len(secret) < 32:
            raise ValueError("AUDIT_SECRET must be at least 32 characters")
        return self

    def audit_key(self) -> bytes:
        return self.audit_secret.get_secret_value().encode()

    def state_path(self) -> Path:
        return self.state_dir or default_state_dir()

    def anchor_path(self) -> Path:
        return self.audit_anchor_file or self.state_path() / "audit-anchors.jsonl"


@functools.cache
def get_settings() -> Settings:
    return Settings()


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/yibao``, else ``~/.local/state/yibao`` (the XDG base directory spec)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "yibao"


@functools.cache
def _dev_secret(state_dir: Path) -> bytes:
    path = state_dir / "secret"
    legacy = REPO_ROOT / ".yibao-secret"  # where earlier versions wrote it: read once, never written
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        pass
    else:
        value = legacy.read_text().strip() if legacy.is_file() else ""
        with os.fdopen(fd, "w") as fh:
            fh.write(value or secrets.token_urlsafe(48))
        logging.getLogger("yibao.config").warning(
            "no SECRET_KEY set: %s the development secret in %s%s",
            "moved" if value else "generated",
            path,
            f" (delete {legacy})" if value else "",
        )
    for _ in range(50):  # the writer may not have flushed yet
        value = path.read_text().strip()
        if value:
            return value.encode()
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty; delete it or set SECRET_KEY")
