"""The table of api.atlassian.com endpoints is what the emulator serves and checks."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.emulator.endpoints import API_ENDPOINTS, ApiEndpoint, endpoint, markdown_table
from kavach_fastapi.emulator.state import ENDPOINTS

from .flow import Flow


def test_every_endpoint_of_the_table_is_a_route_and_a_counted_call() -> None:
    app = AtlassianEmulator().app
    routes = {
        (route.name, route.path, method)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
    }

    for entry in API_ENDPOINTS:
        assert (entry.name, entry.route_path, entry.method) in routes
        assert entry.name in ENDPOINTS


def test_a_scope_set_lets_a_call_through_only_when_the_token_holds_all_of_it() -> None:
    myself = endpoint("jira_myself")

    assert myself.accepts(["read:jira-user"])
    assert myself.accepts(
        ["read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"]
    )
    assert not myself.accepts(["read:jira-work"])
    assert not myself.accepts(["read:user:jira", "read:avatar:jira"])
    assert endpoint("accessible_resources").accepts([])
    with pytest.raises(KeyError):
        endpoint("nowhere")


def test_every_product_endpoint_has_a_classic_and_a_granular_scope_set() -> None:
    for entry in API_ENDPOINTS:
        if entry.product is None:
            continue
        assert {rule.kind for rule in entry.scope_sets} == {"classic", "granular"}
        assert entry.path.startswith(f"/ex/{entry.product}/{{cloudid}}/")
        assert entry.source.startswith("https://developer.atlassian.com/")


@pytest.mark.parametrize(
    "entry", [e for e in API_ENDPOINTS if e.scope_sets and e.method == "GET"], ids=lambda e: e.name
)
async def test_each_scope_set_of_the_table_is_enough_and_none_is_refused(
    flow: Flow, entry: ApiEndpoint
) -> None:
    jira, wiki = flow.emu.sites
    site = jira if entry.product == "jira" else wiki
    path = entry.path.replace("{cloudid}", site.id)

    for rule in entry.scope_sets:
        # A fresh grant each time: a second consent would join the earlier scopes.
        flow.emu.revoke_grant(flow.emu.users[0].account_id)
        tokens = await flow.sign_in(scope=" ".join(rule.scopes))
        assert (await flow.get(path, tokens["access_token"])).status_code == 200, rule
    flow.emu.revoke_grant(flow.emu.users[0].account_id)
    refused = await flow.get(path, (await flow.sign_in(scope="offline_access"))["access_token"])
    assert refused.json() == {"code": 401, "message": "Unauthorized; scope does not match"}


async def test_the_home_page_lists_every_endpoint_of_the_table(flow: Flow) -> None:
    page = (await flow.client.get("/")).text

    for entry in API_ENDPOINTS:
        assert f"{entry.method} http://emulator{entry.path}" in page


def test_the_docs_table_shows_every_endpoint_and_each_scope_set() -> None:
    table = markdown_table()

    for entry in API_ENDPOINTS:
        assert f"| `{entry.method} {entry.path}` | `{entry.name}` |" in table
        for rule in entry.scope_sets:
            assert " + ".join(f"`{scope}`" for scope in rule.scopes) in table
