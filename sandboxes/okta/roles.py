"""Who may do what: admin role types, what each grants, and the OAuth scopes.

This is the one place that decides authorisation. It approximates Okta's standard
admin roles (https://help.okta.com/en-us/content/topics/security/administrators-admin-comparison.htm):

* Help desk admins reset passwords and MFA and unlock users, and view users; they
  don't manage group membership
  (https://help.okta.com/en/prod/Content/Topics/Security/The_Help_Desk_Admin_Role.htm).
* Group membership admins view users and manage membership, but not of groups that
  hold admin roles; only super admins manage those
  (https://help.okta.com/en/prod/Content/Topics/Security/admin-role-groupmembershipadmin.htm).
* Only super and org admins act on users who are themselves admins, and only super
  admins act on super admins.
* Report and read-only admins read, they never write.

An OAuth service app is limited twice: by its granted scopes and by the admin roles
assigned to it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Permission(enum.Flag):
    """Something a caller may do through the API."""

    NONE = 0
    USERS_READ = enum.auto()
    USERS_LIFECYCLE = enum.auto()
    GROUPS_READ = enum.auto()
    GROUP_MEMBERSHIP = enum.auto()
    POLICIES_READ = enum.auto()
    ROLES_READ = enum.auto()
    #: Suspending users: Okta's Group (User) Administrator may, the Help Desk
    #: Administrator may not (Okta's admin role permissions, okta.users.lifecycle.suspend).
    USERS_SUSPEND = enum.auto()


_READ_ALL = (
    Permission.USERS_READ
    | Permission.GROUPS_READ
    | Permission.POLICIES_READ
    | Permission.ROLES_READ
)
_ALL = (
    _READ_ALL | Permission.USERS_LIFECYCLE | Permission.GROUP_MEMBERSHIP | Permission.USERS_SUSPEND
)

ROLE_PERMISSIONS: dict[str, Permission] = {
    "SUPER_ADMIN": _ALL,
    "ORG_ADMIN": _ALL,
    "USER_ADMIN": Permission.USERS_READ
    | Permission.USERS_LIFECYCLE
    | Permission.USERS_SUSPEND
    | Permission.GROUPS_READ
    | Permission.GROUP_MEMBERSHIP,
    "HELP_DESK_ADMIN": Permission.USERS_READ | Permission.USERS_LIFECYCLE | Permission.GROUPS_READ,
    "GROUP_MEMBERSHIP_ADMIN": Permission.USERS_READ
    | Permission.GROUPS_READ
    | Permission.GROUP_MEMBERSHIP,
    "READ_ONLY_ADMIN": _READ_ALL,
    "REPORT_ADMIN": _READ_ALL,
    "APP_ADMIN": Permission.USERS_READ | Permission.GROUPS_READ,
    "MOBILE_ADMIN": Permission.USERS_READ,
    "API_ACCESS_MANAGEMENT_ADMIN": Permission.NONE,
}

# Labels as the Roles API returns them (the RoleType table of the management spec).
ROLE_LABELS: dict[str, str] = {
    "SUPER_ADMIN": "Super Administrator",
    "ORG_ADMIN": "Organizational Administrator",
    "USER_ADMIN": "Group Administrator",
    "HELP_DESK_ADMIN": "Help Desk Administrator",
    "GROUP_MEMBERSHIP_ADMIN": "Group Membership Administrator",
    "READ_ONLY_ADMIN": "Read Only Administrator",
    "REPORT_ADMIN": "Report Administrator",
    "APP_ADMIN": "Application Administrator",
    "MOBILE_ADMIN": "Mobile Administrator",
    "API_ACCESS_MANAGEMENT_ADMIN": "API Access Management Administrator",
}

ROLE_TYPES = frozenset(ROLE_PERMISSIONS)

# What each OAuth scope lets a service app do (on top of its admin roles).
SCOPE_PERMISSIONS: dict[str, Permission] = {
    "okta.users.read": Permission.USERS_READ,
    "okta.users.manage": Permission.USERS_READ | Permission.USERS_LIFECYCLE
    | Permission.USERS_SUSPEND,
    "okta.groups.read": Permission.GROUPS_READ,
    "okta.groups.manage": Permission.GROUPS_READ | Permission.GROUP_MEMBERSHIP,
    "okta.policies.read": Permission.POLICIES_READ,
    "okta.roles.read": Permission.ROLES_READ,
}

_TOP_ROLES = frozenset({"SUPER_ADMIN", "ORG_ADMIN"})


def permissions_for_roles(roles: Iterable[str]) -> Permission:
    """Return the union of what ``roles`` grant (unknown roles grant nothing)."""
    granted = Permission.NONE
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, Permission.NONE)
    return granted


def permissions_for_scopes(scopes: Iterable[str]) -> Permission:
    """Return the union of what OAuth ``scopes`` allow."""
    granted = Permission.NONE
    for scope in scopes:
        granted |= SCOPE_PERMISSIONS.get(scope, Permission.NONE)
    return granted


def may_act_on_user(actor_roles: frozenset[str], target_roles: frozenset[str]) -> bool:
    """Whether an admin holding ``actor_roles`` may run lifecycle operations on a user.

    Admin targets need a super or org admin; super admin targets need a super admin.
    """
    if "SUPER_ADMIN" in target_roles:
        return "SUPER_ADMIN" in actor_roles
    if target_roles:
        return bool(actor_roles & _TOP_ROLES)
    return True


def may_manage_admin_group(actor_roles: frozenset[str]) -> bool:
    """Whether ``actor_roles`` may change the membership of a group that holds admin roles."""
    return "SUPER_ADMIN" in actor_roles
