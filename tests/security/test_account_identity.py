"""One Atlassian account is one identity: an email address that moves never moves a grant.

An email address can pass to another Atlassian account: a recycled mailbox, a domain that lapsed
and was bought again, an administrator reassigning a managed account. The new account arrives
with the same verified email as a person the app already knows. It must become a new user of its
own, and everything it does must use its own grant, never the earlier person's.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
from fastapi import FastAPI

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser

from .conftest import ACCOUNTS, ATTACKER_ADDRESS, SESSION, browser, sign_in, snapshot

RECYCLED_EMAIL = "ada@example.com"


def newcomer_with(email: str) -> EmulatedUser:
    """A new Atlassian account that now owns ``email``, verified."""
    return EmulatedUser(
        account_id="712020:0b9e7d55-6a1c-4f0e-8d3b-2c4a5e6f7a8b",
        name="Someone Else",
        email=email,
        email_verified=True,
    )


async def jira_account_id(client: httpx2.AsyncClient, cloud_id: str) -> str:
    """Whose grant the app uses for this browser: the account id Jira's ``myself`` names."""
    response = await client.get(f"/jira/{cloud_id}/myself")
    assert response.status_code == 200, response.text
    return str(response.json()["accountId"])


async def test_a_new_account_with_a_recycled_email_gets_its_own_user_and_grant(
    live_app: FastAPI, victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path
) -> None:
    ada = emulator.users[0]
    assert ada.email == RECYCLED_EMAIL
    jira = emulator.sites[0].id
    newcomer = newcomer_with(RECYCLED_EMAIL)
    emulator.users.append(newcomer)
    await sign_in(victim, emulator, user=ada)

    async with browser(live_app, address=ATTACKER_ADDRESS) as other:
        await sign_in(other, emulator, user=newcomer)
        theirs = (await other.get(SESSION)).json()["user"]
        linked = (await other.get(ACCOUNTS)).json()
        used_for_them = await jira_account_id(other, jira)

    ours = (await victim.get(SESSION)).json()["user"]
    assert theirs["id"] != ours["id"]
    assert theirs["email"] == ours["email"] == RECYCLED_EMAIL, "two users may share an email"
    assert [account["account_id"] for account in linked] == [newcomer.account_id]
    assert used_for_them == newcomer.account_id
    assert await jira_account_id(victim, jira) == ada.account_id
    rows = snapshot(database, ["kavach_users", "kavach_accounts"])
    assert len(rows["kavach_users"]) == 2
    assert len(rows["kavach_accounts"]) == 2


async def test_the_earlier_person_keeps_their_user_and_grant_after_the_newcomer_signs_in(
    live_app: FastAPI, victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    ada = emulator.users[0]
    newcomer = newcomer_with(RECYCLED_EMAIL)
    emulator.users.append(newcomer)
    await sign_in(victim, emulator, user=ada)
    before = (await victim.get(SESSION)).json()["user"]["id"]

    async with browser(live_app, address=ATTACKER_ADDRESS) as other:
        await sign_in(other, emulator, user=newcomer)
    await sign_in(victim, emulator, user=ada)

    assert (await victim.get(SESSION)).json()["user"]["id"] == before
    linked = (await victim.get(ACCOUNTS)).json()
    assert [account["account_id"] for account in linked] == [ada.account_id]
    assert await jira_account_id(victim, emulator.sites[0].id) == ada.account_id
