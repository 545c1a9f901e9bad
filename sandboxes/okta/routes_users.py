"""Users API: list/search, read, groups, roles, factors and lifecycle operations.

Paths whose parameter is ``{id}`` in the spec accept an id, a login or an unambiguous
login short name; ``{userId}`` paths take an id only. Lists are documented at
https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandboxes.okta import errors, lifecycle, render
from sandboxes.okta.auth import require, require_may_act_on
from sandboxes.okta.errors import OktaError
from sandboxes.okta.http import (
    base_url,
    bool_param,
    caller,
    json_response,
    limit_param,
    no_content,
    path_param,
)
from sandboxes.okta.model import User, UserStatus
from sandboxes.okta.pagination import link_headers, page_after
from sandboxes.okta.queries import (
    USER_FILTER,
    USER_SEARCH,
    compile_query,
    user_q_matcher,
    user_resolver,
)
from sandboxes.okta.roles import Permission
from sandboxes.okta.runtime import Runtime
from sandboxes.okta.state import OktaState

USERS_PAGE_MAX = 200
Q_DEFAULT_LIMIT = 10


def _user_or_404(state: OktaState, key: str, *, by_login: bool) -> User:
    user = state.find_user(key) if by_login else state.get_user(key)
    if user is None:
        raise errors.not_found(key, "User")
    return user


def _listed(user: User) -> bool:
    return user.status is not UserStatus.DEPROVISIONED


async def list_users(request: Request) -> Response:
    """``GET /api/v1/users`` with ``search``, ``filter``, ``q``, ``limit`` and ``after``.

    The plain list leaves out ``DEPROVISIONED`` users, as do ``q`` lookups; ``search``
    and ``filter`` include them. ``q`` defaults to 10 results and never pages.
    """
    runtime, principal = caller(request)
    require(principal, Permission.USERS_READ)
    state, params, base = runtime.state, request.query_params, base_url(request)
    search, filter_, query = params.get("search"), params.get("filter"), params.get("q")
    if search is not None and filter_ is not None:
        raise OktaError(errors.SEARCH_AND_FILTER)
    accept: Callable[[User], bool] = _listed
    paged, default = True, USERS_PAGE_MAX
    if search is not None:
        accept = compile_query(search, USER_SEARCH, user_resolver(state))
    elif filter_ is not None:
        accept = compile_query(filter_, USER_FILTER, user_resolver(state))
    elif query is not None:
        matches = user_q_matcher(query)
        accept = lambda user: _listed(user) and matches(user)  # noqa: E731
        paged, default = False, Q_DEFAULT_LIMIT
    limit = limit_param(request, default=default, maximum=USERS_PAGE_MAX)
    page = page_after(
        state.user_ids(),
        state.users.__getitem__,
        after=params.get("after") if paged else None,
        limit=limit,
        accept=accept,
    )
    links = link_headers(
        base,
        "/api/v1/users",
        params.multi_items(),
        next_cursor=page.next_cursor if paged else None,
        limit=limit,
    )
    body = [render.user(state, user, base) for user in page.items]
    return json_response(body, headers=[("Link", link) for link in links])


async def get_user(request: Request) -> Response:
    """``GET /api/v1/users/{idOrLogin}``; ``me`` is the API token's owner."""
    runtime, principal = caller(request)
    key = path_param(request, "id")
    if key == "me":
        if principal.user is None:
            raise errors.not_found(key, "User")
        user = principal.user
    else:
        require(principal, Permission.USERS_READ)
        user = _user_or_404(runtime.state, key, by_login=True)
    return json_response(render.user(runtime.state, user, base_url(request), all_links=True))


async def list_user_groups(request: Request) -> Response:
    """``GET /api/v1/users/{id}/groups``: every group of the user, unpaged."""
    runtime, principal = caller(request)
    require(principal, Permission.USERS_READ)
    user = _user_or_404(runtime.state, path_param(request, "id"), by_login=True)
    base = base_url(request)
    return json_response([render.group(g, base) for g in runtime.state.groups_of(user.id)])


async def list_user_roles(request: Request) -> Response:
    """``GET /api/v1/users/{userId}/roles``: direct and group-inherited admin roles."""
    runtime, principal = caller(request)
    require(principal, Permission.ROLES_READ)
    user = _user_or_404(runtime.state, path_param(request, "userId"), by_login=False)
    base = base_url(request)
    assignments = runtime.state.role_assignments_of(user.id)
    return json_response([render.role_assignment(a, base) for a in assignments])


