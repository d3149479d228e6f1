"""Hooks: the app's own code, run at the moments of a person's sign-in life.

Give them to [`kavach_router()`][kavach_fastapi.kavach_router] as one typed object:

```python
async def only_staff(candidate: SignInCandidate) -> Refuse | None:
    if candidate.profile.email is None or not candidate.profile.email.endswith("@acme.com"):
        return Refuse("not_staff")
    return None

router = kavach_router([atlassian_provider()], hooks=KavachHooks(before_sign_in=only_staff))
```

| hook | when | may it change the outcome? |
| --- | --- | --- |
| ``before_sign_in`` | the provider answered, the profile and sites are read, nothing is written yet | yes: return `Refuse` to refuse; nothing is written |
| ``user_created`` | a sign-in made a new user (after the write) | raising undoes the sign-in (retried while the database is unavailable) |
| ``signed_in`` | after every sign-in, new user or not (after the write) | raising undoes the sign-in (retried while the database is unavailable) |
| ``reauth_needed`` | a grant was found to need consent again (revoked, or lacking a configured scope) | no: an exception is logged |
| ``signed_out`` | a session was ended by sign-out | no: an exception is logged |

A hook that raises during a sign-in ends it as ``sign_in_failed``: the person lands on
``redirect_to?error=sign_in_failed``, the exception is logged (its type and message, never a
token), and what the sign-in wrote is undone: its session always, and the user with their
linked account when this sign-in created them (the same when the request is cancelled while
one of these hooks runs). The undo is tried again while the database is unavailable
(``kavach_fastapi.retry.SHORT_WRITE``: 4 tries within 3 s); if none goes through, the answer is still ``sign_in_failed`` and an ERROR names the user whose sign-in could
not be undone. The new session then stays until housekeeping deletes it, but nobody can use
it: its token was never handed out. A user the sign-in created stays with their account, and
their next sign-in does not run ``user_created`` again. Hooks outside a sign-in cannot stop
what already happened (the grant is dead, the session ended), so their exceptions are only
logged.

Each hook is an ``async`` function of one event object; the events are frozen dataclasses
that carry no token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from .models import AtlassianSite, ProviderProfile, User

logger = logging.getLogger("kavach_fastapi")

# No __all__: which of these names are public is said once, by the package's own (the
# ``kavach_fastapi`` lazy-import table); the rest (NO_HOOKS, notify...) serve the package.

_REASON = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class SignInCandidate:
    """Someone the provider vouched for, before anything is written.

    Attributes:
        provider: the provider id, e.g. ``"atlassian"``.
        profile: the person as the provider describes them.
        sites: the Atlassian sites the new grant reaches (one per cloud id); empty for a
            provider without sites.
        scopes: the scopes the provider says it granted.
    """

    provider: str
    profile: ProviderProfile
    sites: tuple[AtlassianSite, ...] = ()
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refuse:
    """What ``before_sign_in`` returns to refuse a sign-in.

    The person lands on ``redirect_to?error=sign_in_refused&reason=<reason>``; a client that
    asked for JSON gets 403 ``sign_in_refused`` with ``message``.

    Attributes:
        reason: a short code of the app's own, lower case: letters, digits, ``_``, ``.``, ``-``,
            at most 64 characters (it travels in a URL), e.g. ``"not_staff"``.
        message: the sentence a JSON client gets; a default one when ``None``.

    Raises:
        ValueError: ``reason`` is not such a code.
    """

    reason: str
    message: str | None = None

    def __post_init__(self) -> None:
        if not _REASON.fullmatch(self.reason):
            raise ValueError(
                f"Refuse(reason=...) must be a short lower-case code such as 'not_staff', "
                f"got {self.reason!r}"
            )


@dataclass(frozen=True)
class SignInEvent:
    """A finished sign-in (given to ``user_created`` and ``signed_in``).

    Attributes:
        user: the signed-in user, as routes see them.
        provider: the provider id.
        profile: the person as the provider described them at this sign-in.
        new_user: whether this sign-in created the user.
        sites: the sites the grant reaches, when the sign-in read them (a site policy or a
            ``before_sign_in`` hook is configured); else empty.
    """

    user: User
    provider: str
    profile: ProviderProfile
    new_user: bool
    sites: tuple[AtlassianSite, ...] = ()


@dataclass(frozen=True)
class ReauthEvent:
    """A person's grant needs their consent again.

    Attributes:
        user_id: the user whose grant it is.
        provider: the provider id.
        reason: ``"grant_revoked"`` (the provider refused the refresh token, or there is none
            to use) or ``"missing_scopes"`` (the grant lacks scopes the app now requests).
        missing_scopes: for ``"missing_scopes"``, the scopes it lacks.
    """

    user_id: str
    provider: str
    reason: str
    missing_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignOutEvent:
    """A session was ended by sign-out.

    Attributes:
        user_id: whose session it was.
    """

    user_id: str


BeforeSignIn = Callable[[SignInCandidate], Awaitable["Refuse | None"]]
"""``async def hook(candidate) -> Refuse | None``: ``None`` lets the sign-in go on."""

AfterSignIn = Callable[[SignInEvent], Awaitable[None]]
OnReauthNeeded = Callable[[ReauthEvent], Awaitable[None]]
OnSignedOut = Callable[[SignOutEvent], Awaitable[None]]


@dataclass(frozen=True)
class KavachHooks:
    """The app's hooks; leave out the ones it does not need (see the module's table).

    Attributes:
        before_sign_in: may refuse a sign-in by returning [`Refuse`][kavach_fastapi.Refuse].
        user_created: a sign-in created a user.
        signed_in: a sign-in finished (after ``user_created`` for a new user).
        reauth_needed: a grant needs consent again.
        signed_out: a session ended by sign-out.
    """

    before_sign_in: BeforeSignIn | None = None
    user_created: AfterSignIn | None = None
    signed_in: AfterSignIn | None = None
    reauth_needed: OnReauthNeeded | None = None
    signed_out: OnSignedOut | None = None


NO_HOOKS = KavachHooks()
"""No hooks: what an app that gives none gets."""

EventT = TypeVar("EventT")


def describe_failure(exc: BaseException) -> str:
    """How a hook's exception is logged: its type and a short message, never more.

    Tracebacks are left out: their locals and messages may hold what the app's code handled
    (a token in a URL, say); the type and the first 200 characters name the problem.
    """
    text = str(exc).replace("\n", " ")
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


async def notify(
    hook: Callable[[EventT], Awaitable[None]] | None, event: EventT, name: str
) -> bool:
    """Run a hook that cannot change what happened; its exception is logged, not raised.

    Returns:
        ``False`` when the hook raised; ``True`` when it returned, or there is none.
    """
    if hook is None:
        return True
    try:
        await hook(event)
    except Exception as exc:
        logger.error("kavach hook %s failed: %s", name, describe_failure(exc))
        return False
    return True


async def run_after_sign_in(hooks: KavachHooks, event: SignInEvent) -> bool:
    """Run ``user_created`` (for a new user) then ``signed_in``; ``False`` if one raised.

    The failure is logged here; the caller undoes the sign-in.
    """
    steps = [("user_created", hooks.user_created)] if event.new_user else []
    steps.append(("signed_in", hooks.signed_in))
    for name, hook in steps:
        if not await notify(hook, event, name):
            return False
    return True
