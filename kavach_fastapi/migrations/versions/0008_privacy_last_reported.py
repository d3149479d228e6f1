"""Personal-data reporting: due-ness from the last report and the current cycle; claimed batches

Revision ID: 0008
Revises: 0007

An account is due when it was last reported a whole cycle ago (less a small tolerance), the
cycle being the ``Cycle-Period`` Atlassian sent last, so a daily run reports each account every
7 days, not 8, and a shortened cycle applies at once (`kavach_fastapi.privacy.schedule`):

- ``privacy_reported_at`` keeps its meaning, the last report; the run's start from now on;
- ``privacy_next_report_at`` goes. The rows it made due again at the next run (a failed
  ``on_account_closed`` hook: due one second after their report) get ``privacy_reported_at``
  ``NULL`` (due now), the others keep their last report;
- ``privacy_claimed_by`` and ``privacy_claim_until``: the run sending an account now, and until
  when, so that two runs at once never report or erase the same account twice;
- ``kavach_privacy_cycles``: the last ``Cycle-Period`` per provider (none yet: 7 days).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import kavach_fastapi.tables

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "kavach_accounts"
OLD_INDEX = "ix_kavach_accounts_privacy_next_report_at"
INDEX = "ix_kavach_accounts_privacy_reported_at"
CYCLES = "kavach_privacy_cycles"
HOOK_RETRY = timedelta(seconds=1)
"""0007's ``next - reported`` of a closed account whose hook failed (due at the next run)."""
DEFAULT_CYCLE = timedelta(days=7)

_accounts = sa.table(
    TABLE,
    sa.column("id", sa.String()),
    sa.column("privacy_reported_at", kavach_fastapi.tables.UTCDateTime()),
    sa.column("privacy_next_report_at", kavach_fastapi.tables.UTCDateTime()),
)


def upgrade() -> None:
    bind = op.get_bind()
    reported = _accounts.c.privacy_reported_at
    due = _accounts.c.privacy_next_report_at
    # Compared in Python: date arithmetic is not written the same on SQLite and PostgreSQL.
    retried = [
        row.id
        for row in bind.execute(
            sa.select(_accounts.c.id, reported, due).where(reported.is_not(None), due.is_not(None))
        )
        if row.privacy_next_report_at - row.privacy_reported_at <= HOOK_RETRY
    ]
    if retried:
        bind.execute(
            sa.update(_accounts).where(_accounts.c.id.in_(retried)).values(privacy_reported_at=None)
        )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(OLD_INDEX)
        batch_op.drop_column("privacy_next_report_at")
        batch_op.add_column(sa.Column("privacy_claimed_by", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("privacy_claim_until", kavach_fastapi.tables.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(INDEX, ["privacy_reported_at"], unique=False)
    op.create_table(
        CYCLES,
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("cycle_period", sa.String(length=64), nullable=False),
        sa.Column("seen_at", kavach_fastapi.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("provider"),
    )


def downgrade() -> None:
    op.drop_table(CYCLES)
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.drop_column("privacy_claim_until")
        batch_op.drop_column("privacy_claimed_by")
        batch_op.add_column(
            sa.Column("privacy_next_report_at", kavach_fastapi.tables.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(OLD_INDEX, ["privacy_next_report_at"], unique=False)
    bind = op.get_bind()
    reported = _accounts.c.privacy_reported_at
    rows = bind.execute(sa.select(_accounts.c.id, reported).where(reported.is_not(None))).all()
    for row in rows:
        bind.execute(
            sa.update(_accounts)
            .where(_accounts.c.id == row.id)
            .values(privacy_next_report_at=row.privacy_reported_at + DEFAULT_CYCLE)
        )
