"""Where the demo expects to be served, and where its emulator is mounted: shared by the web app
(`example_app.main`) and its background job (`example_app.job`)."""

from __future__ import annotations

DEMO_URL = "http://127.0.0.1:8000"
"""Where ``make demo`` serves the demo by default; each request's own origin takes its place."""

EMULATOR_PATH = "/_emulator"
"""Where the demo mounts the Atlassian emulator when ``ATLASSIAN_CLIENT_ID`` is not set."""
