"""The session change feed

Revision ID: 0003
Revises: 0002

``kavach_session_changes``: each ended session and each changed or erased user appends a row
with a growing id, so that every process can keep the sessions it checked and still forget,
within a second, the ones that ended elsewhere. Nothing existing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kavach_fastapi.tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kavach_session_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("changed_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("kavach_session_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kavach_session_changes_changed_at"), ["changed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("kavach_session_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kavach_session_changes_changed_at"))
    op.drop_table("kavach_session_changes")
