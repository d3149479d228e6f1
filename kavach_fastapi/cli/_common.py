"""What the ``kavach`` commands share: the settings they read and how a database URL is shown."""

from __future__ import annotations

import argparse

from sqlalchemy.engine import make_url

from ..settings import KavachSettings, load_settings


def settings_of(args: argparse.Namespace) -> KavachSettings:
    """The app's ``KAVACH_*`` settings, with ``--database-url`` when given."""
    return load_settings(KavachSettings, database_url=getattr(args, "database_url", None))


def safe_url(database_url: str) -> str:
    """The URL without its password, to print."""
    return make_url(database_url).render_as_string(hide_password=True)
