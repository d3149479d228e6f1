"""Initial schema: users, accounts, sessions, sign-in attempts and rate limits

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kavach_fastapi.tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kavach_rate_limits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window"),
    )
    op.create_table(
        "kavach_sign_in_attempts",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=500), nullable=True),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("redirect_to", sa.String(length=2048), nullable=False),
        sa.Column("created_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    with op.batch_alter_table("kavach_sign_in_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kavach_sign_in_attempts_browser_hash"), ["browser_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_kavach_sign_in_attempts_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "kavach_users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_normalized", sa.String(length=320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("image", sa.String(length=2048), nullable=True),
        sa.Column("created_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kavach_users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kavach_users_email_normalized"), ["email_normalized"], unique=False
        )

    op.create_table(
        "kavach_accounts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("provider_account_id", sa.String(length=255), nullable=False),
        sa.Column("scopes", sa.String(length=4000), nullable=False),
        sa.Column("access_token", sa.String(length=20000), nullable=True),
        sa.Column("refresh_token", sa.String(length=20000), nullable=True),
        sa.Column("access_token_expires_at", kavach_fastapi.tables.UTCDateTime(), nullable=True),
        sa.Column("needs_reauth", sa.Boolean(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("refresh_lease_owner", sa.String(length=128), nullable=True),
        sa.Column("refresh_lease_until", kavach_fastapi.tables.UTCDateTime(), nullable=True),
        sa.Column("sites_json", sa.String(length=200000), nullable=True),
        sa.Column("sites_fetched_at", kavach_fastapi.tables.UTCDateTime(), nullable=True),
        sa.Column("created_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["kavach_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "provider_account_id", name="uq_kavach_accounts_identity"),
    )
    with op.batch_alter_table("kavach_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kavach_accounts_user_id"), ["user_id"], unique=False)

    op.create_table(
        "kavach_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("created_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.Column("last_active_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["kavach_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("kavach_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kavach_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_kavach_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kavach_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kavach_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_kavach_sessions_expires_at"))

    op.drop_table("kavach_sessions")
    with op.batch_alter_table("kavach_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kavach_accounts_user_id"))

    op.drop_table("kavach_accounts")
    with op.batch_alter_table("kavach_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kavach_users_email_normalized"))

    op.drop_table("kavach_users")
    with op.batch_alter_table("kavach_sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kavach_sign_in_attempts_expires_at"))
        batch_op.drop_index(batch_op.f("ix_kavach_sign_in_attempts_browser_hash"))

    op.drop_table("kavach_sign_in_attempts")
    op.drop_table("kavach_rate_limits")
