"""Providers and linked accounts: which exist, which are linked, and disconnecting one."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..codes import ErrorCode
from ..http.errors import error_responses
from ..models import Disconnected, LinkedAccount, ProviderInfo
from ..runtime import Kavach
from .common import NOT_SIGNED_IN, SignedIn, refuse_cross_site


def add_account_routes(router: APIRouter, kavach: Kavach) -> None:
    """Add ``/auth/oauth/providers`` and ``/auth/oauth/accounts``."""

    @router.get(
        "/auth/oauth/providers",
        response_model=list[ProviderInfo],
        summary="The configured providers",
    )
    async def list_providers() -> list[ProviderInfo]:
        """The providers people can sign in with."""
        return [ProviderInfo(id=p.id, name=p.name) for p in kavach.providers.values()]

    @router.get(
        "/auth/oauth/accounts",
        response_model=list[LinkedAccount],
        summary="The signed-in user's linked accounts",
        responses=NOT_SIGNED_IN,
    )
    async def list_accounts(found: SignedIn) -> list[LinkedAccount]:
        """Provider accounts linked to the signed-in user. Never carries tokens."""
        rows = await kavach.store.accounts.accounts_of(found.user.id)
        return [LinkedAccount.from_row(row) for row in rows]

    @router.delete(
        "/auth/oauth/accounts/{provider}",
        response_model=Disconnected,
        summary="Disconnect a provider account",
        responses={
            **NOT_SIGNED_IN,
            **error_responses(ErrorCode.CROSS_SITE_REQUEST, ErrorCode.UNKNOWN_PROVIDER),
        },
    )
    async def disconnect(request: Request, provider: str, found: SignedIn) -> Disconnected:
        """Forget the provider's tokens and cached sites; the person stays signed in.

        Atlassian offers no endpoint to revoke a 3LO grant: the answer says so, with the page
        where the person can revoke the app themselves.
        """
        refuse_cross_site(request, kavach, f"/auth/oauth/accounts/{provider}", "Disconnecting")
        chosen = kavach.sign_in.client(provider).provider
        linked = await kavach.tokens.disconnect(found.user.id, chosen.id)
        where = f" at {chosen.revoke_url}" if chosen.revoke_url else ""
        return Disconnected(
            provider=chosen.id,
            disconnected=linked,
            revoked_at_provider=False,
            revoke_url=chosen.revoke_url,
            message=(
                f"{chosen.name} tokens were deleted here. {chosen.name} offers apps no way to "
                f"revoke access: to revoke it, remove the app from your connected apps{where}."
            ),
        )
