"""Erasure clears every user column that holds personal data, and only those."""

from __future__ import annotations

from kavach_fastapi.tables import PERSONAL_DATA_COLUMNS, UserRow

KEPT_AFTER_ERASURE = {"id", "created_at", "updated_at"}
"""What an erased user row still holds: its own id and times, nothing the provider told."""


def test_every_user_column_but_its_id_and_times_is_personal_data() -> None:
    columns = set(UserRow.model_fields)

    assert set(PERSONAL_DATA_COLUMNS) == columns - KEPT_AFTER_ERASURE


def test_each_personal_data_column_has_an_empty_default_to_erase_to() -> None:
    defaults = {column: UserRow.model_fields[column].default for column in PERSONAL_DATA_COLUMNS}

    assert defaults == {
        "email": None,
        "email_normalized": None,
        "email_verified": False,
        "name": None,
        "image": None,
    }
