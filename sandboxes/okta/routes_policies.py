"""Policies API (read-only): list by type, read one, list its rules.

See https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Policy/.
``type`` is required when listing; an unknown type is a 400 ``E0000001``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandboxes.okta import errors, render
from sandboxes.okta.auth import require
from sandboxes.okta.errors import OktaError
from sandboxes.okta.http import base_url, caller, json_response, path_param
from sandboxes.okta.model import Policy
from sandboxes.okta.roles import Permission
from sandboxes.okta.runtime import Runtime

POLICY_TYPES = frozenset(
    {
        "ACCESS_POLICY",
        "ENTITY_RISK",
        "IDP_DISCOVERY",
        "MFA_ENROLL",
        "OKTA_SIGN_ON",
        "PASSWORD",
        "POST_AUTH_SESSION",
        "PROFILE_ENROLLMENT",
        "DEVICE_SIGNAL_COLLECTION",
        "SESSION_VIOLATION_DETECTION",
        "CLIENT_UPDATE",
        "IDENTITY_CLAIM_SOURCING",
    }
)


def _policy_or_404(runtime: Runtime, policy_id: str) -> Policy:
    policy = runtime.state.policies.get(policy_id)
    if policy is None:
        raise errors.not_found(policy_id, "Policy")
    return policy


async def list_policies(request: Request) -> Response:
    """``GET /api/v1/policies?type=...`` by priority, optionally by ``status`` and name ``q``."""
    runtime, principal = caller(request)
    require(principal, Permission.POLICIES_READ)
    params = request.query_params
    policy_type = params.get("type")
    if policy_type not in POLICY_TYPES:
        raise OktaError(
            errors.API_VALIDATION,
            "Api validation failed: type",
            causes=[f"type: {policy_type or 'missing'} is not a valid policy type"],
        )
    status, query = params.get("status"), (params.get("q") or "").lower()
    policies = [
        policy
        for policy in runtime.state.policies_of_type(policy_type)
        if (status is None or policy.status == status) and policy.name.lower().startswith(query)
    ]
    base = base_url(request)
    return json_response([render.policy(p, base) for p in policies])


async def get_policy(request: Request) -> Response:
    """``GET /api/v1/policies/{policyId}``."""
    runtime, principal = caller(request)
    require(principal, Permission.POLICIES_READ)
    policy = _policy_or_404(runtime, path_param(request, "policyId"))
    return json_response(render.policy(policy, base_url(request)))


async def list_policy_rules(request: Request) -> Response:
    """``GET /api/v1/policies/{policyId}/rules`` by priority."""
    runtime, principal = caller(request)
    require(principal, Permission.POLICIES_READ)
    policy = _policy_or_404(runtime, path_param(request, "policyId"))
    rules = sorted(runtime.state.policy_rules[policy.id], key=lambda rule: rule.priority)
    base = base_url(request)
    return json_response([render.policy_rule(rule, base) for rule in rules])


ROUTES = [
    Route("/api/v1/policies", list_policies, methods=["GET"]),
    Route("/api/v1/policies/{policyId}", get_policy, methods=["GET"]),
    Route("/api/v1/policies/{policyId}/rules", list_policy_rules, methods=["GET"]),
]
