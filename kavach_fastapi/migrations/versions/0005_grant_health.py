"""When each grant was first consented to

Revision ID: 0005
Revises: 0004

Atlassian ends a grant 365 days after its first consent, however often it is refreshed, and a
new consent while the grant lives joins it. ``kavach_accounts.granted_at`` keeps that first
consent, so that ``kavach grants status`` can warn before the end. The account's ``created_at``
(when it was first linked) is the best estimate for grants stored before this revision: it can
only be earlier than the real start, so the warning comes early, never late.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kavach_fastapi.tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_accounts = sa.table(
    "kavach_accounts",
    sa.column("created_at", kavach_fastapi.tables.UTCDateTime()),
    sa.column("granted_at", kavach_fastapi.tables.UTCDateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table("kavach_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("granted_at", kavach_fastapi.tables.UTCDateTime(), nullable=True)
        )
    op.get_bind().execute(sa.update(_accounts).values(granted_at=_accounts.c.created_at))
    with op.batch_alter_table("kavach_accounts", schema=None) as batch_op:
        batch_op.alter_column(
            "granted_at", existing_type=kavach_fastapi.tables.UTCDateTime(), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("kavach_accounts", schema=None) as batch_op:
        batch_op.drop_column("granted_at")
