"""Who may sign in: the granted scopes, the site policy and the app's ``before_sign_in`` hook.

Run by the sign-in service after the provider answered and before anything is written, in
this order, each refusal ending the sign-in with nothing stored:

1. the grant must carry every configured scope (else ``invalid_scope``);
2. with ``KAVACH_ALLOWED_SITES`` set, the grant must reach one of those sites, by cloud id or
   by URL, as ``accessible-resources`` lists them (else ``site_not_allowed``);
3. the app's ``before_sign_in`` hook may return [`Refuse`][kavach_fastapi.Refuse]
   (``sign_in_refused``); a hook that raises ends it as ``sign_in_failed``.

The sites are only asked for when a policy or a hook needs them: one call to Atlassian more
per sign-in, whose answer then fills the person's sites cache.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from .codes import ErrorCode
from .errors import ProviderDeniedError, SignInHookError, SignInRefusedError, SiteNotAllowedError
from .hooks import KavachHooks, Refuse, SignInCandidate, describe_failure
from .models import AtlassianSite, ProviderProfile
from .providers.base import OAuthProvider, missing_scopes

logger = logging.getLogger("kavach_fastapi")

SiteLister = Callable[[str], Awaitable[list[AtlassianSite]]]
"""Lists the sites an access token reaches (a provider's ``accessible-resources``)."""


@dataclass(frozen=True)
class SitePolicy:
    """``KAVACH_ALLOWED_SITES``: cloud ids and site origins, as the settings normalised them."""

    allowed: tuple[str, ...]

    def allows(self, sites: Iterable[AtlassianSite]) -> bool:
        """Whether one of ``sites`` is allowed, by its cloud id or by its URL's origin."""
        wanted = {entry.lower() for entry in self.allowed}
        return any(
            site.id.lower() in wanted or site.url.strip().rstrip("/").lower() in wanted
            for site in sites
        )


class Admission:
    """Decides, before the write, whether a sign-in may finish.

    Args:
        hooks: the app's hooks (only ``before_sign_in`` is run here).
        allowed_sites: ``KAVACH_ALLOWED_SITES``; empty lets anyone in.
        site_listers: per provider id, how to list a token's sites; a provider without one
            has no sites (and cannot pass a site policy).
    """

    def __init__(
        self,
        hooks: KavachHooks,
        allowed_sites: tuple[str, ...],
        site_listers: Mapping[str, SiteLister],
    ) -> None:
        self._hooks = hooks
        self._policy = SitePolicy(allowed_sites) if allowed_sites else None
        self._listers = dict(site_listers)

    async def admit(
        self,
        provider: OAuthProvider,
        profile: ProviderProfile,
        *,
        access_token: str,
        granted: tuple[str, ...],
    ) -> tuple[AtlassianSite, ...] | None:
        """Refuse the sign-in, or return the sites it read (``None`` when it read none).

        Raises:
            ProviderDeniedError: ``invalid_scope``, the grant lacks a configured scope.
            SiteNotAllowedError: the grant reaches none of ``KAVACH_ALLOWED_SITES``.
            SignInRefusedError: the ``before_sign_in`` hook refused.
            SignInHookError: the ``before_sign_in`` hook raised.
            ProviderError: listing the sites failed (``provider_unavailable``).
        """
        lacking = missing_scopes(provider.scopes, granted)
        if lacking:
            logger.warning(
                "%s granted without the configured scope(s) %s: sign-in refused",
                provider.name,
                " ".join(lacking),
            )
            raise ProviderDeniedError(
                f"{provider.name} did not grant the permission(s) {' '.join(lacking)}.",
                code=ErrorCode.INVALID_SCOPE,
            )
        hook = self._hooks.before_sign_in
        if self._policy is None and hook is None:
            return None
        lister = self._listers.get(provider.id)
        sites = tuple(await lister(access_token)) if lister is not None else ()
        if self._policy is not None and not self._policy.allows(sites):
            logger.info("%s sign-in refused: no site of KAVACH_ALLOWED_SITES", provider.name)
            raise SiteNotAllowedError
        if hook is not None:
            candidate = SignInCandidate(provider.id, profile, sites, granted)
            try:
                decision = await hook(candidate)
            except Exception as exc:
                logger.error("kavach hook before_sign_in failed: %s", describe_failure(exc))
                raise SignInHookError from None
            if isinstance(decision, Refuse):
                logger.info(
                    "%s sign-in refused by before_sign_in: %s", provider.name, decision.reason
                )
                raise SignInRefusedError(decision.reason, decision.message)
            if decision is not None:
                logger.error("kavach hook before_sign_in returned %r, not Refuse or None", decision)
                raise SignInHookError
        return sites
