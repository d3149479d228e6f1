"""The package outside a request: background jobs, queues, cron and scripts.

```python
from kavach_fastapi import open_kavach

async with open_kavach() as kavach:
    token = await kavach.atlassian_token(user_id)
```

[`open_kavach()`][kavach_fastapi.open_kavach] builds the same runtime as
[`kavach_router()`][kavach_fastapi.kavach_router] (`Kavach.from_options`): the same settings,
database and keys, and the same `TokenService`, so a job and the web app refreshing one grant
at the same moment still make one refresh (the database lease decides across processes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx2

from .atlassian.client import AtlassianClient
from .atlassian.dependencies import atlassian_of
from .grants import IdleRefresh, Progress
from .models import AtlassianSite
from .options import KavachOptions, Unpack
from .privacy import PersonalDataReport, ReportOptions
from .providers.atlassian import atlassian_provider
from .providers.base import OAuthProvider
from .runtime import Kavach
from .settings import KavachSettings
from .tables import utcnow


class OfflineKavach:
    """What a job can do for a person who is not there, given their user id.

    Get one with [`open_kavach()`][kavach_fastapi.open_kavach]; it is valid inside the
    ``async with`` block. The user id is [`User.id`][kavach_fastapi.User], as the app's
    routes see it (keep it with the job's own data).

    Args:
        runtime: a started runtime; `open_kavach` makes it and closes it.
    """

    def __init__(self, runtime: Kavach) -> None:
        self.runtime = runtime

    @property
    def settings(self) -> KavachSettings:
        """The settings in effect (database URL, lifetimes...)."""
        return self.runtime.settings

    @property
    def reauth_url(self) -> str | None:
        """Where a person signs in to Atlassian again, to send them (in an email, say).

        Known when ``KAVACH_BASE_URL`` is set (a job has no request to derive it from); every
        ``ReauthRequiredError`` raised here carries it as ``reauth_url``: the token service
        that raises it knows it (`TokenService.sign_in_url`).
        """
        return self.runtime.tokens.sign_in_url("atlassian")

    async def atlassian_token(self, user_id: str) -> str:
        """A valid Atlassian access token for the person, refreshed when needed.

        Raises:
            ReauthRequiredError: the person never linked Atlassian, disconnected, or the grant
                is gone: they must sign in again (the job cannot bring it back), at
                `reauth_url`.
            ProviderUnavailableError: Atlassian failed even after retries; try again later
                (``retry_after`` says when).
            RefreshRefusedError: Atlassian refused to refresh the tokens, not for a dead grant
                (most often the app's client secret); the grant is kept.
            ConfigurationError: the runtime has no Atlassian provider.
        """
        return await self.runtime.tokens.access_token(user_id, atlassian_of(self.runtime).id)

    async def atlassian_sites(self, user_id: str) -> list[AtlassianSite]:
        """The person's Atlassian sites (cached per account, see ``KAVACH_SITES_CACHE_TTL``).

        Raises:
            ReauthRequiredError, ProviderUnavailableError, RefreshRefusedError: as for
                `atlassian_token`.
        """
        return await self.runtime.sites.sites(user_id, atlassian_of(self.runtime))

    def atlassian_client(self, user_id: str) -> AtlassianClient:
        """An [`AtlassianClient`][kavach_fastapi.AtlassianClient] acting as the person.

        Its calls raise what `atlassian_token` raises, and `UnknownSiteError` for a cloud id
        that is not one of the person's sites.
        """
        runtime = self.runtime
        return AtlassianClient(runtime.calls, runtime.sites, atlassian_of(runtime), user_id)

    async def refresh_idle_grants(
        self, *, older_than: timedelta, progress: Progress | None = None
    ) -> IdleRefresh:
        """Refresh every grant not refreshed for ``older_than`` (``kavach grants refresh-idle``).

        Keeps people who have not used the app for a while from losing their grant to
        Atlassian's 90-day inactivity limit. Safe to run from cron and at the same time as the
        app or another run: each grant is refreshed once.
        """
        return await self.runtime.idle_grants.refresh(
            now=utcnow(), older_than=older_than, progress=progress
        )

    async def end_user_sessions(self, user_id: str) -> int:
        """Sign a person out everywhere (an admin's call); how many sessions ended.

        Every app process refuses those sessions within the sign-out bound.
        """
        return await self.runtime.end_user_sessions(user_id)

    async def report_personal_data(self, **options: Unpack[ReportOptions]) -> PersonalDataReport:
        """Atlassian's personal-data reporting, as
        [`report_personal_data()`][kavach_fastapi.report_personal_data] runs it, with this
        runtime's database and grants.

        Args:
            **options: the keywords of ``report_personal_data()`` about the run: ``as_user``,
                ``on_account_closed``, ``on_progress``, ``max_wait``, ``reread_now``.
        """
        return await self.runtime.personal_data_reporter().report(**options)


@asynccontextmanager
async def open_kavach(
    *,
    providers: Sequence[OAuthProvider] | None = None,
    http_transport: httpx2.AsyncBaseTransport | None = None,
    **options: Unpack[KavachOptions],
) -> AsyncIterator[OfflineKavach]:
    """Use kavach outside a request: ``async with open_kavach() as kavach: ...``.

    Reads the same settings as [`kavach_router()`][kavach_fastapi.kavach_router]: each option
    falls back to its ``KAVACH_*`` variable, so a job started with the app's environment uses
    the app's database and keys. The schema is checked as the app's start-up checks it.
    Leaving the block closes the database connections and the HTTP pool.

    Args:
        providers: the providers, as given to ``kavach_router``; ``[atlassian_provider()]``
            (from ``ATLASSIAN_*``) when not given.
        http_transport: an ``httpx2`` transport for provider calls (tests: the emulator).
        **options: any field of [`KavachSettings`][kavach_fastapi.KavachSettings], by name.

    Raises:
        ConfigurationError: a setting is missing or invalid, or the database schema is behind
            (run ``kavach db upgrade``); the message names the fix.
    """
    runtime = Kavach.from_options(
        providers if providers is not None else [atlassian_provider()],
        http_transport=http_transport,
        **options,
    )
    try:
        await runtime.start()
        yield OfflineKavach(runtime)
    finally:
        await runtime.close()
