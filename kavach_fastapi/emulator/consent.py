"""The HTML the emulator shows people: the consent page and the error page.

Self-contained pages (inline CSS, images served by the emulator itself), with stable
element ids and input names for browser tests: ``#accept`` and ``#decline`` buttons,
``account_id`` radio inputs and ``site_id`` checkboxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from kavach_fastapi.emulator.products import (
    CONFLUENCE,
    JIRA,
    JIRA_SERVICE_MANAGEMENT,
    product_of_scope,
)

__all__ = [
    "ConsentAccount",
    "ConsentSite",
    "describe_scope",
    "render_consent_page",
    "render_error_page",
    "render_index_page",
]

_PRODUCT_NAMES = {
    JIRA: "Jira",
    JIRA_SERVICE_MANAGEMENT: "Jira Service Management",
    CONFLUENCE: "Confluence",
}

_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "Atlassian account": {
        "read:me": "View your profile: name, email address and avatar",
        "read:account": "View your account details",
        "offline_access": "Keep access to what you allow here when you are not using the app",
    },
    _PRODUCT_NAMES[JIRA]: {
        "read:jira-user": "View user information in Jira that you can see, including names and "
        "avatars",
        "read:jira-work": "Read Jira project and issue data, search for issues, and view "
        "attachments",
        "write:jira-work": "Create and edit issues, post comments as you and log work",
        "manage:jira-project": "Create and edit project settings and components",
        "manage:jira-configuration": "Configure Jira settings that need admin rights",
    },
    _PRODUCT_NAMES[CONFLUENCE]: {
        "read:confluence-user": "View user information in Confluence",
        "read:confluence-content.summary": "Read a summary of Confluence content",
        "read:confluence-content.all": "Read all Confluence content you can see",
        "read:confluence-space.summary": "Read a summary of Confluence spaces",
        "write:confluence-content": "Create and edit pages, blog posts and comments",
        "search:confluence": "Search Confluence content and space summaries",
    },
    _PRODUCT_NAMES[JIRA_SERVICE_MANAGEMENT]: {
        "read:servicedesk-request": "View service desks, request types and the requests you "
        "can see",
        "write:servicedesk-request": "Create and edit requests, and comment on them as you",
        "manage:servicedesk-customer": "Manage the customers and organizations of service desks",
    },
}
"""What the consent page says of the scopes it knows, under the heading it shows them in."""

_SCOPES = {
    scope: (heading, text)
    for heading, descriptions in _DESCRIPTIONS.items()
    for scope, text in descriptions.items()
}


def describe_scope(scope: str) -> tuple[str, str]:
    """Return ``(product, description)`` for a scope, as the consent page shows it."""
    known = _SCOPES.get(scope)
    if known is not None:
        return known
    product = _PRODUCT_NAMES.get(product_of_scope(scope) or "", "Other")
    return product, f"Use the {scope} permission"


@dataclass(frozen=True)
class ConsentAccount:
    """An account the person can sign in as, as the page shows it."""

    account_id: str
    name: str
    email: str | None
    avatar_url: str


@dataclass(frozen=True)
class ConsentSite:
    """A site the person can grant, as the page shows it."""

    id: str
    name: str
    url: str
    avatar_url: str


_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,
 "Helvetica Neue",Arial,sans-serif;color:#172b4d;background:#f4f5f7}
.banner{background:#fff7d6;color:#7f5f01;text-align:center;font-size:13px;padding:6px 12px}
main{max-width:520px;margin:40px auto;padding:0 16px}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 2px rgba(9,30,66,.25),
 0 0 1px rgba(9,30,66,.31);padding:32px}
.brand{display:flex;align-items:center;gap:10px;color:#0052cc;font-weight:600;
 font-size:18px;margin-bottom:24px}
.logo{width:28px;height:28px;border-radius:6px;background:linear-gradient(135deg,#0052cc,
 #2684ff);display:inline-block}
h1{font-size:22px;margin:0 0 8px}
h2{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#5e6c84;
 margin:24px 0 8px}
p.lead{color:#42526e;margin:0}
fieldset{border:0;margin:0;padding:0}
label.option{display:flex;align-items:center;gap:12px;padding:10px 12px;border:2px solid
 #dfe1e6;border-radius:6px;margin-bottom:8px;cursor:pointer}
label.option:has(input:checked){border-color:#4c9aff;background:#deebff}
label.option img{width:32px;height:32px;border-radius:50%}
label.option img.site{border-radius:6px}
.who{display:flex;flex-direction:column}
.muted{color:#6b778c;font-size:13px}
ul.scopes{list-style:none;margin:0;padding:0}
ul.scopes li{padding:6px 0 6px 24px;position:relative}
ul.scopes li::before{content:"\\2713";position:absolute;left:2px;color:#00875a;font-weight:700}
ul.scopes code{font-size:12px;color:#6b778c}
.product{font-weight:600;margin-top:8px}
.actions{display:flex;justify-content:flex-end;gap:8px;margin-top:28px}
button{font:inherit;font-weight:500;border:0;border-radius:4px;padding:8px 16px;
 cursor:pointer}
#accept{background:#0052cc;color:#fff}#accept:hover{background:#0065ff}
#decline{background:#f4f5f7;color:#42526e}#decline:hover{background:#ebecf0}
.error h1{color:#bf2600}
footer{text-align:center;color:#6b778c;font-size:12px;margin-top:16px}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        '<div class="banner">Atlassian emulator for development and tests'
        " &middot; not the real Atlassian</div>"
        f'<main><div class="card">'
        '<div class="brand"><span class="logo" aria-hidden="true"></span>Atlassian</div>'
        f"{body}</div><footer>kavach-fastapi emulator</footer></main></body></html>\n"
    )


def render_consent_page(
    *,
    app_name: str,
    scopes: Sequence[str],
    accounts: Sequence[ConsentAccount],
    sites: Sequence[ConsentSite],
    consent_id: str,
    action_url: str,
) -> str:
    """Render the consent page.

    Args:
        app_name: The requesting app's name.
        scopes: The requested scopes.
        accounts: The accounts to choose from; the first is selected.
        sites: The sites to grant; all are checked.
        consent_id: The server-side id of the pending consent.
        action_url: Where the form posts (``/authorize/decision``).

    Returns:
        The HTML document.
    """
    account_items = "".join(
        '<label class="option">'
        f'<input type="radio" name="account_id" value="{escape(account.account_id)}"'
        f' id="account-{index}"{" checked" if index == 0 else ""}>'
        f'<img src="{escape(account.avatar_url)}" alt="">'
        f'<span class="who"><strong>{escape(account.name)}</strong>'
        f'<span class="muted">{escape(account.email or "email hidden")}</span></span></label>'
        for index, account in enumerate(accounts)
    )
    site_items = (
        "".join(
            '<label class="option">'
            f'<input type="checkbox" name="site_id" value="{escape(site.id)}"'
            f' id="site-{index}" checked>'
            f'<img class="site" src="{escape(site.avatar_url)}" alt="">'
            f'<span class="who"><strong>{escape(site.name)}</strong>'
            f'<span class="muted">{escape(site.url)}</span></span></label>'
            for index, site in enumerate(sites)
        )
        or '<p class="muted">You have no sites to grant.</p>'
    )
    groups: dict[str, list[str]] = {}
    for scope in scopes:
        product, description = describe_scope(scope)
        groups.setdefault(product, []).append(
            f"<li>{escape(description)} <code>{escape(scope)}</code></li>"
        )
    scope_items = "".join(
        f'<div class="product">{escape(product)}</div><ul class="scopes">{"".join(items)}</ul>'
        for product, items in groups.items()
    )
    body = (
        f'<h1><span id="app-name">{escape(app_name)}</span> is requesting access'
        " to your Atlassian account</h1>"
        '<p class="lead">Check what it will be able to do before you accept.</p>'
        f'<form method="post" action="{escape(action_url)}">'
        f'<input type="hidden" name="consent_id" value="{escape(consent_id)}">'
        f'<h2>Sign in as</h2><fieldset id="accounts">{account_items}</fieldset>'
        f'<h2>Use app on</h2><fieldset id="sites">{site_items}</fieldset>'
        f'<h2>{escape(app_name)} will be able to</h2><div id="scopes">{scope_items}</div>'
        '<div class="actions">'
        '<button type="submit" id="decline" name="decision" value="decline">Decline</button>'
        '<button type="submit" id="accept" name="decision" value="accept">Accept</button>'
        "</div></form>"
    )
    return _page(f"{app_name} wants access to your Atlassian account", body)


def render_error_page(title: str, message: str) -> str:
    """Render Atlassian's own error page, shown instead of redirecting to the app."""
    body = (
        f'<div class="error"><h1 id="error-title">{escape(title)}</h1>'
        f'<p class="lead" id="error-message">{escape(message)}</p></div>'
    )
    return _page(title, body)


def render_index_page(
    base: str, app_names: Sequence[str], endpoints: Sequence[tuple[str, str]]
) -> str:
    """Render the emulator's home page: what it is and where its endpoints are.

    Args:
        base: The emulator's base URL.
        app_names: The registered apps' names.
        endpoints: ``(method, path)`` of every endpoint.
    """
    items = "".join(
        f"<li><code>{escape(method)} {escape(base + path)}</code></li>"
        for method, path in endpoints
    )
    apps = ", ".join(escape(name) for name in app_names) or "none"
    body = (
        "<h1>The Atlassian emulator is running</h1>"
        '<p class="lead">It plays both auth.atlassian.com and api.atlassian.com at this'
        f" address. Registered apps: {apps}.</p>"
        f'<h2>Endpoints</h2><ul class="scopes">{items}</ul>'
    )
    return _page("Atlassian emulator", body)
