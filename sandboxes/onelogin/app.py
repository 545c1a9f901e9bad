"""The OneLogin-compatible HTTP API: the endpoints the connector uses, answered like OneLogin.

Every route runs the same pipeline: record the request (path, query and JSON body
keys only), apply an armed fault, check the bearer token (401), spend the account's
rate limit (429), run the handler, and add ``X-RateLimit-*`` headers to the answer.

Errors use OneLogin's shapes: API v2 answers ``{"statusCode", "name", "message"}``,
API v1 and the token endpoint ``{"status": {"error", "code", "type", "message"}}``
(the v1 privileges endpoints answer in the v2 shape, as OneLogin documents them).

Routes::

    POST   /auth/oauth2/v2/token                     client credentials -> bearer token
    GET    /auth/rate_limit                          the account's current budget
    GET    /api/2/users                              filters, wildcards (*), !negation, paging
    GET    /api/2/users/{id}       PUT same          read / update (password, status, ...)
    POST   /api/2/users/{id}/unlock
    PUT    /api/1/users/{id}/lock_user
    PUT    /api/1/users/{id}/logout                 ends the user's OneLogin session
    PUT    /api/1/users/set_password_clear_text/{id}
    GET    /api/2/roles            GET /api/2/roles/{id}
    GET    /api/2/roles/{id}/users POST and DELETE same (body: JSON array of user ids)
    GET    /api/2/mfa/users/{id}/devices
    DELETE /api/2/mfa/users/{id}/devices/{device_id}
    POST   /api/2/mfa/users/{id}/verifications  a OneLogin Protect push (``push.py``)
    GET    /api/2/mfa/users/{id}/verifications/{verification_id}
    GET    /api/2/policies/{id}
    GET    /api/1/privileges       GET /api/1/privileges/{id}/users, .../roles
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandboxes.onelogin.clock import Clock, format_ts
from sandboxes.onelogin.push import DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, Verification
from sandboxes.onelogin.runtime import RateLimiter, RecordedRequest, Runtime, TokenStore
from sandboxes.onelogin.state import (
    STATUS_LOCKED,
    VALID_STATES,
    VALID_STATUSES,
    OneLoginState,
    SandboxDevice,
    SandboxRole,
    SandboxUser,
)

Handler = Callable[[Request, Runtime], Awaitable[Response]]
T = TypeVar("T")

V2_NAMES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "TooManyRequestsError",
    500: "InternalServerError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}
V1_TYPES = {
    400: "bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "not found",
    422: "unprocessable entity",
    429: "too many requests",
}
DEFAULT_MESSAGES = {
    400: "The request could not be understood by the server due to malformed syntax",
    401: "Unauthorized",
    403: "Forbidden",
    404: "The resource with the given id could not be found",
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
USER_UPDATE_FIELDS = frozenset(
    {
        "email",
        "username",
        "firstname",
        "lastname",
        "title",
        "department",
        "company",
        "comment",
        "phone",
        "status",
        "state",
        "group_id",
        "password",
        "password_confirmation",
    }
)
_BEARER = re.compile(r"^\s*bearer\s*:?\s*(\S+)\s*$", re.IGNORECASE)
_CLIENT_HEADER = re.compile(
    r"client_id\s*:\s*([^,\s]+)\s*,\s*client_secret\s*:\s*(\S+)", re.IGNORECASE
)
_SPECIALS = set("!@#€%&.,$+§/()=*;:_-")


class ApiError(Exception):
    """An error answer from a handler; ``body`` overrides the standard shape."""

    def __init__(self, status: int, message: str | None = None, body: Any = None) -> None:
        super().__init__(message or DEFAULT_MESSAGES.get(status, "Error"))
        self.status = status
        self.message = message or DEFAULT_MESSAGES.get(status, "Error")
        self.body = body


# -- error shapes ----------------------------------------------------------------
def v2_error(status: int, message: str | None = None) -> JSONResponse:
    text = message or DEFAULT_MESSAGES.get(status, "Error")
    name = V2_NAMES.get(status, "Error")
    return JSONResponse({"statusCode": status, "name": name, "message": text}, status)


def v1_error(status: int, message: str | None = None) -> JSONResponse:
    body = {
        "status": {
            "error": True,
            "code": status,
            "type": V1_TYPES.get(status, "error"),
            "message": message or DEFAULT_MESSAGES.get(status, "Error"),
        }
    }
    return JSONResponse(body, status)


def error_for(path: str, status: int, message: str | None = None) -> JSONResponse:
    """The error shape OneLogin uses on ``path``."""
    v1 = path.startswith("/auth/") or (
        path.startswith("/api/1/") and not path.startswith("/api/1/privileges")
    )
    return v1_error(status, message) if v1 else v2_error(status, message)


def v1_success() -> JSONResponse:
    return JSONResponse(
        {"status": {"type": "success", "code": 200, "message": "Success", "error": False}}
    )


# -- the pipeline ------------------------------------------------------------------
def endpoint(handler: Handler, *, authenticated: bool = True, counted: bool = True) -> Any:
    """Wrap ``handler`` in the recording, fault, auth and rate-limit pipeline."""

    async def run(request: Request) -> Response:
        rt: Runtime = request.app.state.onelogin
        response = await _pipeline(request, rt, handler, authenticated, counted)
        rt.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.url.path,
                query=tuple(request.query_params.multi_items()),
                status=response.status_code,
                body_keys=tuple(getattr(request.state, "body_keys", ())),
            )
        )
        return response

    return run


async def _pipeline(
    request: Request, rt: Runtime, handler: Handler, authenticated: bool, counted: bool
) -> Response:
    path = request.url.path
    fault = rt.faults.take(request.method, path)
    if fault is not None and not fault.after_processing:
        if fault.hang_seconds > 0:
            await asyncio.sleep(fault.hang_seconds)
        if fault.status is not None:
            return error_for(path, fault.status)
    if authenticated:
        match = _BEARER.match(request.headers.get("authorization", ""))
        if match is None or not rt.tokens.valid(match.group(1)):
            return error_for(path, 401, "Authentication Failure" if "/api/1/" in path else None)
    if counted and not rt.limiter.take():
        response: Response = error_for(path, 429)
        response.headers.update(rt.limiter.headers())
        return response
    try:
        response = await handler(request, rt)
    except ApiError as exc:
        if exc.body is not None:
            response = JSONResponse(exc.body, exc.status)
        else:
            response = error_for(path, exc.status, exc.message)
    if fault is not None and fault.after_processing:
        if fault.hang_seconds > 0:
            await asyncio.sleep(fault.hang_seconds)
        if fault.status is not None:
            response = error_for(path, fault.status)
    if counted:
        response.headers.update(rt.limiter.headers())
    return response


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        raise ApiError(400, "Input JSON is not valid") from None
    if isinstance(body, dict):
        request.state.body_keys = tuple(sorted(body))
    return body


async def _json_object(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Input JSON is not valid")
    return body


async def _id_array(request: Request) -> list[int]:
    body = await _json_body(request)
    if not isinstance(body, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in body
    ):
        raise ApiError(400, "The request body must be an array of user ids")
    return list(body)


# -- paging and filtering -----------------------------------------------------------
def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "Invalid cursor") from None
    if not isinstance(offset, int) or offset < 0:
        raise ApiError(400, "Invalid cursor")
    return offset


def paginate(request: Request, items: Sequence[T]) -> tuple[list[T], dict[str, str]]:
    """Slice ``items`` by ``limit`` and ``cursor`` (or ``page``); v2 paging headers."""
    query = request.query_params
    try:
        limit = int(query.get("limit", DEFAULT_PAGE_SIZE))
        page = int(query.get("page", 1))
    except ValueError:
        raise ApiError(400, "limit and page must be numbers") from None
    if limit < 1 or page < 1:
        raise ApiError(400, "limit and page must be positive")
    limit = min(limit, MAX_PAGE_SIZE)
    cursor = query.get("cursor")
    offset = _decode_cursor(cursor) if cursor else (page - 1) * limit
    chunk = list(items[offset : offset + limit])
    total = len(items)
    headers = {
        "Total-Count": str(total),
        "Total-Pages": str(max(1, math.ceil(total / limit))),
        "Current-Page": str(offset // limit + 1),
        "Page-Items": str(len(chunk)),
    }
    if offset + limit < total:
        after = _encode_cursor(offset + limit)
        headers["After-Cursor"] = after
        next_url = request.url.remove_query_params("page").include_query_params(cursor=after)
        headers["Link"] = f'<{next_url}>; rel="next"'
    if offset > 0:
        headers["Before-Cursor"] = _encode_cursor(max(0, offset - limit))
    return chunk, headers


def matches_filter(actual: str | None, pattern: str) -> bool:
    """OneLogin filter semantics: case-insensitive, ``*`` wildcard, leading ``!`` negates."""
    negate = pattern.startswith("!")
    if negate:
        pattern = pattern[1:]
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"
    hit = re.match(regex, actual or "", re.IGNORECASE | re.DOTALL) is not None
    return hit != negate


# -- answers ---------------------------------------------------------------------------
def user_json(rt: Runtime, user: SandboxUser, fields: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": user.id,
        "email": user.email,
        "username": user.username,
        "firstname": user.firstname,
        "lastname": user.lastname,
        "title": None,
        "department": None,
        "company": None,
        "comment": None,
        "group_id": user.group_id,
        "role_ids": rt.state.role_ids_of(user.id),
        "phone": None,
        "state": user.state,
        "status": user.status,
        "directory_id": None,
        "trusted_idp_id": None,
        "manager_ad_id": None,
        "manager_user_id": None,
        "samaccountname": None,
        "member_of": None,
        "userprincipalname": None,
        "distinguished_name": None,
        "external_id": None,
        "activated_at": format_ts(user.created_at),
        "last_login": None,
        "invitation_sent_at": None,
        "updated_at": format_ts(user.updated_at),
        "preferred_locale_code": None,
        "created_at": format_ts(user.created_at),
        "invalid_login_attempts": user.invalid_login_attempts,
        "locked_until": format_ts(user.locked_until),
        "password_changed_at": format_ts(user.password_changed_at),
        "custom_attributes": {},
    }
    for name in rt.omit_user_fields:
        data.pop(name, None)
    if fields:
        wanted = {f.strip() for f in fields.split(",") if f.strip()} | {"id"}
        data = {k: v for k, v in data.items() if k in wanted}
    return data


def _user(rt: Runtime, raw_id: str) -> SandboxUser:
    if not raw_id.isdigit():
        raise ApiError(400, "ID is incorrect")
    user = rt.state.users.get(int(raw_id))
    if user is None:
        raise ApiError(404)
    return user


def _role(rt: Runtime, raw_id: str) -> SandboxRole:
    role = rt.state.roles.get(int(raw_id)) if raw_id.isdigit() else None
    if role is None:
        raise ApiError(404)
    return role


# -- token and rate limit ------------------------------------------------------------------
async def token(request: Request, rt: Runtime) -> Response:
    raw = await request.body()
    fields: dict[str, Any] = {}
    content_type = request.headers.get("content-type", "")
    try:
        if "json" in content_type:
            parsed = json.loads(raw) if raw else {}
            fields = parsed if isinstance(parsed, dict) else {}
        else:
            fields = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Input JSON is not valid") from None
    request.state.body_keys = tuple(sorted(k for k in fields if k == "grant_type"))
    if fields.get("grant_type") != "client_credentials":
        raise ApiError(400, "grant_type is incorrect/absent")
    client_id, client_secret = _client_credentials(request, fields)
    cred = rt.state.clients.get(client_id or "")
    if (
        cred is None
        or client_secret is None
        or not secrets.compare_digest(cred.client_secret.encode(), client_secret.encode())
    ):
        raise ApiError(401, "Authentication Failure")
    value, issued = rt.tokens.issue(cred.client_id)
    return JSONResponse(
        {
            "access_token": value,
            "created_at": format_ts(issued.created_at),
            "expires_in": max(0, int(issued.expires_at - rt.clock())),
            "refresh_token": secrets.token_hex(16),
            "token_type": "bearer",
            "account_id": 100001,
        }
    )


def _client_credentials(request: Request, fields: dict[str, Any]) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret
    match = _CLIENT_HEADER.search(header)
    if match:
        return match.group(1), match.group(2)
    form_id, form_secret = fields.get("client_id"), fields.get("client_secret")
    return (
        form_id if isinstance(form_id, str) else None,
        form_secret if isinstance(form_secret, str) else None,
    )


async def rate_limit(request: Request, rt: Runtime) -> Response:
    headers = rt.limiter.headers()
    data = {k: int(v) for k, v in headers.items()}
    return JSONResponse(
        {
            "status": {"error": False, "code": 200, "type": "success", "message": "Success"},
            "data": data,
        }
    )


# -- users -------------------------------------------------------------------------------
async def list_users(request: Request, rt: Runtime) -> Response:
    query = request.query_params
    users = sorted(rt.state.users.values(), key=lambda u: u.id)
    for name in ("email", "username", "firstname", "lastname"):
        if name in query:
            pattern = query[name]
            users = [u for u in users if matches_filter(getattr(u, name), pattern)]
    if "user_ids" in query:
        wanted = {int(x) for x in query["user_ids"].split(",") if x.strip().isdigit()}
        users = [u for u in users if u.id in wanted]
    chunk, headers = paginate(request, users)
    fields = query.get("fields")
    return JSONResponse([user_json(rt, u, fields) for u in chunk], headers=headers)


async def get_user(request: Request, rt: Runtime) -> Response:
    user = _user(rt, request.path_params["user_id"])
    return JSONResponse(user_json(rt, user, request.query_params.get("fields")))


async def update_user(request: Request, rt: Runtime) -> Response:
    user = _user(rt, request.path_params["user_id"])
    body = await _json_object(request)
    unknown = sorted(set(body) - USER_UPDATE_FIELDS)
    if unknown:
        raise ApiError(400, f"unknown attribute: {unknown[0]}")
    now = rt.clock()
    validate = request.query_params.get("validate_policy", "true").lower() != "false"
    if "password" in body:
        _set_password(rt, user, body.get("password"), body.get("password_confirmation"), validate)
    if "status" in body:
        status = body["status"]
        if not isinstance(status, int) or status not in VALID_STATUSES:
            raise ApiError(422, "Validation failed: Status is not included in the list")
        user.status = status
        if status != STATUS_LOCKED:
            user.locked_until = None
    if "state" in body:
        state = body["state"]
        if not isinstance(state, int) or state not in VALID_STATES:
            raise ApiError(422, "Validation failed: State is not included in the list")
        user.state = state
    for name in ("email", "username", "firstname", "lastname"):
        if name in body:
            if not isinstance(body[name], str):
                raise ApiError(422, f"Validation failed: {name} must be a string")
            setattr(user, name, body[name])
    if "group_id" in body:
        user.group_id = body["group_id"]
    user.updated_at = now
    return JSONResponse(user_json(rt, user))


def _set_password(
    rt: Runtime, user: SandboxUser, password: Any, confirmation: Any, validate: bool
) -> None:
    if not isinstance(password, str) or not password:
        raise ApiError(422, "Validation failed: Password can't be blank")
    if password != confirmation:
        raise ApiError(422, "Validation failed: Password confirmation doesn't match Password")
    if validate:
        problem = _policy_problem(rt.state, user, password)
        if problem is not None:
            raise ApiError(422, f"Validation failed: {problem}")
    user.password_hashes.append(user.hash_password(password))
    user.password_changed_at = rt.clock()
    if user.status in (0, 4, 5, 7):
        user.status = 1


def _policy_problem(state: OneLoginState, user: SandboxUser, password: str) -> str | None:
    policy = state.policy_of(user)
    if policy is None:
        return None
    if len(password) < policy.minimum_password_length:
        return f"Password is too short (minimum is {policy.minimum_password_length} characters)"
    level = policy.password_complexity_requirements
    has_lower = any(c.islower() for c in password)
    has_upper = any(c.isupper() for c in password)
    has_digit = any(c.isdigit() for c in password)
    has_special = any(c in _SPECIALS for c in password)
    if level >= 1 and not ((has_lower or has_upper) and has_digit):
        return "Password must contain letters and numbers"
    if level >= 2 and not (has_lower and has_upper):
        return "Password must contain upper and lower case letters"
    if level >= 3 and not has_special:
        return "Password must contain a special character"
    remembered = policy.passwords_remembered
    if remembered and user.hash_password(password) in user.password_hashes[-remembered:]:
        return "Password has been used too recently"
    return None


async def unlock_user(request: Request, rt: Runtime) -> Response:
    user = _user(rt, request.path_params["user_id"])
    now = rt.clock()
    if not user.is_locked(now):
        # OneLogin documents this body without statusCode or name.
        raise ApiError(422, body={"message": "User cannot be unlocked"})
    if user.status == STATUS_LOCKED:
        user.status = 1
    user.locked_until = None
    user.invalid_login_attempts = 0
    user.updated_at = now
    return JSONResponse({"message": "User unlocked"})


async def lock_user(request: Request, rt: Runtime) -> Response:
    user = _user(rt, request.path_params["user_id"])
    body = await _json_object(request)
    minutes = body.get("locked_until")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 0:
        raise ApiError(400, "locked_until should be -> integer")
    rt.state.lock(user, now=rt.clock(), minutes=minutes)
    return v1_success()


async def log_user_out(request: Request, rt: Runtime) -> Response:
    """"Log User Out" (developers.onelogin.com/api-docs/1/users/log-user-out): ends the
    user's OneLogin session (not those of apps already signed in to); no body."""
    user = _user(rt, request.path_params["user_id"])
    user.sessions = 0
    user.updated_at = rt.clock()
    return v1_success()


