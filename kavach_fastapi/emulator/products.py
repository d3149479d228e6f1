"""Atlassian's products, and which product a scope belongs to.

A site runs one or more products. Atlassian's ``accessible-resources`` lists a site once per
product the grant reaches there, each entry carrying only that product's scopes; nothing in the
entry names the product, so the scopes are what tell them apart. This module is the emulator's
own rule for that (the package has its own, and the conformance suite checks both against the
same recorded table).

| scope | product |
| --- | --- |
| classic ``<verb>:jira-<thing>`` (``read:jira-work``, ``manage:jira-project``) | ``jira`` |
| granular ``<verb>:<thing>:jira`` or ``...:jira-software`` (``read:user:jira``) | ``jira`` |
| classic ``<verb>:servicedesk-<thing>``, ``<verb>:servicemanagement-<thing>`` | ``jira-servicedesk`` |
| granular ``<verb>:<thing>:jira-service-management`` | ``jira-servicedesk`` |
| classic ``<verb>:confluence-<thing>``, ``search:confluence`` | ``confluence`` |
| granular ``<verb>:<thing>:confluence`` | ``confluence`` |
| anything else (``read:me``, ``offline_access``, ``report:personal-data``) | none |
"""

from __future__ import annotations

__all__ = ["CONFLUENCE", "JIRA", "JIRA_SERVICE_MANAGEMENT", "PRODUCTS", "product_of_scope"]

JIRA = "jira"
"""Jira (the platform that Jira Software and Jira Work Management run on)."""

JIRA_SERVICE_MANAGEMENT = "jira-servicedesk"
"""Jira Service Management (formerly Jira Service Desk)."""

CONFLUENCE = "confluence"
"""Confluence."""

PRODUCTS = (JIRA, JIRA_SERVICE_MANAGEMENT, CONFLUENCE)
"""The products an emulated site can run."""

# The last part of a granular scope (``read:user:jira``) names its product.
_GRANULAR_SUFFIX = {
    "jira": JIRA,
    "jira-software": JIRA,
    "jira-service-management": JIRA_SERVICE_MANAGEMENT,
    "confluence": CONFLUENCE,
}

# The first word of a classic scope's object (``read:jira-work``) names its product.
_CLASSIC_PREFIX = {
    "jira": JIRA,
    "servicedesk": JIRA_SERVICE_MANAGEMENT,
    "servicemanagement": JIRA_SERVICE_MANAGEMENT,
    "confluence": CONFLUENCE,
}


def product_of_scope(scope: str) -> str | None:
    """Return the product a scope belongs to, or ``None`` for a scope of no product.

    Example:
        >>> [product_of_scope(s) for s in ("read:jira-work", "read:space:confluence", "read:me")]
        ['jira', 'confluence', None]
    """
    parts = scope.split(":")
    if len(parts) >= 3:
        return _GRANULAR_SUFFIX.get(parts[-1])
    if len(parts) == 2:
        return _CLASSIC_PREFIX.get(parts[1].split("-", 1)[0])
    return None
