"""Session details: a public id, the device's user agent and network

Revision ID: 0004
Revises: 0003

Sessions gain what a person needs to recognise and end them (``GET /auth/sessions``):

- ``public_id``: a random id, unrelated to the token, unique. Every existing session gets a new
  random one, so sessions signed in before the upgrade can be listed and ended like any other.
- ``user_agent`` and ``network``: the trimmed ``User-Agent`` and the client's IPv4 ``/24`` or
  IPv6 ``/48``. They are recorded at sign-in, so existing sessions have none (``NULL``: listed
  as an unknown device); ``created_at`` and ``last_active_at`` were already kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_kavach_sessions_public_id"
BATCH = 1000

_sessions = sa.table(
    "kavach_sessions",
    sa.column("token_hash", sa.String()),
    sa.column("public_id", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("kavach_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("user_agent", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("network", sa.String(length=64), nullable=True))
    _give_existing_sessions_a_public_id(op.get_bind())
    with op.batch_alter_table("kavach_sessions", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index(INDEX, ["public_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("kavach_sessions", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.drop_column("network")
        batch_op.drop_column("user_agent")
        batch_op.drop_column("public_id")


def _give_existing_sessions_a_public_id(bind: sa.Connection) -> None:
    """A fresh random id for each session (random per row: never derived from the token)."""
    update = (
        sa.update(_sessions)
        .where(_sessions.c.token_hash == sa.bindparam("hash"))
        .values(public_id=sa.bindparam("id"))
    )
    while True:
        hashes = (
            bind.execute(
                sa.select(_sessions.c.token_hash)
                .where(_sessions.c.public_id.is_(None))
                .limit(BATCH)
            )
            .scalars()
            .all()
        )
        if not hashes:
            return
        bind.execute(update, [{"hash": value, "id": uuid.uuid4().hex} for value in hashes])
