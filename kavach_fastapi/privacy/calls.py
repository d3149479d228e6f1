"""The report calls: one batch's ``POST``, the stored grant that authorises it, and its answer.

The bearer is any stored grant (those with ``report:personal-data`` first, then the most
recently used), or the one named; a refused token is refreshed once, then the next grant is
tried. A ``403`` to the refreshed token ends the run instead: the app itself lacks the
permission, and no other grant would fare better. Connection failures and ``5xx`` are retried; a ``429`` is handed back to the run, which
waits as long as Atlassian asks.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import httpx2

from ..codes import ErrorCode
from ..errors import ConfigurationError, KavachError, NoUsableGrantError, ReauthRequiredError
from ..oauth import OAuthClient
from ..providers.atlassian import AtlassianProvider
from ..retry import RetryPolicy, transient_answer, with_retries
from ..store.privacy import DueAccount, PrivacyStore
from ..tokens import TokenService
from .results import BEARER_CANDIDATES, REPORT_PATH, REPORT_SCOPE

logger = logging.getLogger("kavach_fastapi")


class ReportCalls:
    """Sends report batches to Atlassian, authorised by a stored grant.

    Args:
        privacy: where the bearer candidates are found.
        tokens: valid access tokens of stored grants.
        client: the Atlassian provider's OAuth client (its ``api_url`` is the base).
        retry: how connection failures and ``5xx`` answers are retried.

    Raises:
        ConfigurationError: the client is not Atlassian's.
    """

    def __init__(
        self, privacy: PrivacyStore, tokens: TokenService, client: OAuthClient, retry: RetryPolicy
    ) -> None:
        if not isinstance(client.provider, AtlassianProvider):
            raise ConfigurationError(
                "Personal-data reporting is Atlassian's: use atlassian_provider()."
            )
        self._privacy = privacy
        self._tokens = tokens
        self._client = client
        self._url = f"{client.provider.api_url}{REPORT_PATH}"
        self._provider = client.provider.id
        self._retry = retry
        self._bearer_user: str | None = None
        """The user whose grant the last call was answered for, tried first for the next."""

    def forget(self, user_id: str) -> None:
        """Stop trying ``user_id``'s grant first (their account was closed)."""
        if user_id == self._bearer_user:
            self._bearer_user = None

    async def send(self, batch: list[DueAccount], as_user: str | None) -> httpx2.Response:
        """One report call; a refused token is refreshed once, then another grant is tried.

        Raises:
            NoUsableGrantError: no candidate grant is left that Atlassian does not refuse.
            ConfigurationError: ``403`` even with a freshly refreshed token: the app lacks the
                ``report:personal-data`` permission.
            KavachError: ``provider_error``, Atlassian answered a status reporting never has.
        """
        body = {
            "accounts": [
                {"accountId": account.account_id, "updatedAt": _rfc3339(account.updated_at)}
                for account in batch
            ]
        }
        refused: set[str] = set()
        while True:
            user_id, token = await self._bearer(as_user, refused)
            response = await self._post(token, body)
            if response.status_code not in (401, 403):
                self._bearer_user = user_id
                return response
            try:
                replacement = await self._tokens.after_refusal(user_id, self._provider, token)
            except ReauthRequiredError:
                replacement = None
            if replacement is not None:
                response = await self._post(replacement, body)
                if response.status_code not in (401, 403):
                    self._bearer_user = user_id
                    return response
                if response.status_code == 403:
                    # A token refreshed a moment ago is forbidden: the app lacks the
                    # permission, and every other grant would be refused the same way.
                    raise _permission_missing()
            logger.warning("personal-data reporting refused the grant of user %s", user_id)
            refused.add(user_id)
            self._bearer_user = None

    async def _post(self, token: str, body: dict[str, Any]) -> httpx2.Response:
        async def once() -> httpx2.Response:
            response = await self._client.api_request(
                "POST", self._url, access_token=token, json=body
            )
            if response.status_code >= 500:
                raise transient_answer(response)
            return response

        # Reporting again is harmless (nothing is changed by a report), so any failure may be
        # retried; a 429 is answered to the caller, which waits as long as Atlassian asks.
        response = await with_retries(
            once,
            policy=self._retry,
            what=f"POST {REPORT_PATH}",
            provider=self._client.provider.name,
            repeatable=True,
        )
        if response.status_code not in (200, 204, 401, 403, 429):
            logger.error("personal-data reporting answered %d", response.status_code)
            raise KavachError(
                f"Atlassian refused the personal-data report with HTTP {response.status_code}; "
                "nothing of this call was recorded. Check the app's permissions in Atlassian's "
                "developer console (the personal-data reporting API).",
                code=ErrorCode.PROVIDER_ERROR,
            )
        return response

    async def _bearer(self, as_user: str | None, refused: set[str]) -> tuple[str, str]:
        """A user and a valid access token of theirs to authorise the report with.

        Raises:
            NoUsableGrantError: none of the candidates has a usable grant.
        """
        if as_user is not None:
            candidates = [as_user]
        else:
            stored = await self._privacy.bearer_candidates(
                self._provider, prefer_scope=REPORT_SCOPE, limit=BEARER_CANDIDATES
            )
            first = [self._bearer_user] if self._bearer_user in stored else []
            candidates = first + [user for user in stored if user not in first]
        for user_id in candidates:
            if user_id in refused:
                continue
            try:
                return user_id, await self._tokens.access_token(user_id, self._provider)
            except ReauthRequiredError:
                continue
        if as_user is not None:
            raise NoUsableGrantError(
                f"The Atlassian grant of user {as_user} cannot call the personal-data reporting "
                "API (not linked, refused, or it needs consent again). Have that person sign in "
                "again, or leave --as-user out to use any stored grant."
            )
        raise NoUsableGrantError(
            "No stored Atlassian grant can call the personal-data reporting API: nobody has "
            "signed in yet, or every grant needs consent again. Sign in once (with "
            "offline_access), or name a user with --as-user."
        )


def _permission_missing() -> ConfigurationError:
    logger.error("personal-data reporting answered 403 to a freshly refreshed token")
    return ConfigurationError(
        "Atlassian answered 403 to the personal-data report even with a freshly refreshed "
        "token: the app lacks the reporting permission. In Atlassian's developer console, add "
        f"the {REPORT_SCOPE} scope (Personal data reporting API) to the app, then run the "
        "report again; nothing of this call was recorded."
    )


def _rfc3339(value: datetime) -> str:
    """``2026-12-02T03:04:05.678Z``: UTC with milliseconds, as Atlassian's examples write it."""
    utc = value.astimezone(timezone.utc)
    millis = utc.microsecond // 1000
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"
