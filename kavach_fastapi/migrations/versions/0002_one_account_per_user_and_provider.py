"""One linked account per user and provider

Revision ID: 0002
Revises: 0001

Before this revision a new Atlassian account could join an existing user through a shared
verified email, so one user could hold several Atlassian accounts, and token lookups picked one
of them. A user now has at most one account per provider (``uq_kavach_accounts_user_provider``).

A database that already holds such users is split first, losing no account and no grant:

- each user keeps the account of that provider it linked first (earliest ``created_at``);
- every other account of the same provider moves to a new user of its own, which starts with a
  copy of the old user's name, email and picture, marked unverified (it cannot be known whose
  they were; the next sign-in of that account refreshes them from the provider);
- the sessions of every user that was split end, because nothing records which of the accounts
  signed each of them in: those people sign in again and land on their own user.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from alembic import op

import kavach_fastapi.tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "uq_kavach_accounts_user_provider"

_accounts = sa.table(
    "kavach_accounts",
    sa.column("id", sa.String()),
    sa.column("user_id", sa.String()),
    sa.column("provider", sa.String()),
    sa.column("created_at", kavach_fastapi.tables.UTCDateTime()),
)
_users = sa.table(
    "kavach_users",
    sa.column("id", sa.String()),
    sa.column("email", sa.String()),
    sa.column("email_normalized", sa.String()),
    sa.column("email_verified", sa.Boolean()),
    sa.column("name", sa.String()),
    sa.column("image", sa.String()),
    sa.column("created_at", kavach_fastapi.tables.UTCDateTime()),
    sa.column("updated_at", kavach_fastapi.tables.UTCDateTime()),
)
_sessions = sa.table("kavach_sessions", sa.column("user_id", sa.String()))


def upgrade() -> None:
    _split_users_with_several_accounts_of_one_provider(op.get_bind())
    with op.batch_alter_table("kavach_accounts", schema=None) as batch_op:
        batch_op.create_unique_constraint(CONSTRAINT, ["user_id", "provider"])


def downgrade() -> None:
    # The split users stay split: which of them belonged together is not recorded.
    with op.batch_alter_table("kavach_accounts", schema=None) as batch_op:
        batch_op.drop_constraint(CONSTRAINT, type_="unique")


def _split_users_with_several_accounts_of_one_provider(bind: sa.Connection) -> None:
    shared = bind.execute(
        sa.select(_accounts.c.user_id, _accounts.c.provider)
        .group_by(_accounts.c.user_id, _accounts.c.provider)
        .having(sa.func.count() > 1)
    ).all()
    now = datetime.now(timezone.utc)
    for user_id, provider in shared:
        later = bind.execute(
            sa.select(_accounts.c.id, _accounts.c.created_at)
            .where(_accounts.c.user_id == user_id, _accounts.c.provider == provider)
            .order_by(_accounts.c.created_at, _accounts.c.id)
            .offset(1)
        ).all()
        owner = bind.execute(sa.select(_users).where(_users.c.id == user_id)).one()
        for account_id, linked_at in later:
            _move_to_new_user(bind, account_id, owner, linked_at=linked_at, now=now)
    for user_id in {user_id for user_id, _ in shared}:
        bind.execute(sa.delete(_sessions).where(_sessions.c.user_id == user_id))


def _move_to_new_user(
    bind: sa.Connection, account_id: str, owner: sa.Row[Any], *, linked_at: datetime, now: datetime
) -> None:
    new_user_id = uuid.uuid4().hex
    bind.execute(
        sa.insert(_users).values(
            id=new_user_id,
            email=owner.email,
            email_normalized=owner.email_normalized,
            email_verified=False,
            name=owner.name,
            image=owner.image,
            created_at=linked_at,
            updated_at=now,
        )
    )
    bind.execute(
        sa.update(_accounts).where(_accounts.c.id == account_id).values(user_id=new_user_id)
    )
