"""Metrics through OpenTelemetry: the documented names and attributes, and nothing personal.

An SDK ``MeterProvider`` with an in-memory reader is given to ``kavach_fastapi.metrics`` for each
test, by the Metrics page's ``recorded_metrics``; the app signs in, refreshes, calls Jira and meets 429s against the emulator. Metrics are the
same on either database, so these run on SQLite only.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import metrics_in_tests
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from kavach_fastapi import metrics

from ..databases import TestDatabase
from .conftest import CALLBACK
from .quota_harness import BUSY, both_sites_signed_in, next_jira_call_429s, quiet_site
from .token_harness import emulator_tokens, expire_access_token, signed_in

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"

Points = list[tuple[str, dict[str, Any], Any]]


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    """kavach's metrics recorded as the Metrics page shows, for the test alone."""
    with metrics_in_tests.recorded_metrics() as reader:
        yield reader


def points(reader: InMemoryMetricReader) -> Points:
    """Every data point as ``(name, attributes, value)``; a histogram's value is its count."""
    data = reader.get_metrics_data()
    found: Points = []
    if data is None:
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == metrics.METER_NAME
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    if value is None:
                        value = point.count  # type: ignore[union-attr]
                    found.append((metric.name, dict(point.attributes or {}), value))
    return found


def value_of(found: Points, name: str, **attributes: Any) -> Any:
    matching = [value for metric, attrs, value in found if metric == name and attrs == attributes]
    assert len(matching) <= 1, matching
    return matching[0] if matching else 0


sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@sqlite_only
async def test_sign_ins_refreshes_api_calls_429s_and_quota_blocks_are_counted(
    db: TestDatabase, reader: InMemoryMetricReader
) -> None:
    async with both_sites_signed_in(db) as (harness, client):
        emu = harness.emu
        refused = await client.get(f"{CALLBACK}?state={'x' * 32}&code=abc")
        expire_access_token(db)
        assert (await client.get(f"/jira/{quiet_site(emu)}/myself")).status_code == 200
        next_jira_call_429s(emu, retry_after=1)
        assert (await client.get(f"/jira/{quiet_site(emu)}/myself")).status_code == 200
        next_jira_call_429s(emu, retry_after=600, reason="jira-quota-tenant-based")
        assert (await client.get(f"/jira/{BUSY}/myself")).status_code == 503
        assert (await client.get(f"/jira/{BUSY}/myself")).status_code == 503
        emu.revoke_grant(emu.users[0].account_id)
        expire_access_token(db)
        assert (await client.get("/token")).status_code == 401

    assert refused.status_code == 303
    found = points(reader)
    atlassian = {"kavach.provider": "atlassian"}
    assert value_of(found, "kavach.sign_ins", **atlassian, **{"kavach.outcome": "success"}) == 1
    failure = {"kavach.outcome": "failure", "kavach.error_code": "invalid_state"}
    assert value_of(found, "kavach.sign_ins", **atlassian, **failure) == 1
    for outcome in ("success", "reauth_required"):
        refreshes = value_of(
            found, "kavach.token_refreshes", **atlassian, **{"kavach.outcome": outcome}
        )
        assert refreshes == 1, outcome
    reconsent = {"kavach.reason": "invalid_grant"}
    assert value_of(found, "kavach.reconsents_required", **atlassian, **reconsent) == 1
    jira = {**atlassian, "kavach.product": "jira"}
    assert value_of(found, "kavach.api_calls", **jira, **{"http.response.status_code": 200}) == 2
    assert value_of(found, "kavach.api_calls", **jira, **{"http.response.status_code": 429}) == 2
    duration = {**jira, "http.response.status_code": 200}
    assert value_of(found, "kavach.api_call.duration", **duration) == 2
    burst = {"kavach.rate_limit_reason": "jira-burst-based"}
    tenant = {"kavach.rate_limit_reason": "jira-quota-tenant-based"}
    assert value_of(found, "kavach.rate_limited", **jira, **burst) == 1
    assert value_of(found, "kavach.rate_limited", **jira, **tenant) == 1
    block = {**atlassian, **tenant, "kavach.quota_scope": "site"}
    assert value_of(found, "kavach.quota_blocks", **block) == 1
    refusal = {**atlassian, "kavach.quota_scope": "site"}
    assert value_of(found, "kavach.quota_refusals", **refusal) == 1


