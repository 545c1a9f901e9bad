"""Who is calling, and whether they may do what they ask.

``Authorization: SSWS <token>`` acts as the token's owner with the owner's admin roles
(direct and through groups); a token whose owner is not active is invalid, as Okta
deactivates tokens with their owners. ``Authorization: Bearer <token>`` is an OAuth
access token from ``/oauth2/v1/token``, limited by its scopes and the client's roles.
Missing or unknown credentials are 401 ``E0000011``; anything not allowed is 403
``E0000006``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandboxes.okta import errors
from sandboxes.okta.errors import OktaError
from sandboxes.okta.model import Group, User, UserStatus
from sandboxes.okta.oauth import AccessTokens
from sandboxes.okta.roles import (
    Permission,
    may_act_on_user,
    may_manage_admin_group,
    permissions_for_roles,
    permissions_for_scopes,
)
from sandboxes.okta.state import OktaState

_TOKEN_OWNER_STATUSES = frozenset(
    {UserStatus.ACTIVE, UserStatus.PASSWORD_EXPIRED, UserStatus.LOCKED_OUT, UserStatus.RECOVERY}
)

# Okta's answer to a Bearer token that lacks the scope an endpoint needs.
_INSUFFICIENT_SCOPE = (
    'Bearer error="insufficient_scope", '
    'error_description="The access token provided does not contain the required scopes."'
)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a token owner (``user``) or an OAuth client."""

    roles: frozenset[str]
    permissions: Permission
    user: User | None = None
    client_id: str | None = None
    scope_permissions: Permission | None = None


def _credential(authorization: str, scheme: str) -> str | None:
    """Return the credential after ``scheme``, with or without the separating space.

    okta SDK 3.4.6 glues the scheme to the token on its typed API calls
    (``authorization_mode + access_token`` in ``okta/configuration.py``, giving
    ``SSWS00abc...``) and works against Okta, so Okta accepts both forms.
    """
    if authorization[: len(scheme)].lower() != scheme.lower():
        return None
    credential = authorization[len(scheme) :].strip()
    return credential or None


def authenticate(state: OktaState, tokens: AccessTokens, authorization: str | None) -> Principal:
    """Resolve the ``Authorization`` header to a principal, or raise 401 ``E0000011``."""
    header = (authorization or "").strip()
    api_token_value = _credential(header, "SSWS")
    if api_token_value is not None:
        api_token = state.api_tokens.get(api_token_value)
        owner = state.get_user(api_token.owner_id) if api_token else None
        if owner is not None and owner.status in _TOKEN_OWNER_STATUSES:
            roles = state.admin_roles_of(owner.id)
            return Principal(roles, permissions_for_roles(roles), user=owner)
    access_token = _credential(header, "Bearer")
    grant = tokens.lookup(access_token) if access_token else None
    if grant is not None and grant.client_id in state.oauth_clients:
        client = state.oauth_clients[grant.client_id]
        scoped = permissions_for_scopes(grant.scopes)
        return Principal(
            client.roles,
            permissions_for_roles(client.roles) & scoped,
            client_id=client.client_id,
            scope_permissions=scoped,
        )
    raise OktaError(errors.INVALID_TOKEN)


def require(principal: Principal, permission: Permission) -> None:
    """Raise 403 ``E0000006`` unless the principal holds ``permission``."""
    if permission in principal.permissions:
        return
    if principal.scope_permissions is not None and permission not in principal.scope_permissions:
        raise OktaError(errors.ACCESS_DENIED, headers={"WWW-Authenticate": _INSUFFICIENT_SCOPE})
    raise OktaError(errors.ACCESS_DENIED)


def require_may_act_on(principal: Principal, state: OktaState, target: User) -> None:
    """Raise 403 ``E0000006`` when the target is an admin the principal may not manage."""
    if not may_act_on_user(principal.roles, state.admin_roles_of(target.id)):
        raise OktaError(errors.ACCESS_DENIED)


def require_may_change_membership(principal: Principal, state: OktaState, group: Group) -> None:
    """Raise 403 ``E0000006`` for groups whose membership the principal may not change.

    Only ``OKTA_GROUP`` memberships change through the API (app groups are imported,
    built-in ones fixed), and only super admins change groups that hold admin roles.
    """
    if group.type != "OKTA_GROUP":
        raise OktaError(errors.ACCESS_DENIED)
    if state.group_roles(group.id) and not may_manage_admin_group(principal.roles):
        raise OktaError(errors.ACCESS_DENIED)
