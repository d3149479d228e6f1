"""The OAuth 2.0 client: the only module that imports Authlib.

Authlib's async OAuth2 client (httpx2 underneath) builds consent URLs and exchanges codes. This
module wraps it in a small typed surface and translates every network or protocol failure, in one
place, into a [`ProviderError`][kavach_fastapi.ProviderError] with a fitting code. Every call has a
deadline (``KAVACH_HTTP_TIMEOUT``) for the whole of it, connecting, sending and reading, so a
provider that trickles its answer cannot hold a request open; redirects are never followed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from .codes import ErrorCode
from .errors import ProviderError, RefreshRefusedError
from .providers.base import OAuthProvider
from .retry import TransientFailure, transient_answer

logger = logging.getLogger("kavach_fastapi")


@dataclass(frozen=True)
class TokenSet:
    """Tokens from a token endpoint answer.

    Attributes:
        access_token: the bearer token for API calls.
        refresh_token: present when ``offline_access`` was granted; rotated on each refresh.
        expires_at: when the access token stops working, if the provider said.
        scopes: the scopes actually granted.
    """

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        return f"TokenSet(expires_at={self.expires_at!r}, scopes={self.scopes!r})"


class GrantRevoked(Exception):  # noqa: N818 - a signal, caught at once by tokens.py
    """The provider says the refresh token or the whole grant is gone (``invalid_grant``)."""


_NEVER_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
"""Transport failures that happen before a byte of the request leaves."""


_UNREADABLE = (ValueError, TypeError, httpx2.DecodingError)
"""An answer that cannot be read: a body that does not decode (a corrupt gzip, say), malformed
JSON, or JSON without the fields we need. The provider did answer, so it may have acted."""


def _transient(exc: httpx2.TransportError) -> TransientFailure:
    """The one translation of a transport failure (timeouts included) into a signal."""
    reason = "timeout" if isinstance(exc, httpx2.TimeoutException) else type(exc).__name__
    return TransientFailure(reason, unapplied=isinstance(exc, _NEVER_SENT))


def _raise_if_transient(response: httpx2.Response) -> httpx2.Response:
    if response.status_code == 429 or response.status_code >= 500:
        raise transient_answer(response)
    return response


def new_code_verifier() -> str:
    """A PKCE code verifier of 64 characters (RFC 7636 allows 43 to 128)."""
    return str(generate_token(64))


class SharedTransport(httpx2.AsyncBaseTransport):
    """Lends one long-lived transport (its connection pool) to many short-lived clients.

    Closing a client does not close the pool; its owner closes `inner` and may put a
    new one in its place.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Borrowers never close the pool."""


def _token_set(data: Mapping[str, Any], *, now: datetime) -> TokenSet:
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ValueError("the token answer has no access_token")
    refresh_token = data.get("refresh_token")
    expires_in = data.get("expires_in")
    scope = data.get("scope")
    return TokenSet(
        access_token=access_token,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_at=(
            now + timedelta(seconds=int(expires_in))
            if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool)
            else None
        ),
        scopes=tuple(scope.split()) if isinstance(scope, str) else (),
    )


@contextmanager
def _provider_call(provider: OAuthProvider, what: str, failure: ErrorCode) -> Iterator[None]:
    """Translate every failure of one provider call into a ``ProviderError``."""
    try:
        yield
    except httpx2.TimeoutException:
        logger.warning("%s %s timed out", provider.name, what)
        raise ProviderError(
            f"{provider.name} did not answer in time. Please try again shortly.",
            code=ErrorCode.PROVIDER_UNAVAILABLE,
        ) from None
    except httpx2.TransportError as exc:
        logger.warning("%s %s could not be reached: %s", provider.name, what, type(exc).__name__)
        raise ProviderError(
            f"{provider.name} could not be reached. Please try again shortly.",
            code=ErrorCode.PROVIDER_UNAVAILABLE,
        ) from None
    except OAuthError as exc:
        logger.warning("%s %s refused: error=%s", provider.name, what, exc.error)
        raise ProviderError(code=failure) from None
    except httpx2.HTTPStatusError as exc:
        logger.warning("%s %s answered HTTP %s", provider.name, what, exc.response.status_code)
        raise ProviderError(code=failure) from None
    except _UNREADABLE as exc:
        # The message names no value: only the kind of failure.
        logger.warning("%s %s answer is malformed: %s", provider.name, what, type(exc).__name__)
        raise ProviderError(code=failure) from None


class OAuthClient:
    """Talks OAuth 2.0 to one provider.

    Args:
        provider: the provider to talk to.
        transport: the HTTP transport (a pooled one in production, an emulator or a mock in tests).
        timeout: seconds each call may take in all (connecting, sending and reading).
    """

    def __init__(
        self, provider: OAuthProvider, *, transport: SharedTransport, timeout: float
    ) -> None:
        self.provider = provider
        self._transport = transport
        self._seconds = timeout
        # httpx2's own timeouts bound each phase (one read, say); _deadline bounds the whole.
        self._timeout = httpx2.Timeout(timeout, connect=min(timeout, 5.0))

    @contextmanager
    def _deadline(self) -> Iterator[None]:
        """Bound one call as a whole; running out is reported as httpx2 reports a timeout."""
        try:
            with anyio.fail_after(self._seconds):
                yield
        except TimeoutError:
            raise httpx2.TimeoutException(f"no complete answer within {self._seconds} s") from None

    def _client(
        self,
        redirect_uri: str | None = None,
        *,
        with_scope: bool = True,
        extra_scopes: tuple[str, ...] = (),
    ) -> AsyncOAuth2Client:
        provider = self.provider
        scopes = (*provider.scopes, *(s for s in extra_scopes if s not in provider.scopes))
        return AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret.get_secret_value(),
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
            scope=" ".join(scopes) if with_scope else None,
            redirect_uri=redirect_uri,
            code_challenge_method="S256" if provider.use_pkce else None,
            transport=self._transport,
            timeout=self._timeout,
            follow_redirects=False,
            trust_env=False,
        )

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        code_verifier: str | None,
        extra_scopes: tuple[str, ...] = (),
    ) -> str:
        """The consent URL to send the browser to, asking for ``extra_scopes`` as well."""
        client = self._client(redirect_uri, extra_scopes=extra_scopes)
        url, _ = client.create_authorization_url(
            self.provider.authorize_url,
            state=state,
            code_verifier=code_verifier if self.provider.use_pkce else None,
            **dict(self.provider.authorize_params),
        )
        return str(url)

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        """Exchange an authorization code for tokens.

        Raises:
            ProviderError: timeout, unreachable, an error answer, or a malformed one.
        """
        extra = {"code_verifier": code_verifier} if code_verifier else {}
        with (
            _provider_call(self.provider, "token exchange", ErrorCode.TOKEN_EXCHANGE_FAILED),
            self._deadline(),
        ):
            async with self._client(redirect_uri) as client:
                now = datetime.now(timezone.utc)
                data = await client.fetch_token(
                    self.provider.token_url,
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=redirect_uri,
                    **extra,
                )
                return _token_set(data, now=now)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Trade a refresh token for a new token set (Atlassian rotates the refresh token).

        When the answer carries no ``refresh_token`` the returned set has ``None`` there: the
        caller keeps the one it has.

        Raises:
            GrantRevoked: ``invalid_grant``; retrying cannot help.
            TransientFailure: timeout, unreachable, 5xx, 429 or a malformed answer.
            RefreshRefusedError: any other refusal (a wrong client secret, say).
        """
        provider = self.provider
        try:
            with self._deadline():
                async with self._client(with_scope=False) as client:
                    client.register_compliance_hook("refresh_token_response", _raise_if_transient)
                    now = datetime.now(timezone.utc)
                    data = await client.refresh_token(
                        provider.token_url, refresh_token=refresh_token
                    )
                    tokens = _token_set(data, now=now)
        except httpx2.TransportError as exc:
            raise _transient(exc) from None
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                raise GrantRevoked from None
            logger.warning(
                "%s refused a token refresh: error=%s (check the client id and secret)",
                provider.name,
                exc.error,
            )
            raise RefreshRefusedError from None
        except httpx2.HTTPStatusError as exc:
            logger.warning("%s refresh answered HTTP %s", provider.name, exc.response.status_code)
            raise RefreshRefusedError from None
        except _UNREADABLE as exc:
            # Atlassian may have rotated the refresh token before the answer was lost; the old
            # one is kept and still works within the reuse interval, so this may pass.
            raise TransientFailure(f"malformed answer ({type(exc).__name__})") from None
        if tokens.refresh_token == refresh_token:
            # Authlib fills in the old token when the answer has none; say "none" plainly.
            tokens = TokenSet(tokens.access_token, None, tokens.expires_at, tokens.scopes)
        return tokens

    async def api_request(
        self, method: str, url: str, *, access_token: str, **kwargs: Any
    ) -> httpx2.Response:
        """Send a request with a bearer token and return the answer whatever its status.

        Raises:
            TransientFailure: the provider could not be reached, gave no whole answer
                before the deadline, or gave one whose body cannot be decoded.
        """
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        headers["Authorization"] = f"Bearer {access_token}"
        try:
            with self._deadline():
                async with self._http() as client:
                    response: httpx2.Response = await client.request(
                        method, url, headers=headers, **kwargs
                    )
                    await response.aread()
                    return response
        except httpx2.TransportError as exc:
            raise _transient(exc) from None
        except httpx2.DecodingError:
            # An answer arrived (the provider may have acted on it) but cannot be read.
            raise TransientFailure("malformed answer (DecodingError)") from None

    def _http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=self._transport,
            timeout=self._timeout,
            follow_redirects=False,
            trust_env=False,
        )

    async def get_json(self, url: str, *, access_token: str, failure: ErrorCode) -> Any:
        """GET a JSON resource with a bearer token.

        Raises:
            ProviderError: timeout, unreachable, a non-2xx answer, or a body that is not JSON or cannot be decoded.
        """
        with (
            _provider_call(self.provider, f"GET {httpx2.URL(url).path}", failure),
            self._deadline(),
        ):
            async with self._http() as client:
                response = await client.get(
                    url,
                    headers={
                        "Authorization": f"Bearer {access_token}",
                        "Accept": "application/json",
                    },
                )
                response.raise_for_status()
                return response.json()

    async def fetch_profile(self, access_token: str) -> Any:
        """The provider's description of the signed-in person, as JSON."""
        return await self.get_json(
            self.provider.profile_url,
            access_token=access_token,
            failure=ErrorCode.PROFILE_FETCH_FAILED,
        )
