"""The api.atlassian.com half: the routes of `API_ENDPOINTS`.

Every endpoint needs a live Bearer access token. A missing, unknown, expired or revoked token
answers ``401 {"code": 401, "message": "Unauthorized"}``. For the endpoints of a site
(``/ex/{product}/{cloudid}/...``), an unknown cloud id answers ``404``, and a site the grant
does not reach, or that does not run the product, answers ``401 ... "Unauthorized; scope does
not match"``, as does a token that holds none of the endpoint's scope sets.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kavach_fastapi.emulator.config import EmulatedSite, EmulatedUser
from kavach_fastapi.emulator.context import EmulatorContext
from kavach_fastapi.emulator.endpoints import API_ENDPOINTS, ApiEndpoint
from kavach_fastapi.emulator.privacy import ReportError
from kavach_fastapi.emulator.shapes import (
    DEFAULT_SPACES_LIMIT,
    MAX_SPACES_LIMIT,
    confluence_current_user,
    confluence_spaces,
    jira_myself,
    profile,
    site_entries,
)
from kavach_fastapi.emulator.state import AccessToken, Grant
from kavach_fastapi.emulator.web import (
    BodyError,
    api_error,
    apply_faults,
    base_url,
    bearer_token,
    read_fields,
    record,
)

__all__ = ["Caller", "api_routes"]

_SCOPE_MISMATCH = "Unauthorized; scope does not match"
_UNAUTHORISED_SITE_MESSAGES = {401: "Unauthorized", 403: "Forbidden"}


@dataclass(frozen=True)
class Caller:
    """Who a request that passed every check comes from, and the site it is about."""

    access: AccessToken
    grant: Grant
    user: EmulatedUser
    site: EmulatedSite | None


Handler = Callable[[Request, Caller], Awaitable[Response]]
SiteHandler = Callable[[Request, Caller, EmulatedSite], Awaitable[Response]]


def api_routes(context: EmulatorContext) -> list[Route]:
    """Return the api.atlassian.com routes, bound to one emulator's context."""

    async def me(request: Request, caller: Caller) -> Response:
        return JSONResponse(profile(caller.user, base_url(request)))

    async def accessible_resources(request: Request, caller: Caller) -> Response:
        base = base_url(request)
        scopes = caller.access.scopes
        granted = [context.site(site_id) for site_id in caller.grant.site_ids]
        resources = [
            entry
            for site in granted
            if site is not None
            for entry in site_entries(site, scopes, base)
        ]
        for fault in context.faults.take(
            ("accessible_resources",), frozenset({"unauthorised_site"})
        ):
            for site in context.sites:
                if site.id in caller.grant.site_ids:
                    continue
                with context.state.lock:
                    caller.grant.unauthorised_sites[site.id] = fault.status
                resources.extend(site_entries(site, scopes, base))
        return JSONResponse(resources)

    async def jira(request: Request, caller: Caller, site: EmulatedSite) -> Response:
        return JSONResponse(jira_myself(caller.user, site, base_url(request)))

    async def confluence_user(_request: Request, caller: Caller, site: EmulatedSite) -> Response:
        return JSONResponse(confluence_current_user(caller.user, site))

    async def spaces(request: Request, caller: Caller, site: EmulatedSite) -> Response:
        limit = _int_param(request, "limit", DEFAULT_SPACES_LIMIT)
        start = _int_param(request, "cursor", 0)
        if limit is None or not 1 <= limit <= MAX_SPACES_LIMIT or start is None or start < 0:
            return api_error(400, f"limit must be 1 to {MAX_SPACES_LIMIT}; cursor must be valid")
        body = confluence_spaces(site, caller.user, limit=limit, start=start)
        links = body["_links"]
        following = links.get("next") if isinstance(links, dict) else None
        headers = {"Link": f'<{following}>; rel="next"'} if following else {}
        return JSONResponse(body, headers=headers)

    async def report_accounts(request: Request, _caller: Caller) -> Response:
        headers = {"Cycle-Period": context.privacy.cycle_period}
        try:
            answer = context.privacy.report(json.loads(await request.body() or b"null"))
        except ValueError:
            return api_error(400, "The body is not valid JSON")
        except ReportError as exc:
            return JSONResponse(
                {"code": exc.status, "message": exc.message},
                status_code=exc.status,
                headers=headers,
            )
        if not answer:
            return Response(status_code=204, headers=headers)
        accounts = [{"accountId": account, "status": status} for account, status in answer]
        return JSONResponse({"accounts": accounts}, headers=headers)

    handlers: dict[str, Handler] = {
        "me": me,
        "accessible_resources": accessible_resources,
        "jira_myself": _on_site(jira),
        "confluence_current_user": _on_site(confluence_user),
        "confluence_spaces": _on_site(spaces),
        "report_accounts": report_accounts,
    }
    return [
        Route(
            endpoint.route_path,
            _guarded(context, endpoint, handlers[endpoint.name]),
            methods=[endpoint.method],
            name=endpoint.name,
        )
        for endpoint in API_ENDPOINTS
    ]


def _on_site(handler: SiteHandler) -> Handler:
    """Adapt the handler of a product endpoint, whose caller always comes with its site."""

    async def call(request: Request, caller: Caller) -> Response:
        if caller.site is None:
            return api_error(404, "Not Found")
        return await handler(request, caller, caller.site)

    return call


def _guarded(
    context: EmulatorContext, endpoint: ApiEndpoint, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler in the checks every call goes through, in Atlassian's order."""

    async def route(request: Request) -> Response:
        try:
            fields = await read_fields(request) if request.method == "POST" else {}
        except BodyError:
            fields = {}
        record(context.state, (endpoint.name,), request, fields)
        if endpoint.product is not None:
            context.state.record_site_call(str(request.path_params.get("cloud_id", "")))
        faulted = await apply_faults(context.faults, (endpoint.name,), "api", context.clock)
        if faulted is not None:
            return faulted
        found = _caller(context, endpoint, request)
        if isinstance(found, Response):
            return found
        return await handler(request, found)

    return route


def _caller(context: EmulatorContext, endpoint: ApiEndpoint, request: Request) -> Caller | Response:
    token = bearer_token(request)
    found = context.grants.authenticate(token) if token is not None else None
    if found is None:
        return api_error(401, "Unauthorized")
    access, grant = found
    user = context.user(grant.account_id)
    if user is None:
        return api_error(401, "Unauthorized")
    site = None
    if endpoint.product is not None:
        site = context.site(request.path_params["cloud_id"])
        if site is None:
            return api_error(404, "Not Found")
        if site.id not in grant.site_ids:
            status = grant.unauthorised_sites.get(site.id)
            if status is not None:
                return api_error(status, _UNAUTHORISED_SITE_MESSAGES[status])
            return api_error(401, _SCOPE_MISMATCH)
        if endpoint.product not in site.products:
            return api_error(401, _SCOPE_MISMATCH)
    if not endpoint.accepts(access.scopes):
        return api_error(401, _SCOPE_MISMATCH)
    return Caller(access, grant, user, site)


def _int_param(request: Request, name: str, default: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        return None
