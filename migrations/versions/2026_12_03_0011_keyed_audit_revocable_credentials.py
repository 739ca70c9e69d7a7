"""keyed audit chain, append-only audit log, revocable credentials, login back-off, durable nonces

- audit_log.hash_version: rows written so far are 1 (unkeyed SHA-256); the application writes
  2 (HMAC with the server's audit key) from now on; the first keyed row seals the older ones.
- a trigger makes audit_log append-only: UPDATE, DELETE and TRUNCATE raise, whoever asks
  (only someone able to disable the trigger, i.e. with DDL rights, can change the log).
- staff_users.token_version: bumped on deactivation, role change, password change and logout;
  access tokens carry it and are refused once it moved. The per-account lock columns go:
  failed logins are counted per username and source address in login_throttles.
- staff_tokens.expires_at (existing tokens: 24 hours from this migration) and renewed_at.
- request_nonces.seen_at indexed: nonces are pruned once they are older than the window.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'entries are never changed or removed; yibao audit verify checks the chain';
END
$$
"""


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("hash_version", sa.SmallInteger(), server_default="1", nullable=False))
    op.execute(APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )

    op.add_column("staff_users", sa.Column("token_version", sa.Integer(), server_default="0", nullable=False))
    op.drop_column("staff_users", "failed_logins")
    op.drop_column("staff_users", "locked_until")
    op.create_table(
        "login_throttles",
        sa.Column("username", sa.String(length=60), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "source", name=op.f("pk_login_throttles")),
    )
    op.create_index(op.f("ix_login_throttles_last_failed_at"), "login_throttles", ["last_failed_at"], unique=False)

    op.add_column("staff_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("staff_tokens", sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE staff_tokens SET expires_at = now() + interval '24 hours'")
    op.alter_column("staff_tokens", "expires_at", nullable=False)

    op.create_index(op.f("ix_request_nonces_seen_at"), "request_nonces", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_request_nonces_seen_at"), table_name="request_nonces")

    op.drop_column("staff_tokens", "renewed_at")
    op.drop_column("staff_tokens", "expires_at")

    op.drop_index(op.f("ix_login_throttles_last_failed_at"), table_name="login_throttles")
    op.drop_table("login_throttles")
    op.add_column("staff_users", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("staff_users", sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
    op.drop_column("staff_users", "token_version")

    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER audit_log_no_change ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_column("audit_log", "hash_version")
