"""What the emulator's routes work with: one `EmulatorContext` per emulator.

The route modules (``authorize``, ``token``, ``api``, ``privacy``) and the app builder take this
small object instead of the [`AtlassianEmulator`][kavach_fastapi.emulator.emulator.AtlassianEmulator] itself, so that
nothing below the emulator class imports it: the emulator is built from its parts, and the parts
never reach back up.
"""

from __future__ import annotations

from dataclasses import dataclass

from kavach_fastapi.emulator.clock import EmulatorClock
from kavach_fastapi.emulator.config import EmulatedClient, EmulatedSite, EmulatedUser, Lifetimes
from kavach_fastapi.emulator.faults import Faults
from kavach_fastapi.emulator.grants import GrantService
from kavach_fastapi.emulator.privacy import PersonalData
from kavach_fastapi.emulator.state import EmulatorState

__all__ = ["EmulatorContext"]


@dataclass
class EmulatorContext:
    """The configuration and the live state one emulator's routes read and change.

    Attributes:
        users: The people who can sign in; the first is the default on the consent page.
        sites: The sites people can grant.
        clients: The registered apps by client id.
        clock: The clock every expiry is measured with.
        lifetimes: How long codes, tokens and grants live.
        faults: The armed faults.
        state: Grants, codes, tokens and call records.
        grants: The OAuth rules, applied to ``state``.
        privacy: The accounts Atlassian's personal-data reporting answers about.
        auto_consent: Whether ``/authorize`` skips the consent page.
    """

    users: list[EmulatedUser]
    sites: list[EmulatedSite]
    clients: dict[str, EmulatedClient]
    clock: EmulatorClock
    lifetimes: Lifetimes
    faults: Faults
    state: EmulatorState
    grants: GrantService
    privacy: PersonalData
    auto_consent: bool = False

    def user(self, account_id: str) -> EmulatedUser | None:
        """The configured person with this account id, if any."""
        return next((user for user in self.users if user.account_id == account_id), None)

    def site(self, cloud_id: str) -> EmulatedSite | None:
        """The configured site with this cloud id, if any."""
        return next((site for site in self.sites if site.id == cloud_id), None)
