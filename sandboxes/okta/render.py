"""Model objects to the JSON shapes of Okta's management API.

Shapes follow the management OpenAPI spec (``User``, ``Group``, ``UserFactor``,
``StandardRole``, ``PasswordPolicy``, ``PasswordPolicyRule``). ``base`` is the org URL
the client used (``https://127.0.0.1:PORT``) so ``_links`` are absolute, as Okta's are.
"""

from __future__ import annotations

from typing import Any

from sandboxes.okta.clock import format_ts
from sandboxes.okta.model import Factor, Group, Policy, PolicyRule, RoleAssignment, User, UserStatus
from sandboxes.okta.roles import ROLE_LABELS
from sandboxes.okta.state import OktaState

Json = dict[str, Any]

# The HAL links Okta offers per status (a subset: the operations a helpdesk uses).
_USER_STATUS_LINKS: dict[UserStatus, tuple[tuple[str, str], ...]] = {
    UserStatus.ACTIVE: (
        ("resetPassword", "lifecycle/reset_password"),
        ("resetFactors", "lifecycle/reset_factors"),
        ("expirePassword", "lifecycle/expire_password"),
        ("suspend", "lifecycle/suspend"),
        ("deactivate", "lifecycle/deactivate"),
    ),
    UserStatus.LOCKED_OUT: (
        ("unlock", "lifecycle/unlock"),
        ("resetPassword", "lifecycle/reset_password"),
        ("resetFactors", "lifecycle/reset_factors"),
        ("deactivate", "lifecycle/deactivate"),
    ),
    UserStatus.PASSWORD_EXPIRED: (
        ("resetPassword", "lifecycle/reset_password"),
        ("resetFactors", "lifecycle/reset_factors"),
        ("deactivate", "lifecycle/deactivate"),
    ),
    UserStatus.RECOVERY: (
        ("resetPassword", "lifecycle/reset_password"),
        ("reactivate", "lifecycle/reactivate"),
        ("deactivate", "lifecycle/deactivate"),
    ),
    UserStatus.SUSPENDED: (
        ("unsuspend", "lifecycle/unsuspend"),
        ("deactivate", "lifecycle/deactivate"),
    ),
    UserStatus.PROVISIONED: (
        ("reactivate", "lifecycle/reactivate"),
        ("deactivate", "lifecycle/deactivate"),
    ),
    UserStatus.STAGED: (
        ("activate", "lifecycle/activate"),
        ("deactivate", "lifecycle/deactivate"),
    ),
    UserStatus.DEPROVISIONED: (("activate", "lifecycle/activate"),),
}

_GROUP_LOGOS = (
    ("medium", "https://op1static.oktacdn.com/assets/img/logos/groups/okta-medium.png"),
    ("large", "https://op1static.oktacdn.com/assets/img/logos/groups/okta-large.png"),
)


def user(state: OktaState, value: User, base: str, *, all_links: bool = False) -> Json:
    """Render a user; lists carry only the ``self`` link, single reads all status links."""
    href = f"{base}/api/v1/users/{value.id}"
    links: Json = {"self": {"href": href}}
    if all_links:
        for name, suffix in _USER_STATUS_LINKS[value.status]:
            links[name] = {"href": f"{href}/{suffix}", "method": "POST"}
        links["type"] = {"href": f"{base}/api/v1/meta/types/user/{state.user_type_id}"}
    credentials: Json = {"provider": {"type": value.provider, "name": value.provider}}
    if value.has_password:
        credentials["password"] = {}
    if value.recovery_question:
        credentials["recovery_question"] = {"question": value.recovery_question}
    return {
        "id": value.id,
        "status": value.status.value,
        "created": format_ts(value.created),
        "activated": format_ts(value.activated),
        "statusChanged": format_ts(value.status_changed),
        "lastLogin": format_ts(value.last_login),
        "lastUpdated": format_ts(value.last_updated),
        "passwordChanged": format_ts(value.password_changed),
        "type": {"id": state.user_type_id},
        "profile": dict(value.profile),
        "credentials": credentials,
        "_links": links,
    }


def group(value: Group, base: str) -> Json:
    """Render a group."""
    href = f"{base}/api/v1/groups/{value.id}"
    return {
        "id": value.id,
        "created": format_ts(value.created),
        "lastUpdated": format_ts(value.last_updated),
        "lastMembershipUpdated": format_ts(value.last_membership_updated),
        "objectClass": ["okta:user_group"],
        "type": value.type,
        "profile": {"name": value.name, "description": value.description},
        "_links": {
            "logo": [
                {"name": size, "href": url, "type": "image/png"} for size, url in _GROUP_LOGOS
            ],
            "users": {"href": f"{href}/users"},
            "apps": {"href": f"{href}/apps"},
        },
    }


def factor(value: Factor, base: str) -> Json:
    """Render an enrolled factor."""
    user_href = f"{base}/api/v1/users/{value.user_id}"
    return {
        "id": value.id,
        "factorType": value.factor_type,
        "provider": value.provider,
        "vendorName": value.vendor_name,
        "status": value.status,
        "created": format_ts(value.created),
        "lastUpdated": format_ts(value.last_updated),
        "profile": dict(value.profile),
        "_links": {
            "self": {
                "href": f"{user_href}/factors/{value.id}",
                "hints": {"allow": ["GET", "DELETE"]},
            },
            "user": {"href": user_href, "hints": {"allow": ["GET"]}},
        },
    }


def role_assignment(value: RoleAssignment, base: str) -> Json:
    """Render an admin role assignment (``StandardRole``)."""
    kind = "users" if value.assignment_type == "USER" else "groups"
    return {
        "id": value.id,
        "label": ROLE_LABELS.get(value.role_type, value.role_type),
        "type": value.role_type,
        "status": value.status,
        "created": format_ts(value.created),
        "lastUpdated": format_ts(value.last_updated),
        "assignmentType": value.assignment_type,
        "_links": {"assignee": {"href": f"{base}/api/v1/{kind}/{value.assignee_id}"}},
    }


def policy(value: Policy, base: str) -> Json:
    """Render a policy; password policies carry their group conditions and settings."""
    href = f"{base}/api/v1/policies/{value.id}"
    return {
        "type": value.type,
        "id": value.id,
        "status": value.status,
        "name": value.name,
        "description": value.description,
        "priority": value.priority,
        "system": value.system,
        "created": format_ts(value.created),
        "lastUpdated": format_ts(value.last_updated),
        "conditions": {
            "people": {"groups": {"include": list(value.include_group_ids)}},
            "authProvider": {"provider": "OKTA"},
        },
        "settings": value.settings,
        "_links": {
            "self": {"href": href, "hints": {"allow": ["GET", "PUT", "DELETE"]}},
            "rules": {"href": f"{href}/rules", "hints": {"allow": ["GET", "POST"]}},
        },
    }


def policy_rule(value: PolicyRule, base: str) -> Json:
    """Render a policy rule."""
    href = f"{base}/api/v1/policies/{value.policy_id}/rules/{value.id}"
    return {
        "id": value.id,
        "status": value.status,
        "name": value.name,
        "priority": value.priority,
        "created": format_ts(value.created),
        "lastUpdated": format_ts(value.last_updated),
        "system": value.system,
        "conditions": value.conditions,
        "actions": value.actions,
        "type": value.type,
        "_links": {"self": {"href": href, "hints": {"allow": ["GET", "PUT", "DELETE"]}}},
    }
