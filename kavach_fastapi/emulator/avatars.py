"""Generated SVG avatars: initials on a coloured circle (people) or square (sites)."""

from __future__ import annotations

import hashlib
from html import escape
from urllib.parse import quote

from kavach_fastapi.emulator.config import EmulatedSite, EmulatedUser

__all__ = ["initials", "render_avatar_svg", "site_avatar_url", "user_avatar_url"]

_COLOURS = ("#0052CC", "#00875A", "#FF5630", "#6554C0", "#FF991F", "#00A3BF", "#DE350B")


def initials(name: str) -> str:
    """Return up to two upper-case initials of a name (``"Ada Lovelace"`` -> ``"AL"``)."""
    words = [word for word in name.split() if word[:1].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()


def render_avatar_svg(name: str, seed: str, *, square: bool = False) -> str:
    """Render a 96x96 SVG avatar.

    Args:
        name: Whose initials to show.
        seed: Chooses the colour, so one id always gets the same one.
        square: Draw a rounded square (sites) instead of a circle (people).

    Returns:
        The SVG document.
    """
    colour = _COLOURS[hashlib.sha256(seed.encode()).digest()[0] % len(_COLOURS)]
    shape = (
        f'<rect width="96" height="96" rx="16" fill="{colour}"/>'
        if square
        else f'<circle cx="48" cy="48" r="48" fill="{colour}"/>'
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96"'
        f' role="img" aria-label="{escape(name)}">{shape}'
        '<text x="48" y="48" dy=".35em" text-anchor="middle" fill="#FFFFFF"'
        ' font-family="Helvetica, Arial, sans-serif" font-size="38" font-weight="600">'
        f"{escape(initials(name))}</text></svg>"
    )


def user_avatar_url(user: EmulatedUser, base: str) -> str:
    """Return the absolute URL of a person's avatar, served by the emulator unless set."""
    return user.picture or f"{base}/avatars/{quote(user.account_id, safe=':')}.svg"


def site_avatar_url(site: EmulatedSite, base: str) -> str:
    """Return the absolute URL of a site's avatar, served by the emulator unless set."""
    return site.avatar_url or f"{base}/avatars/sites/{quote(site.id)}.svg"