async def set_password_clear_text(request: Request, rt: Runtime) -> Response:
    user = _user(rt, request.path_params["user_id"])
    body = await _json_object(request)
    # v1 skips OneLogin's policy unless asked (validate_policy defaults to false).
    validate = body.get("validate_policy") is True
    _set_password(rt, user, body.get("password"), body.get("password_confirmation"), validate)
    return v1_success()


# -- roles -------------------------------------------------------------------------------
async def list_roles(request: Request, rt: Runtime) -> Response:
    roles = sorted(rt.state.roles.values(), key=lambda r: r.id)
    pattern = request.query_params.get("role_name") or request.query_params.get("name")
    if pattern:
        roles = [r for r in roles if matches_filter(r.name, pattern)]
    chunk, headers = paginate(request, roles)
    return JSONResponse([{"id": r.id, "name": r.name} for r in chunk], headers=headers)


async def get_role(request: Request, rt: Runtime) -> Response:
    role = _role(rt, request.path_params["role_id"])
    return JSONResponse(
        {
            "id": role.id,
            "name": role.name,
            "apps": [],
            "users": sorted(role.user_ids),
            "admins": sorted(role.admin_ids),
        }
    )


async def role_users(request: Request, rt: Runtime) -> Response:
    role = _role(rt, request.path_params["role_id"])
    members = [rt.state.users[uid] for uid in sorted(role.user_ids) if uid in rt.state.users]
    chunk, headers = paginate(request, members)
    answer = [
        {
            "id": u.id,
            "name": f"{u.firstname} {u.lastname}".strip(),
            "email": u.email,
            "username": u.username,
            "assigned": True,
        }
        for u in chunk
    ]
    return JSONResponse(answer, headers=headers)


