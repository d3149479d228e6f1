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

_JIRA_GRANULAR_THINGS = {
    "read": (
        "application-role",
        "attachment",
        "audit-log",
        "avatar",
        "comment",
        "comment.property",
        "dashboard",
        "field",
        "field-configuration",
        "field.default-value",
        "field.option",
        "filter",
        "group",
        "issue",
        "issue-details",
        "issue-link",
        "issue-link-type",
        "issue-meta",
        "issue-security-level",
        "issue-status",
        "issue-type",
        "issue-type-hierarchy",
        "issue-worklog",
        "issue-worklog.property",
        "issue.changelog",
        "issue.property",
        "issue.remote-link",
        "issue.time-tracking",
        "issue.transition",
        "issue.vote",
        "issue.watcher",
        "jira-expressions",
        "jql",
        "label",
        "permission",
        "priority",
        "project",
        "project-category",
        "project-role",
        "project-version",
        "project.component",
        "project.property",
        "resolution",
        "screen",
        "status",
        "user",
        "user.property",
        "webhook",
        "workflow",
    ),
    "write": (
        "attachment",
        "comment",
        "comment.property",
        "dashboard",
        "field",
        "filter",
        "issue",
        "issue-link",
        "issue-worklog",
        "issue.property",
        "issue.remote-link",
        "issue.watcher",
        "project",
        "webhook",
    ),
    "delete": (
        "attachment",
        "comment",
        "comment.property",
        "dashboard",
        "field",
        "filter",
        "issue",
        "issue-link",
        "issue-worklog",
        "issue.property",
        "webhook",
    ),
    "validate": ("jql",),
}

_JIRA_SOFTWARE_THINGS = {
    "read": (
        "board-scope",
        "board-scope.admin",
        "build",
        "deployment",
        "epic",
        "feature-flag",
        "issue",
        "remote-link",
        "source-code",
        "sprint",
    ),
    "write": (
        "board-scope",
        "board-scope.admin",
        "build",
        "deployment",
        "epic",
        "feature-flag",
        "issue",
        "remote-link",
        "source-code",
        "sprint",
    ),
    "delete": ("build", "deployment", "feature-flag", "remote-link", "source-code", "sprint"),
}

_SERVICE_MANAGEMENT_CLASSIC = (
    "read:servicedesk-request",
    "write:servicedesk-request",
    "manage:servicedesk-customer",
    "read:servicemanagement-insight-objects",
)

_SERVICE_MANAGEMENT_THINGS = {
    "read": (
        "customer",
        "organization",
        "queue",
        "request",
        "request.comment",
        "requesttype",
        "servicedesk",
    ),
    "write": ("customer", "organization", "request", "request.comment"),
}

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

_CONFLUENCE_THINGS = {
    "read": (
        "analytics.content",
        "app-data",
        "attachment",
        "audit-log",
        "blogpost",
        "comment",
        "configuration",
        "content",
        "content-details",
        "content.metadata",
        "content.permission",
        "content.property",
        "content.restriction",
        "custom-content",
        "database",
        "embed",
        "folder",
        "group",
        "hierarchical-content",
        "inlinetask",
        "label",
        "page",
        "permission",
        "relation",
        "space",
        "space-details",
        "space.permission",
        "space.property",
        "space.setting",
        "task",
        "template",
        "user",
        "user.property",
        "watcher",
        "whiteboard",
    ),
    "write": (
        "attachment",
        "blogpost",
        "comment",
        "content",
        "content.property",
        "custom-content",
        "database",
        "embed",
        "folder",
        "label",
        "page",
        "space",
        "space.property",
        "task",
        "whiteboard",
    ),
    "delete": (
        "attachment",
        "blogpost",
        "comment",
        "content",
        "custom-content",
        "database",
        "embed",
        "folder",
        "page",
        "space",
        "whiteboard",
    ),
}


def _granular(product: str, things: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(f"{verb}:{thing}:{product}" for verb, names in things.items() for thing in names)


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
