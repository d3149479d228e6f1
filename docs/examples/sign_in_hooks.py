"""Hooks: only the company's verified addresses sign in; newcomers and sign-ins are recorded."""

from kavach_fastapi import (
    KavachHooks,
    ReauthEvent,
    Refuse,
    SignInCandidate,
    SignInEvent,
    SignOutEvent,
)

COMPANY_DOMAIN = "@example.com"

audit: list[str] = []
"""Stands in for your own table, queue or log."""


async def only_company_accounts(candidate: SignInCandidate) -> Refuse | None:
    email = candidate.profile.email
    if email is None or not candidate.profile.email_verified:
        return Refuse(
            "no_verified_email", "Share a verified email address to sign in."
        )
    if not email.endswith(COMPANY_DOMAIN):
        return Refuse("not_staff", "This tool is for Example staff.")
    return None


async def welcome(event: SignInEvent) -> None:
    audit.append(f"welcome {event.user.name}")


async def record_sign_in(event: SignInEvent) -> None:
    audit.append(f"sign-in {event.user.email} new={event.new_user}")


async def ask_to_reconnect(event: ReauthEvent) -> None:
    audit.append(f"reconnect {event.user_id}: {event.reason}")


async def record_sign_out(event: SignOutEvent) -> None:
    audit.append(f"sign-out {event.user_id}")


hooks = KavachHooks(
    before_sign_in=only_company_accounts,
    user_created=welcome,
    signed_in=record_sign_in,
    reauth_needed=ask_to_reconnect,
    signed_out=record_sign_out,
)