async def add_role_users(request: Request, rt: Runtime) -> Response:
    role = _role(rt, request.path_params["role_id"])
    ids = await _id_array(request)
    missing = [uid for uid in ids if uid not in rt.state.users]
    if missing:
        raise ApiError(422, f"Validation failed: unknown user ids {missing}")
    role.user_ids.update(ids)
    return JSONResponse([{"id": uid} for uid in ids])


async def remove_role_users(request: Request, rt: Runtime) -> Response:
    role = _role(rt, request.path_params["role_id"])
    ids = await _id_array(request)
    role.user_ids.difference_update(ids)
    return Response(status_code=204)


# -- MFA, policies, privileges -----------------------------------------------------------------
async def list_devices(request: Request, rt: Runtime) -> Response:
    user = _user(rt, request.path_params["user_id"])
    return JSONResponse(
        [
            {
                "device_id": d.device_id,
                "user_display_name": d.user_display_name,
                "type_display_name": d.type_display_name,
                "auth_factor_name": d.auth_factor_name,
                "default": d.default,
            }
            for d in rt.state.devices_of(user.id)
        ]
    )


async def delete_device(request: Request, rt: Runtime) -> Response:
    user = _user(rt, request.path_params["user_id"])
    device = rt.state.devices.get(request.path_params["device_id"])
    if device is None or device.user_id != user.id:
        raise ApiError(404)
    del rt.state.devices[device.device_id]
    return Response(status_code=204)


