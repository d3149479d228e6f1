"""The OAuth 2.0 (3LO) scope names Atlassian publishes, as data, for ``kavach check``.

A scope that is not enabled for the app in the developer console, or that does not exist,
stops the sign-in on Atlassian's own error page at ``/authorize``: the app never gets a
callback to report it on. So ``kavach check`` compares ``ATLASSIAN_SCOPES`` with this list
beforehand. The list is what Atlassian's scope pages named when it was written (`SOURCES`);
Atlassian adds scopes, so a name missing here is a warning to check the spelling against
those pages, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "KNOWN_SCOPES",
    "MAX_RECOMMENDED_SCOPES",
    "SOURCES",
    "scope_warnings",
]

SOURCES = {
    "platform": "https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/",
    "jira": "https://developer.atlassian.com/cloud/jira/platform/scopes-for-oauth-2-3LO-and-forge-apps/",
    "jira-software": "https://developer.atlassian.com/cloud/jira/software/scopes-for-oauth-2-3LO-and-forge-apps/",
    "jira-service-management": "https://developer.atlassian.com/cloud/jira/service-desk/scopes-for-oauth-2-3LO-and-forge-apps/",
    "confluence": "https://developer.atlassian.com/cloud/confluence/scopes-for-oauth-2-3LO-and-forge-apps/",
}
"""Where Atlassian lists the scopes of each family (checked December 2026)."""

MAX_RECOMMENDED_SCOPES = 50
"""Atlassian's scope pages recommend fewer than 50 scopes per app."""

_PLATFORM = ("read:me", "read:account", "offline_access")

_JIRA_CLASSIC = (
    "read:jira-user",
    "read:jira-work",
    "write:jira-work",
    "manage:jira-project",
    "manage:jira-configuration",
    "manage:jira-webhook",
    "manage:jira-data-provider",
)

# The granular scopes of each product, one row a thing: the thing, then the verbs Atlassian
# pairs it with (``read:issue:jira``, ``write:issue:jira``, ...). `_granular` spells them out.
_JIRA_GRANULAR_THINGS = """
application-role        read
attachment              read write delete
audit-log               read
avatar                  read
comment                 read write delete
comment.property        read write delete
dashboard               read write delete
field                   read write delete
field-configuration     read
field.default-value     read
field.option            read
filter                  read write delete
group                   read
issue                   read write delete
issue-details           read
issue-link              read write delete
issue-link-type         read
issue-meta              read
issue-security-level    read
issue-status            read
issue-type              read
issue-type-hierarchy    read
issue-worklog           read write delete
issue-worklog.property  read
issue.changelog         read
issue.property          read write delete
issue.remote-link       read write
issue.time-tracking     read
issue.transition        read
issue.vote              read
issue.watcher           read write
jira-expressions        read
jql                     read validate
label                   read
permission              read
priority                read
project                 read write
project-category        read
project-role            read
project-version         read
project.component       read
project.property        read
resolution              read
screen                  read
status                  read
user                    read
user.property           read
webhook                 read write delete
workflow                read
"""

_JIRA_SOFTWARE_THINGS = """
board-scope        read write
board-scope.admin  read write
build              read write delete
deployment         read write delete
epic               read write
feature-flag       read write delete
issue              read write
remote-link        read write delete
source-code        read write delete
sprint             read write delete
"""

_SERVICE_MANAGEMENT_CLASSIC = (
    "read:servicedesk-request",
    "write:servicedesk-request",
    "manage:servicedesk-customer",
    "read:servicemanagement-insight-objects",
)

_SERVICE_MANAGEMENT_THINGS = """
customer         read write
organization     read write
queue            read
request          read write
request.comment  read write
requesttype      read
servicedesk      read
"""

_CONFLUENCE_CLASSIC = (
    "read:confluence-content.all",
    "read:confluence-content.summary",
    "read:confluence-content.permission",
    "read:confluence-props",
    "read:confluence-space.summary",
    "read:confluence-groups",
    "read:confluence-user",
    "write:confluence-content",
    "write:confluence-file",
    "write:confluence-props",
    "write:confluence-space",
    "write:confluence-groups",
    "readonly:content.attachment:confluence",
    "search:confluence",
    "manage:confluence-configuration",
)

_CONFLUENCE_THINGS = """
analytics.content     read
app-data              read
attachment            read write delete
audit-log             read
blogpost              read write delete
comment               read write delete
configuration         read
content               read write delete
content-details       read
content.metadata      read
content.permission    read
content.property      read write
content.restriction   read
custom-content        read write delete
database              read write delete
embed                 read write delete
folder                read write delete
group                 read
hierarchical-content  read
inlinetask            read
label                 read write
page                  read write delete
permission            read
relation              read
space                 read write delete
space-details         read
space.permission      read
space.property        read write
space.setting         read
task                  read write
template              read
user                  read
user.property         read
watcher               read
whiteboard            read write delete
"""


def _granular(product: str, table: str) -> tuple[str, ...]:
    """The granular scopes ``verb:thing:product`` of a table of rows ``thing verb...``."""
    return tuple(
        f"{verb}:{thing}:{product}"
        for row in table.strip().splitlines()
        for thing, *verbs in [row.split()]
        for verb in verbs
    )


KNOWN_SCOPES: frozenset[str] = frozenset(
    (
        *_PLATFORM,
        *_JIRA_CLASSIC,
        *_granular("jira", _JIRA_GRANULAR_THINGS),
        *_granular("jira-software", _JIRA_SOFTWARE_THINGS),
        *_SERVICE_MANAGEMENT_CLASSIC,
        *_granular("jira-service-management", _SERVICE_MANAGEMENT_THINGS),
        *_CONFLUENCE_CLASSIC,
        *_granular("confluence", _CONFLUENCE_THINGS),
    )
)
"""Every scope name of `SOURCES` this list knows: classic and granular."""

_SHAPE = re.compile(
    r"(read|write|delete|manage|search|validate|readonly|report|storage):[a-z0-9.-]+(:[a-z0-9-]+)?"
)


def scope_warnings(scopes: Iterable[str]) -> list[str]:
    """What ``kavach check`` says about configured scopes that Atlassian may not know.

    A name of no shape Atlassian uses (``verb:thing`` or ``verb:thing:product``, lower
    case) cannot be a scope; one of the right shape that is not in `KNOWN_SCOPES` is
    probably misspelt, or newer than this list.
    """
    scopes = list(dict.fromkeys(scopes))
    warnings = []
    for scope in scopes:
        if scope in KNOWN_SCOPES:
            continue
        if not _SHAPE.fullmatch(scope):
            warnings.append(
                f"ATLASSIAN_SCOPES: {scope!r} is not shaped like any Atlassian scope "
                "(verb:thing or verb:thing:product, lower case). Atlassian would stop the "
                "sign-in on its own error page."
            )
        else:
            warnings.append(
                f"ATLASSIAN_SCOPES: {scope!r} is not an Atlassian scope kavach knows. Check its "
                "spelling on Atlassian's scope pages (see the Atlassian setup docs); a scope "
                "that does not exist, or is not enabled for the app, stops the sign-in on "
                "Atlassian's own error page."
            )
    if len(scopes) > MAX_RECOMMENDED_SCOPES:
        warnings.append(
            f"ATLASSIAN_SCOPES names {len(scopes)} scopes; Atlassian recommends fewer than "
            f"{MAX_RECOMMENDED_SCOPES} (prefer classic scopes, which each cover many granular ones)."
        )
    return warnings
