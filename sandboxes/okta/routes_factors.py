"""UserFactor verification: push challenges and their transactions (see ``sandboxes.okta.push``).

* ``POST /api/v1/users/{userId}/factors/{factorId}/verify``: for an active ``push``
  factor, no body or ``{"useNumberMatchingChallenge": true}``, 201 ``WAITING`` with the
  poll and cancel links (and ``_embedded.challenge.correctAnswer`` with number
  matching). Okta requires a ``User-Agent`` to verify a push; other factor types are not
  implemented here (400 ``E0000001``, naming the type).
* ``GET .../transactions/{transactionId}``: the transaction's state.
* ``DELETE .../transactions/{transactionId}``: the cancel link (204).

Scope: ``okta.users.manage`` to verify, ``okta.users.read`` to poll (the spec's security
requirements); with an API token, a role that may manage users (Help Desk Admin).
Reference: https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserFactor/
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandboxes.okta import errors
from sandboxes.okta.auth import require, require_may_act_on
from sandboxes.okta.clock import format_ts
from sandboxes.okta.errors import OktaError
from sandboxes.okta.http import base_url, caller, json_response, no_content, path_param
from sandboxes.okta.model import Factor, User
from sandboxes.okta.push import PushTransaction
from sandboxes.okta.roles import Permission
from sandboxes.okta.state import OktaState

Json = dict[str, Any]


def _user_and_factor(state: OktaState, request: Request) -> tuple[User, Factor]:
    user_id, factor_id = path_param(request, "userId"), path_param(request, "factorId")
    user = state.get_user(user_id)
    if user is None:
        raise errors.not_found(user_id, "User")
    factor = next((f for f in state.factors_of(user.id) if f.id == factor_id), None)
    if factor is None:
        raise errors.not_found(factor_id, "UserFactor")
    return user, factor


def _invalid(field: str, why: str) -> OktaError:
    return OktaError(errors.API_VALIDATION, f"Api validation failed: {field}",
                     causes=[f"{field}: {why}"])


async def _body(request: Request) -> Json:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _invalid("body", "The request body was not well-formed.") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise _invalid("body", "The request body was not well-formed.")
    return body


def _links(base: str, tx: PushTransaction) -> Json:
    factor = f"{base}/api/v1/users/{tx.user_id}/factors/{tx.factor_id}"
    if tx.result == "WAITING":
        href = f"{factor}/transactions/{tx.id}"
        return {
            "poll": {"href": href, "hints": {"allow": ["GET"]}},
            "cancel": {"href": href, "hints": {"allow": ["DELETE"]}},
        }
    return {
        "verify": {"href": f"{factor}/verify", "hints": {"allow": ["POST"]}},
        "factor": {"href": factor, "hints": {"allow": ["GET", "DELETE"]}},
    }


def render_transaction(tx: PushTransaction, base: str, credential: str, *, issued: bool) -> Json:
    """A push transaction as Okta answers the verify call (``issued``) or a poll."""
    if tx.result == "SUCCESS":
        return {"factorResult": "SUCCESS"}
    body: Json = {"factorResult": tx.result}
    if tx.result == "WAITING":
        body["expiresAt"] = format_ts(tx.expires_at)
    if not issued:
        body["profile"] = {"credentialId": credential}
    body["_links"] = _links(base, tx)
    if tx.result == "WAITING" and tx.correct_answer is not None:
        body["_embedded"] = {"challenge": {"correctAnswer": tx.correct_answer}}
    return body


async def verify_factor(request: Request) -> Response:
    """``POST /api/v1/users/{userId}/factors/{factorId}/verify`` for push factors."""
    runtime, principal = caller(request)
    require(principal, Permission.USERS_LIFECYCLE)
    state = runtime.state
    user, factor = _user_and_factor(state, request)
    require_may_act_on(principal, state, user)
    body = await _body(request)
    if factor.factor_type != "push":
        raise _invalid("factorType", f"verifying {factor.factor_type} is not implemented here")
    if factor.status != "ACTIVE":
        raise _invalid("factor", "The factor is not active.")
    if not request.headers.get("user-agent"):
        raise _invalid("User-Agent", "A User-Agent is required to verify a push factor.")
    number_matching = body.get("useNumberMatchingChallenge", False)
    if not isinstance(number_matching, bool):
        raise _invalid("useNumberMatchingChallenge", "must be a boolean")
    tx = state.pushes.start(user.id, factor.id, number_matching=number_matching)
    login = str(user.profile.get("login", ""))
    return json_response(render_transaction(tx, base_url(request), login, issued=True), 201)


async def push_transaction(request: Request) -> Response:
    """``GET .../factors/{factorId}/transactions/{transactionId}``: the push's state."""
    runtime, principal = caller(request)
    require(principal, Permission.USERS_READ)
    user, factor = _user_and_factor(runtime.state, request)
    tx_id = path_param(request, "transactionId")
    tx = runtime.state.pushes.get(user.id, factor.id, tx_id)
    if tx is None:
        raise errors.not_found(tx_id, "Transaction")
    login = str(user.profile.get("login", ""))
    return json_response(render_transaction(tx, base_url(request), login, issued=False))


async def cancel_transaction(request: Request) -> Response:
    """``DELETE`` the transaction (its ``cancel`` link): a waiting push stops waiting."""
    runtime, principal = caller(request)
    require(principal, Permission.USERS_LIFECYCLE)
    user, factor = _user_and_factor(runtime.state, request)
    tx_id = path_param(request, "transactionId")
    if not runtime.state.pushes.cancel(user.id, factor.id, tx_id):
        raise errors.not_found(tx_id, "Transaction")
    return no_content()


ROUTES = [
    Route("/api/v1/users/{userId}/factors/{factorId}/verify", verify_factor, methods=["POST"]),
    Route(
        "/api/v1/users/{userId}/factors/{factorId}/transactions/{transactionId}",
        push_transaction, methods=["GET"],
    ),
    Route(
        "/api/v1/users/{userId}/factors/{factorId}/transactions/{transactionId}",
        cancel_transaction, methods=["DELETE"],
    ),
]