def _verification_json(found: Verification, device: SandboxDevice | None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": found.id, "status": found.status,
                            "device_id": found.device_id}
    if device is not None:
        body.update(
            user_display_name=device.user_display_name,
            auth_factor_name=device.auth_factor_name,
            type_display_name=device.type_display_name,
            user_id=str(found.user_id),
            expires_at=format_ts(found.expires_at),
        )
    return body


async def start_verification(request: Request, rt: Runtime) -> Response:
    user = _user(rt, request.path_params["user_id"])
    body = await _json_object(request)
    raw_device = body.get("device_id")
    if raw_device in (None, ""):
        raise ApiError(400, "device_id is required")
    device = rt.state.devices.get(str(raw_device))
    if device is None or device.user_id != user.id:
        raise ApiError(404)
    expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN)
    if not isinstance(expires_in, int) or not 0 < expires_in <= MAX_EXPIRES_IN:
        raise ApiError(400, f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds")
    found = rt.state.pushes.start(user.id, device.device_id, expires_in)
    answer = _verification_json(found, device)
    del answer["status"]
    return JSONResponse([answer], status_code=201)


async def get_verification(request: Request, rt: Runtime) -> Response:
    user = _user(rt, request.path_params["user_id"])
    found = rt.state.pushes.verifications.get(request.path_params["verification_id"])
    if found is None or found.user_id != user.id:
        raise ApiError(404)
    return JSONResponse([_verification_json(found, None)])


async def get_policy(request: Request, rt: Runtime) -> Response:
    raw_id = request.path_params["policy_id"]
    policy = rt.state.policies.get(int(raw_id)) if raw_id.isdigit() else None
    if policy is None:
        raise ApiError(404)
    return JSONResponse(
        {
            "id": policy.id,
            "name": policy.name,
            "kind": "user",
            "is_default": policy.id == rt.state.default_policy_id,
            "password_expiration_days": policy.password_expiration_days,
            "minimum_password_length": policy.minimum_password_length,
            "password_complexity_requirements": policy.password_complexity_requirements,
            "passwords_remembered": policy.passwords_remembered,
            "lock_effective_minutes": policy.lock_effective_minutes,
        }
    )


async def list_privileges(request: Request, rt: Runtime) -> Response:
    statement = {"Effect": "Allow", "Action": ["*"], "Scope": ["*"]}
    return JSONResponse(
        [
            {
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "privilege": {"Version": "2018-05-18", "Statement": [statement]},
            }
            for p in rt.state.privileges.values()
        ]
    )


async def privilege_users(request: Request, rt: Runtime) -> Response:
    return _privilege_members(request, rt, "users")


async def privilege_roles(request: Request, rt: Runtime) -> Response:
    return _privilege_members(request, rt, "roles")


def _privilege_members(request: Request, rt: Runtime, key: str) -> Response:
    privilege = rt.state.privileges.get(request.path_params["privilege_id"])
    if privilege is None:
        raise ApiError(404)
    ids = sorted(privilege.user_ids if key == "users" else privilege.role_ids)
    return JSONResponse(
        {
            "total": len(ids),
            key: ids,
            "before_cursor": None,
            "after_cursor": None,
            "previous_link": None,
            "next_link": None,
        }
    )


# -- the application -----------------------------------------------------------------------------
async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return error_for(request.url.path, status)


def create_app(
    state: OneLoginState,
    *,
    clock: Clock = time.time,
    rate_limit_per_window: int = 5000,
    rate_window: float = 3600.0,
    token_ttl: float = 36000.0,
) -> Starlette:
    """The sandbox app for ``state``; its :class:`Runtime` is ``app.state.onelogin``.

    The defaults match OneLogin's: 5,000 calls an hour, tokens valid for 10 hours.
    """
    state.pushes.clock = clock
    runtime = Runtime(
        state=state,
        clock=clock,
        tokens=TokenStore(clock, token_ttl),
        limiter=RateLimiter(clock, rate_limit_per_window, rate_window),
    )
    routes = [
        Route(
            "/auth/oauth2/v2/token",
            endpoint(token, authenticated=False, counted=False),
            methods=["POST"],
        ),
        Route("/auth/rate_limit", endpoint(rate_limit, counted=False), methods=["GET"]),
        Route("/api/2/users", endpoint(list_users), methods=["GET"]),
        Route("/api/2/users/{user_id}", endpoint(get_user), methods=["GET"]),
        Route("/api/2/users/{user_id}", endpoint(update_user), methods=["PUT"]),
        Route("/api/2/users/{user_id}/unlock", endpoint(unlock_user), methods=["POST"]),
        Route("/api/1/users/{user_id}/lock_user", endpoint(lock_user), methods=["PUT"]),
        Route("/api/1/users/{user_id}/logout", endpoint(log_user_out), methods=["PUT"]),
        Route(
            "/api/1/users/set_password_clear_text/{user_id}",
            endpoint(set_password_clear_text),
            methods=["PUT"],
        ),
        Route("/api/2/roles", endpoint(list_roles), methods=["GET"]),
        Route("/api/2/roles/{role_id}", endpoint(get_role), methods=["GET"]),
        Route("/api/2/roles/{role_id}/users", endpoint(role_users), methods=["GET"]),
        Route("/api/2/roles/{role_id}/users", endpoint(add_role_users), methods=["POST"]),
        Route("/api/2/roles/{role_id}/users", endpoint(remove_role_users), methods=["DELETE"]),
        Route("/api/2/mfa/users/{user_id}/devices", endpoint(list_devices), methods=["GET"]),
        Route(
            "/api/2/mfa/users/{user_id}/devices/{device_id}",
            endpoint(delete_device),
            methods=["DELETE"],
        ),
        Route(
            "/api/2/mfa/users/{user_id}/verifications",
            endpoint(start_verification),
            methods=["POST"],
        ),
        Route(
            "/api/2/mfa/users/{user_id}/verifications/{verification_id}",
            endpoint(get_verification),
            methods=["GET"],
        ),
        Route("/api/2/policies/{policy_id}", endpoint(get_policy), methods=["GET"]),
        Route("/api/1/privileges", endpoint(list_privileges), methods=["GET"]),
        Route("/api/1/privileges/{privilege_id}/users", endpoint(privilege_users), methods=["GET"]),
        Route("/api/1/privileges/{privilege_id}/roles", endpoint(privilege_roles), methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_found})
    app.state.onelogin = runtime
    return app


__all__ = ["RateLimiter", "TokenStore", "create_app", "matches_filter", "paginate"]
