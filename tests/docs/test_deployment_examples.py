"""The Deployment page's files: the production environment and the crontab."""

from __future__ import annotations

import secrets
import shlex
from pathlib import Path

import pytest
from dotenv import dotenv_values

from kavach_fastapi import AtlassianSettings, ConfigurationError, KavachSettings
from kavach_fastapi.cli import build_parser
from kavach_fastapi.settings import load_settings

from .conftest import EXAMPLES

PRODUCTION_ENV = EXAMPLES / "production.env"
KNOWN = {
    f"{cls.model_config.get('env_prefix', '')}{name.upper()}"
    for cls in (AtlassianSettings, KavachSettings)
    for name in cls.model_fields
}


def test_production_env_names_only_real_settings() -> None:
    assert set(dotenv_values(PRODUCTION_ENV)) <= KNOWN


def test_production_env_is_refused_until_the_secret_is_replaced(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(PRODUCTION_ENV.read_text())

    with pytest.raises(ConfigurationError, match="KAVACH_SECRET"):
        load_settings(KavachSettings, _env_file=env)


def test_production_env_with_a_generated_secret_is_valid(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        PRODUCTION_ENV.read_text().replace(
            "KAVACH_SECRET=CHANGE-ME", "KAVACH_SECRET=" + secrets.token_urlsafe(32)
        )
    )

    kavach = load_settings(KavachSettings, _env_file=env)
    atlassian = load_settings(AtlassianSettings, _env_file=env)

    assert kavach.base_url == "https://jira-tools.example.com/api/kavach"
    assert kavach.database_url.startswith("postgresql://")
    assert atlassian.scopes == ("read:jira-user", "read:jira-work")


def test_crontab_runs_a_real_kavach_command() -> None:
    lines = [
        line
        for line in (EXAMPLES / "kavach.crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines
    for line in lines:
        command = line.split(None, 5)[5]
        words = shlex.split(command.split("&&", 1)[1].split(">>", 1)[0])
        assert words[0].endswith("/kavach")
        build_parser().parse_args(words[1:])