async def list_factors(request: Request) -> Response:
    """``GET /api/v1/users/{userId}/factors``: the user's enrolled factors."""
    runtime, principal = caller(request)
    require(principal, Permission.USERS_READ)
    user = _user_or_404(runtime.state, path_param(request, "userId"), by_login=False)
    base = base_url(request)
    return json_response([render.factor(f, base) for f in runtime.state.factors_of(user.id)])


async def unenroll_factor(request: Request) -> Response:
    """``DELETE /api/v1/users/{userId}/factors/{factorId}``: 204, or 404 for a missing factor."""
    runtime, principal = caller(request)
    require(principal, Permission.USERS_LIFECYCLE)
    user = _user_or_404(runtime.state, path_param(request, "userId"), by_login=False)
    require_may_act_on(principal, runtime.state, user)
    lifecycle.unenroll_factor(runtime.state, user, path_param(request, "factorId"))
    return no_content()


def _reset_password(request: Request, runtime: Runtime, user: User) -> Response:
    # sendEmail defaults to true as the users API documents; only false returns the link.
    send_email = bool_param(request, "sendEmail", default=True)
    token = lifecycle.reset_password(runtime.state, user)
    if send_email:
        return json_response({})
    return json_response({"resetPasswordUrl": f"{base_url(request)}/reset_password/{token}"})


def _expire_password(request: Request, runtime: Runtime, user: User) -> Response:
    temp = lifecycle.expire_password_with_temp_password(runtime.state, user)
    return json_response({"tempPassword": temp})


def _unlock(request: Request, runtime: Runtime, user: User) -> Response:
    lifecycle.unlock(runtime.state, user)
    return json_response({})


def _suspend(request: Request, runtime: Runtime, user: User) -> Response:
    require(caller(request)[1], Permission.USERS_SUSPEND)
    lifecycle.suspend(runtime.state, user)
    return json_response({})


async def revoke_sessions(request: Request) -> Response:
    """``DELETE /api/v1/users/{userId}/sessions``: 204 (revokeUserSessions)."""
    runtime, principal = caller(request)
    require(principal, Permission.USERS_LIFECYCLE)
    user = _user_or_404(runtime.state, path_param(request, "userId"), by_login=False)
    require_may_act_on(principal, runtime.state, user)
    lifecycle.revoke_sessions(runtime.state, user)
    return no_content()


def _reset_factors(request: Request, runtime: Runtime, user: User) -> Response:
    lifecycle.reset_factors(runtime.state, user)
    return json_response({})


# Lifecycle operations answer 200 with an empty JSON object unless they return data,
# as the users API reference states ("Returns an empty object").
_LIFECYCLE: dict[str, Callable[[Request, Runtime, User], Response]] = {
    "reset_password": _reset_password,
    "expire_password_with_temp_password": _expire_password,
    "unlock": _unlock,
    "reset_factors": _reset_factors,
    "suspend": _suspend,
}


async def user_lifecycle(request: Request) -> Response:
    """``POST /api/v1/users/{id}/lifecycle/{operation}`` for the helpdesk operations."""
    operation = _LIFECYCLE.get(path_param(request, "operation"))
    if operation is None:
        raise OktaError(errors.PATH_NOT_FOUND)
    runtime, principal = caller(request)
    require(principal, Permission.USERS_LIFECYCLE)
    user = _user_or_404(runtime.state, path_param(request, "id"), by_login=True)
    require_may_act_on(principal, runtime.state, user)
    return operation(request, runtime, user)


ROUTES = [
    Route("/api/v1/users", list_users, methods=["GET"]),
    Route("/api/v1/users/{id}", get_user, methods=["GET"]),
    Route("/api/v1/users/{id}/groups", list_user_groups, methods=["GET"]),
    Route("/api/v1/users/{userId}/roles", list_user_roles, methods=["GET"]),
    Route("/api/v1/users/{userId}/factors", list_factors, methods=["GET"]),
    Route("/api/v1/users/{userId}/factors/{factorId}", unenroll_factor, methods=["DELETE"]),
    Route("/api/v1/users/{id}/lifecycle/{operation}", user_lifecycle, methods=["POST"]),
    Route("/api/v1/users/{userId}/sessions", revoke_sessions, methods=["DELETE"]),
]
