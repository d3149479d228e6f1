"""The command line: python -m kavach_fastapi.emulator."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from urllib.parse import urlencode

import httpx2
import pytest

from kavach_fastapi.emulator import EmulatedClient
from kavach_fastapi.emulator.cli import banner, build_parser, main


def test_help_describes_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    text = capsys.readouterr().out
    for option in ("--port", "--host", "--redirect-uri", "--auto-consent"):
        assert option in text
    assert "ATLASSIAN_AUTH_URL" in text


def test_parser_defaults() -> None:
    args = build_parser().parse_args([])

    assert args.host == "127.0.0.1"
    assert args.port == 9000
    assert args.redirect_uri == []
    assert args.auto_consent is False


def test_parser_collects_repeated_redirect_uris() -> None:
    args = build_parser().parse_args(
        ["--redirect-uri", "http://a/cb", "--redirect-uri", "http://b/cb", "--auto-consent"]
    )

    assert args.redirect_uri == ["http://a/cb", "http://b/cb"]
    assert args.auto_consent is True


def test_banner_prints_credentials_and_env_lines() -> None:
    client = EmulatedClient("id-1", "secret-1", ["http://app/cb"], name="App")

    text = banner("http://127.0.0.1:9000", client)

    lines = text.splitlines()
    assert "ATLASSIAN_AUTH_URL=http://127.0.0.1:9000" in lines
    assert "ATLASSIAN_API_URL=http://127.0.0.1:9000" in lines
    assert "ATLASSIAN_CLIENT_ID=id-1" in lines
    assert "ATLASSIAN_CLIENT_SECRET=secret-1" in lines
    assert "http://app/cb" in text


def test_main_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        status = main(["--port", str(port)])

    assert status == 1
    assert "cannot listen" in capsys.readouterr().err


def test_main_serves_and_prints_credentials() -> None:
    extra = "http://127.0.0.1:5000/auth/callback"
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        [
            sys.executable,
            "-m",
            "kavach_fastapi.emulator",
            "--port",
            "0",
            "--redirect-uri",
            extra,
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not any(line.startswith("ATLASSIAN_CLIENT_SECRET=") for line in lines):
            line = process.stdout.readline()
            assert line, "the emulator exited before printing its credentials"
            lines.append(line.rstrip("\n"))
        env = dict(line.split("=", 1) for line in lines if line.startswith("ATLASSIAN_"))
        base_url = env["ATLASSIAN_AUTH_URL"]
        params = {
            "audience": "api.atlassian.com",
            "client_id": env["ATLASSIAN_CLIENT_ID"],
            "scope": "read:me",
            "redirect_uri": extra,
            "response_type": "code",
        }
        consent = _get_when_ready(f"{base_url}/authorize?{urlencode(params)}")
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)

    assert env["ATLASSIAN_API_URL"] == base_url
    assert env["ATLASSIAN_CLIENT_ID"] == "kavach-demo-client"
    assert env["ATLASSIAN_CLIENT_SECRET"] == "kavach-demo-secret"
    assert consent.status_code == 200
    assert process.returncode == 0, stderr


def _get_when_ready(url: str) -> httpx2.Response:
    for _ in range(200):
        try:
            return httpx2.get(url, timeout=5)
        except httpx2.ConnectError:
            continue
    raise AssertionError("the emulator never answered")
