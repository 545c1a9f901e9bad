"""Groups API: list/search, read, members, and idempotent membership changes.

See https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Group/.
Adding a member who already is one, or removing one who isn't, is still a 204.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandboxes.okta import errors, render
from sandboxes.okta.auth import require, require_may_change_membership
from sandboxes.okta.errors import OktaError
from sandboxes.okta.http import base_url, caller, json_response, limit_param, no_content, path_param
from sandboxes.okta.model import Group, User
from sandboxes.okta.pagination import link_headers, page_after
from sandboxes.okta.queries import (
    GROUP_FILTER,
    GROUP_SEARCH,
    compile_query,
    group_q_matcher,
    resolve_group,
)
from sandboxes.okta.roles import Permission
from sandboxes.okta.runtime import Runtime

GROUPS_PAGE_MAX = 10_000
GROUPS_Q_DEFAULT = 300
MEMBERS_PAGE_DEFAULT = 1000
MEMBERS_PAGE_MAX = 1000


def _group_or_404(runtime: Runtime, group_id: str) -> Group:
    group = runtime.state.get_group(group_id)
    if group is None:
        raise errors.not_found(group_id, "UserGroup")
    return group


async def list_groups(request: Request) -> Response:
    """``GET /api/v1/groups`` with ``search``, ``filter``, or ``q`` (name prefix, unpaged)."""
    runtime, principal = caller(request)
    require(principal, Permission.GROUPS_READ)
    state, params, base = runtime.state, request.query_params, base_url(request)
    search, filter_, query = params.get("search"), params.get("filter"), params.get("q")
    if search is not None and filter_ is not None:
        raise OktaError(errors.SEARCH_AND_FILTER)
    accept: Callable[[Group], bool] | None = None
    paged, default = True, GROUPS_PAGE_MAX
    if search is not None:
        accept = compile_query(search, GROUP_SEARCH, resolve_group)
    elif filter_ is not None:
        accept = compile_query(filter_, GROUP_FILTER, resolve_group)
    elif query is not None:
        accept, paged, default = group_q_matcher(query), False, GROUPS_Q_DEFAULT
    limit = limit_param(request, default=default, maximum=GROUPS_PAGE_MAX)
    page = page_after(
        state.group_ids(),
        state.groups.__getitem__,
        after=params.get("after") if paged else None,
        limit=limit,
        accept=accept,
    )
    links = link_headers(
        base,
        "/api/v1/groups",
        params.multi_items(),
        next_cursor=page.next_cursor if paged else None,
        limit=limit,
    )
    body = [render.group(group, base) for group in page.items]
    return json_response(body, headers=[("Link", link) for link in links])


async def get_group(request: Request) -> Response:
    """``GET /api/v1/groups/{groupId}``."""
    runtime, principal = caller(request)
    require(principal, Permission.GROUPS_READ)
    group = _group_or_404(runtime, path_param(request, "groupId"))
    return json_response(render.group(group, base_url(request)))


async def list_group_users(request: Request) -> Response:
    """``GET /api/v1/groups/{groupId}/users``, paged by ``limit`` and ``after``."""
    runtime, principal = caller(request)
    require(principal, Permission.GROUPS_READ)
    group = _group_or_404(runtime, path_param(request, "groupId"))
    state, base = runtime.state, base_url(request)
    limit = limit_param(request, default=MEMBERS_PAGE_DEFAULT, maximum=MEMBERS_PAGE_MAX)
    page = page_after(
        state.member_ids(group.id),
        state.users.__getitem__,
        after=request.query_params.get("after"),
        limit=limit,
    )
    links = link_headers(
        base,
        f"/api/v1/groups/{group.id}/users",
        request.query_params.multi_items(),
        next_cursor=page.next_cursor,
        limit=limit,
    )
    body = [render.user(state, user, base) for user in page.items]
    return json_response(body, headers=[("Link", link) for link in links])


def _membership_target(request: Request) -> tuple[Runtime, Group, User]:
    runtime, principal = caller(request)
    require(principal, Permission.GROUP_MEMBERSHIP)
    group = _group_or_404(runtime, path_param(request, "groupId"))
    user_id = path_param(request, "userId")
    user = runtime.state.get_user(user_id)
    if user is None:
        raise errors.not_found(user_id, "User")
    require_may_change_membership(principal, runtime.state, group)
    return runtime, group, user


async def assign_user(request: Request) -> Response:
    """``PUT /api/v1/groups/{groupId}/users/{userId}``: 204 whether or not already a member."""
    runtime, group, user = _membership_target(request)
    runtime.state.add_member(group.id, user.id)
    return no_content()


async def unassign_user(request: Request) -> Response:
    """``DELETE /api/v1/groups/{groupId}/users/{userId}``: 204 whether or not a member."""
    runtime, group, user = _membership_target(request)
    runtime.state.remove_member(group.id, user.id)
    return no_content()


ROUTES = [
    Route("/api/v1/groups", list_groups, methods=["GET"]),
    Route("/api/v1/groups/{groupId}", get_group, methods=["GET"]),
    Route("/api/v1/groups/{groupId}/users", list_group_users, methods=["GET"]),
    Route("/api/v1/groups/{groupId}/users/{userId}", assign_user, methods=["PUT"]),
    Route("/api/v1/groups/{groupId}/users/{userId}", unassign_user, methods=["DELETE"]),
]
