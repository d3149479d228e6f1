"""Sites blocked by the provider's quota

Revision ID: 0006
Revises: 0005

``kavach_quota_blocks`` holds, per provider and site (``"*"`` for every site), the time until
which the provider asked not to be called (a ``429`` with a long ``Retry-After``), so that every
worker fails fast for that site instead of calling again. Rows past their time are deleted as
normal work; dropping the table loses nothing but the current blocks.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kavach_fastapi.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "kavach_quota_blocks"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("blocked_until", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "site"),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kavach_quota_blocks_blocked_until"), ["blocked_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kavach_quota_blocks_blocked_until"))
    op.drop_table(TABLE)