@sqlite_only
async def test_no_metric_carries_a_token_an_email_or_an_account_id(
    db: TestDatabase, reader: InMemoryMetricReader
) -> None:
    async with both_sites_signed_in(db) as (harness, client):
        session = str(client.cookies["kavach_session"])
        emu = harness.emu
        expire_access_token(db)
        await client.get(f"/jira/{quiet_site(emu)}/myself")
        next_jira_call_429s(emu, retry_after=600)
        await client.get(f"/jira/{BUSY}/myself")
    # Values a careless caller might pass are recorded as "other".
    user = emu.users[0]
    metrics.record_sign_in(str(user.email), "failure", session)
    metrics.record_api_call("atlassian", str(user.email), 200, 0.1)
    metrics.record_rate_limited("atlassian", "jira", session)

    found = points(reader)
    assert found
    secrets = [*emulator_tokens(emu), session, str(user.email), user.account_id, BUSY]
    for name, attributes, _ in found:
        for value in attributes.values():
            for secret in secrets:
                assert secret not in str(value), (name, attributes)
            assert "@" not in str(value)
    assert {value for _, attrs, _ in found for value in attrs.values()} >= {"other"}


def test_every_instrument_is_documented_with_its_attributes() -> None:
    page = DOCS.read_text()
    for instrument in metrics.INSTRUMENTS:
        assert f"`{instrument.name}`" in page, instrument.name
        for attribute in instrument.attributes:
            assert f"`{attribute}`" in page, (instrument.name, attribute)


@sqlite_only
async def test_the_package_works_and_records_nothing_without_opentelemetry(
    db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An import of a module set to None in sys.modules raises ImportError, as if not installed.
    for name in [module for module in sys.modules if module.startswith("opentelemetry")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    metrics.use_meter_provider(None)
    try:
        assert not metrics.enabled()
        async with both_sites_signed_in(db) as (harness, client):
            expire_access_token(db)
            answer = await client.get(f"/jira/{quiet_site(harness.emu)}/myself")
        metrics.record_privacy_report(reported=3, closed=1)
    finally:
        monkeypatch.undo()
        metrics.use_meter_provider(None)
    assert answer.status_code == 200, answer.text


def test_a_privacy_report_is_counted_by_status_and_outcome(reader: InMemoryMetricReader) -> None:
    metrics.record_privacy_report(reported=120, closed=2, updated=5)
    metrics.record_privacy_report(reported=10, failed=True)

    found = points(reader)
    accounts = "kavach.privacy_report.accounts"
    assert value_of(found, accounts, **{"kavach.privacy_status": "reported"}) == 130
    assert value_of(found, accounts, **{"kavach.privacy_status": "closed"}) == 2
    assert value_of(found, accounts, **{"kavach.privacy_status": "updated"}) == 5
    runs = "kavach.privacy_report.runs"
    assert value_of(found, runs, **{"kavach.outcome": "success"}) == 1
    assert value_of(found, runs, **{"kavach.outcome": "failure"}) == 1


async def test_a_personal_data_report_run_is_counted(
    db: TestDatabase, reader: InMemoryMetricReader
) -> None:
    async with signed_in(db) as (harness, _):
        kavach = harness.router.kavach
        harness.emu.privacy.close(harness.emu.users[0].account_id)
        report = await kavach.personal_data_reporter().report()

    assert (report.reported, len(report.closed)) == (1, 1)
    found = points(reader)
    accounts = "kavach.privacy_report.accounts"
    assert value_of(found, accounts, **{"kavach.privacy_status": "reported"}) == 1
    assert value_of(found, accounts, **{"kavach.privacy_status": "closed"}) == 1
    assert value_of(found, "kavach.privacy_report.runs", **{"kavach.outcome": "success"}) == 1
