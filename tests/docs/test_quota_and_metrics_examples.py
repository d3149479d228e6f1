"""The examples of the "Atlassian's rules" and "Metrics" pages, against the emulator."""

from __future__ import annotations

import metrics_in_tests
import pytest
import quota_job

from kavach_fastapi import AtlassianClient
from kavach_fastapi.atlassian.dependencies import atlassian_of
from kavach_fastapi.emulator import Fault

from ..databases import TestDatabase
from ..integration.quota_harness import BUSY, quiet_site, two_jira_sites_emulator
from ..integration.token_harness import SESSION, build_harness, running, sign_in


async def test_the_job_reads_the_name_and_reschedules_while_the_quota_is_used_up(
    db: TestDatabase,
) -> None:
    harness = build_harness(db, two_jira_sites_emulator())
    emu = harness.emu
    async with running(harness.app) as client:
        await sign_in(client, emu, site_ids=[quiet_site(emu), BUSY])
        user = (await client.get(SESSION)).json()["user"]["id"]
        kavach = harness.router.kavach
        atlassian = AtlassianClient(kavach.calls, kavach.sites, atlassian_of(kavach), user)
        emu.faults.add("jira_myself", Fault("rate_limit", retry_after=1200, times=1))

        waiting = await quota_job.refresh_display_name(atlassian, BUSY)
        still = await quota_job.refresh_display_name(atlassian, BUSY)
        fine = await quota_job.refresh_display_name(atlassian, quiet_site(emu))

    assert waiting.display_name is None
    assert waiting.retry_in is not None
    assert 1190 <= waiting.retry_in <= 1200
    assert still.retry_in is not None
    assert emu.site_calls(BUSY) == 1  # the second run never reached Atlassian
    assert fine == quota_job.Outcome(display_name="Ada Lovelace")


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_the_metrics_example_reads_what_a_sign_in_and_a_429_recorded(
    db: TestDatabase,
) -> None:
    harness = build_harness(db, two_jira_sites_emulator())
    emu = harness.emu
    with metrics_in_tests.recorded_metrics() as reader:
        async with running(harness.app) as client:
            await sign_in(client, emu, site_ids=[quiet_site(emu), BUSY])
            emu.faults.add("jira_myself", Fault("rate_limit", retry_after=1200, times=1))
            await client.get(f"/jira/{BUSY}/myself")
        found = metrics_in_tests.totals(reader)

    assert found["kavach.sign_ins"] == 1
    assert found["kavach.rate_limited"] == 1
    assert found["kavach.quota_blocks"] == 1
    assert found["kavach.api_calls"] == 1
