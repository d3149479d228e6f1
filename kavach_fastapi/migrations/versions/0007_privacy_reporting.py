"""Personal-data reporting: when each account's profile was read, reported and is next due

Revision ID: 0007
Revises: 0006

Atlassian asks apps that store personal data to report each stored account id once per
reporting cycle, with the time its data was last read (``updatedAt``), and to erase or re-read
what it answers (`kavach_fastapi.privacy`). Four columns of ``kavach_accounts`` remember that:

- ``profile_fetched_at``: when the profile was last read from Atlassian (a sign-in, or a re-read);
  ``NULL`` for accounts linked before this revision, which report their ``created_at`` instead
  (earlier than the truth, so a change since is never missed);
- ``profile_stale``: Atlassian answered ``updated``; the profile is read again at the next chance;
- ``privacy_reported_at`` and ``privacy_next_report_at``: the last report and when the account is
  due again (``NULL``: due now).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kavach_fastapi.tables

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_kavach_accounts_privacy_next_report_at"


def upgrade() -> None:
    with op.batch_alter_table("kavach_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("profile_fetched_at", kavach_fastapi.tables.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("profile_stale", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("privacy_reported_at", kavach_fastapi.tables.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("privacy_next_report_at", kavach_fastapi.tables.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(INDEX, ["privacy_next_report_at"], unique=False)
    # The default only filled the existing rows; the models give the value from here on.
    with op.batch_alter_table("kavach_accounts", schema=None) as batch_op:
        batch_op.alter_column("profile_stale", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("kavach_accounts", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.drop_column("privacy_next_report_at")
        batch_op.drop_column("privacy_reported_at")
        batch_op.drop_column("profile_stale")
        batch_op.drop_column("profile_fetched_at")
