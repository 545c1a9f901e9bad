"""The in-memory Okta org: users, groups, memberships, factors, roles, policies, tokens.

One :class:`OktaState` is one org. Handlers read and change it through its methods, and
tests may change it directly between requests (it takes no locks: mutate it from one
thread at a time). Users and groups are kept in id order, so a page after a cursor is
found by bisection rather than by scanning the whole org.
"""

from __future__ import annotations

import time
from bisect import insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from sandboxes.okta.clock import Clock, parse_ts, to_datetime
from sandboxes.okta.defaults import (
    PASSWORD_RULE_ACTIONS,
    PASSWORD_RULE_CONDITIONS,
    password_settings,
)
from sandboxes.okta.ids import IdFactory
from sandboxes.okta.model import (
    ApiToken,
    Factor,
    Group,
    OAuthClient,
    Policy,
    PolicyRule,
    RoleAssignment,
    User,
    UserStatus,
)
from sandboxes.okta.push import PushBook
from sandboxes.okta.roles import ROLE_TYPES

__all__ = [
    "ApiToken",
    "Factor",
    "Group",
    "OAuthClient",
    "OktaState",
    "Policy",
    "PolicyRule",
    "RoleAssignment",
    "User",
    "UserStatus",
    "load_seed",
]


@dataclass(slots=True)
class _Membership:
    members: set[str] = field(default_factory=set)
    ordered: list[str] | None = None


class OktaState:
    """One Okta org held in memory.

    ``clock`` stamps ``created``/``lastUpdated``/... (UTC epoch seconds); ``seed`` makes
    minted ids reproducible.
    """

    def __init__(self, *, clock: Clock = time.time, seed: int | str | None = 0) -> None:
        self.clock = clock
        self.ids = IdFactory(seed)
        self.user_type_id = self.ids.new("oty")
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.policies: dict[str, Policy] = {}
        self.policy_rules: dict[str, list[PolicyRule]] = {}
        self.api_tokens: dict[str, ApiToken] = {}
        self.oauth_clients: dict[str, OAuthClient] = {}
        self._user_ids: list[str] = []
        self._group_ids: list[str] = []
        self._by_login: dict[str, str] = {}
        self._by_group_name: dict[str, str] = {}
        self._memberships: dict[str, _Membership] = {}
        self._user_groups: dict[str, set[str]] = {}
        self._factors: dict[str, dict[str, Factor]] = {}
        self._user_roles: dict[str, list[RoleAssignment]] = {}
        self._group_roles: dict[str, list[RoleAssignment]] = {}
        # Okta Verify push challenges and the device side of each (sandboxes.okta.push).
        self.pushes = PushBook(self.now, lambda: self.ids.new("mst"), seed)

    def now(self) -> datetime:
        """Return the current instant by this org's clock."""
        return to_datetime(self.clock())

    # users ------------------------------------------------------------------

    def add_user(
        self,
        profile: Mapping[str, Any],
        *,
        status: UserStatus | str = UserStatus.ACTIVE,
        user_id: str | None = None,
        created: datetime | None = None,
        activated: datetime | None = None,
        last_login: datetime | None = None,
        password_changed: datetime | None = None,
        has_password: bool = True,
        recovery_question: str | None = None,
    ) -> User:
        """Add a user; ``profile`` needs ``login``, and ``email`` defaults to it.

        Raises ``ValueError`` when the login or id is already taken.
        """
        login = str(profile["login"])
        key = login.lower()
        if key in self._by_login:
            raise ValueError(f"login already in use: {login}")
        uid = user_id or self.ids.new("00u")
        if uid in self.users:
            raise ValueError(f"user id already in use: {uid}")
        status = UserStatus(status)
        created = created or self.now()
        if status not in (UserStatus.STAGED, UserStatus.PROVISIONED):
            activated = activated or created
        full_profile = dict(profile)
        full_profile.setdefault("email", login)
        user = User(
            id=uid,
            status=status,
            created=created,
            last_updated=created,
            profile=full_profile,
            activated=activated,
            status_changed=activated,
            last_login=last_login,
            password_changed=password_changed if has_password else None,
            has_password=has_password,
            recovery_question=recovery_question,
        )
        self.users[uid] = user
        self._by_login[key] = uid
        _insert_sorted(self._user_ids, uid)
        return user

    def get_user(self, user_id: str) -> User | None:
        """Return the user with this id, or None."""
        return self.users.get(user_id)

    def find_user(self, id_or_login: str) -> User | None:
        """Find a user by id, then login (case-insensitive), then an unambiguous short name.

        Mirrors how ``GET /api/v1/users/{idOrLogin}`` resolves its path parameter.
        """
        user = self.users.get(id_or_login)
        if user is not None:
            return user
        uid = self._by_login.get(id_or_login.lower())
        if uid is not None:
            return self.users[uid]
        if "@" in id_or_login:
            return None
        prefix = id_or_login.lower() + "@"
        matches = [uid for login, uid in self._by_login.items() if login.startswith(prefix)]
        return self.users[matches[0]] if len(matches) == 1 else None

    def user_ids(self) -> Sequence[str]:
        """Return all user ids in ascending order (do not modify)."""
        return self._user_ids

    def emails(self) -> list[str]:
        """Return every user's email, in user id order."""
        return [str(self.users[uid].profile["email"]) for uid in self._user_ids]

    def set_status(self, user: User, status: UserStatus) -> None:
        """Move ``user`` to ``status``, stamping ``statusChanged`` and ``lastUpdated``."""
        now = self.now()
        if status is UserStatus.ACTIVE and user.activated is None:
            user.activated = now
        user.status = status
        user.status_changed = now
        user.last_updated = now

    def set_password_changed(self, user: User) -> None:
        """Record that ``user``'s password changed now."""
        now = self.now()
        user.password_changed = now
        user.has_password = True
        user.last_updated = now

    # groups -----------------------------------------------------------------

    def add_group(
        self,
        name: str,
        description: str = "",
        *,
        group_type: str = "OKTA_GROUP",
        group_id: str | None = None,
        created: datetime | None = None,
    ) -> Group:
        """Add a group; raises ``ValueError`` when the name or id is taken."""
        if name.lower() in self._by_group_name:
            raise ValueError(f"group name already in use: {name}")
        gid = group_id or self.ids.new("00g")
        if gid in self.groups:
            raise ValueError(f"group id already in use: {gid}")
        created = created or self.now()
        group = Group(gid, name, description, group_type, created, created, created)
        self.groups[gid] = group
        self._by_group_name[name.lower()] = gid
        self._memberships[gid] = _Membership()
        _insert_sorted(self._group_ids, gid)
        return group

    def get_group(self, group_id: str) -> Group | None:
        """Return the group with this id, or None."""
        return self.groups.get(group_id)

    def group_by_name(self, name: str) -> Group | None:
        """Return the group named ``name`` (case-insensitive), or None."""
        gid = self._by_group_name.get(name.lower())
        return self.groups[gid] if gid else None

    def group_ids(self) -> Sequence[str]:
        """Return all group ids in ascending order (do not modify)."""
        return self._group_ids

    def add_member(self, group_id: str, user_id: str) -> bool:
        """Put the user in the group; return False when it already was a member."""
        membership = self._memberships[group_id]
        if user_id in membership.members:
            return False
        membership.members.add(user_id)
        membership.ordered = None
        self._user_groups.setdefault(user_id, set()).add(group_id)
        self.groups[group_id].last_membership_updated = self.now()
        return True

    def remove_member(self, group_id: str, user_id: str) -> bool:
        """Take the user out of the group; return False when it was not a member."""
        membership = self._memberships[group_id]
        if user_id not in membership.members:
            return False
        membership.members.discard(user_id)
        membership.ordered = None
        self._user_groups.get(user_id, set()).discard(group_id)
        self.groups[group_id].last_membership_updated = self.now()
        return True

    def is_member(self, group_id: str, user_id: str) -> bool:
        """Whether the user is in the group."""
        return user_id in self._memberships[group_id].members

    def member_ids(self, group_id: str) -> Sequence[str]:
        """Return the group's member ids in ascending order (do not modify)."""
        membership = self._memberships[group_id]
        if membership.ordered is None:
            membership.ordered = sorted(membership.members)
        return membership.ordered

    def groups_of(self, user_id: str) -> list[Group]:
        """Return the user's groups in id order."""
        return [self.groups[gid] for gid in sorted(self._user_groups.get(user_id, ()))]

    # factors ----------------------------------------------------------------

    def add_factor(
        self,
        user_id: str,
        factor_type: str,
        *,
        provider: str = "OKTA",
        vendor_name: str | None = None,
        profile: Mapping[str, Any] | None = None,
        status: str = "ACTIVE",
        factor_id: str | None = None,
    ) -> Factor:
        """Enroll a factor for the user (``push``, ``token:software:totp``, ``sms``, ...)."""
        if user_id not in self.users:
            raise ValueError(f"no such user: {user_id}")
        now = self.now()
        fid = factor_id or self.ids.new(_FACTOR_PREFIXES.get(factor_type, "fct"))
        factor = Factor(
            id=fid,
            user_id=user_id,
            factor_type=factor_type,
            provider=provider,
            vendor_name=vendor_name or provider,
            status=status,
            created=now,
            last_updated=now,
            profile=dict(profile or {}),
        )
        self._factors.setdefault(user_id, {})[fid] = factor
        return factor

    def factors_of(self, user_id: str) -> list[Factor]:
        """Return the user's factors in enrolment order."""
        return list(self._factors.get(user_id, {}).values())

    def remove_factor(self, user_id: str, factor_id: str) -> bool:
        """Unenroll one factor; return False when the user has no such factor."""
        return self._factors.get(user_id, {}).pop(factor_id, None) is not None

    def clear_factors(self, user_id: str) -> int:
        """Unenroll every factor of the user; return how many there were."""
        return len(self._factors.pop(user_id, {}))

    # admin roles ------------------------------------------------------------

    def assign_role(
        self, role_type: str, *, user_id: str | None = None, group_id: str | None = None
    ) -> RoleAssignment:
        """Assign a standard admin role to exactly one of a user or a group."""
        if role_type not in ROLE_TYPES:
            raise ValueError(f"unknown admin role: {role_type}")
        if (user_id is None) == (group_id is None):
            raise ValueError("assign a role to exactly one of user_id or group_id")
        now = self.now()
        rid = self.ids.new("ra1")
        if user_id is not None:
            assignment = RoleAssignment(rid, role_type, "USER", user_id, now, now)
            self._user_roles.setdefault(user_id, []).append(assignment)
        else:
            assert group_id is not None
            assignment = RoleAssignment(rid, role_type, "GROUP", group_id, now, now)
            self._group_roles.setdefault(group_id, []).append(assignment)
        return assignment

    def role_assignments_of(self, user_id: str) -> list[RoleAssignment]:
        """Return the user's admin role assignments: direct ones, then via groups."""
        direct = list(self._user_roles.get(user_id, ()))
        via_groups = [
            assignment
            for gid in sorted(self._user_groups.get(user_id, ()))
            for assignment in self._group_roles.get(gid, ())
        ]
        return direct + via_groups

    def admin_roles_of(self, user_id: str) -> frozenset[str]:
        """Return the role types the user holds, directly or through groups."""
        return frozenset(a.role_type for a in self.role_assignments_of(user_id))

    def group_roles(self, group_id: str) -> frozenset[str]:
        """Return the role types assigned to the group itself."""
        return frozenset(a.role_type for a in self._group_roles.get(group_id, ()))

    # policies ---------------------------------------------------------------

    def add_policy(
        self,
        name: str,
        *,
        policy_type: str = "PASSWORD",
        priority: int | None = None,
        description: str = "",
        status: str = "ACTIVE",
        system: bool = False,
        include_group_ids: Iterable[str] = (),
        settings: Mapping[str, Any] | None = None,
    ) -> Policy:
        """Add a policy; ``priority`` defaults to after the existing ones of its type."""
        now = self.now()
        same_type = self.policies_of_type(policy_type)
        policy = Policy(
            id=self.ids.new("00p"),
            type=policy_type,
            name=name,
            description=description,
            priority=priority if priority is not None else len(same_type) + 1,
            status=status,
            system=system,
            created=now,
            last_updated=now,
            include_group_ids=list(include_group_ids),
            settings=dict(settings or {}),
        )
        self.policies[policy.id] = policy
        self.policy_rules[policy.id] = []
        return policy

    def add_policy_rule(
        self,
        policy_id: str,
        name: str,
        *,
        priority: int | None = None,
        status: str = "ACTIVE",
        system: bool = False,
        conditions: Mapping[str, Any] | None = None,
        actions: Mapping[str, Any] | None = None,
    ) -> PolicyRule:
        """Add a rule to a policy; it takes the policy's type."""
        policy = self.policies[policy_id]
        now = self.now()
        rules = self.policy_rules[policy_id]
        rule = PolicyRule(
            id=self.ids.new("0pr"),
            policy_id=policy_id,
            type=policy.type,
            name=name,
            priority=priority if priority is not None else len(rules) + 1,
            status=status,
            system=system,
            created=now,
            last_updated=now,
            conditions=dict(conditions or {}),
            actions=dict(actions or {}),
        )
        rules.append(rule)
        return rule

    def add_password_policy(
        self,
        name: str,
        *,
        max_age_days: int,
        priority: int | None = None,
        group_ids: Iterable[str] = (),
        description: str = "",
        expire_warn_days: int = 0,
        system: bool = False,
    ) -> Policy:
        """Add a PASSWORD policy (0 days: never expires) with one default rule."""
        policy = self.add_policy(
            name,
            policy_type="PASSWORD",
            priority=priority,
            description=description,
            system=system,
            include_group_ids=group_ids,
            settings=password_settings(max_age_days, expire_warn_days=expire_warn_days),
        )
        self.add_policy_rule(
            policy.id,
            "Default Rule",
            system=system,
            conditions=PASSWORD_RULE_CONDITIONS,
            actions=PASSWORD_RULE_ACTIONS,
        )
        return policy

    def policies_of_type(self, policy_type: str) -> list[Policy]:
        """Return the policies of one type by ascending priority."""
        found = [p for p in self.policies.values() if p.type == policy_type]
        return sorted(found, key=lambda p: p.priority)

    def password_policy_for(self, user_id: str) -> Policy | None:
        """Return the active password policy that governs the user (Okta's evaluation order).

        The first policy by priority whose included groups contain the user wins; a
        policy that includes no groups applies to everyone (Okta's default policy
        targets the Everyone group, which this sandbox does not model).
        """
        groups = self._user_groups.get(user_id, set())
        for policy in self.policies_of_type("PASSWORD"):
            if policy.status != "ACTIVE":
                continue
            if not policy.include_group_ids or groups.intersection(policy.include_group_ids):
                return policy
        return None

    # credentials ------------------------------------------------------------

    def add_api_token(self, value: str, owner_id: str, name: str = "api-token") -> ApiToken:
        """Register an SSWS token acting as ``owner_id``."""
        if owner_id not in self.users:
            raise ValueError(f"no such user: {owner_id}")
        token = ApiToken(value, owner_id, name)
        self.api_tokens[value] = token
        return token

    def add_oauth_client(
        self,
        client_id: str,
        *,
        jwks: Iterable[Mapping[str, Any]],
        scopes: Iterable[str],
        roles: Iterable[str] = (),
    ) -> OAuthClient:
        """Register an OAuth service app that authenticates with ``private_key_jwt``."""
        unknown = set(roles) - ROLE_TYPES
        if unknown:
            raise ValueError(f"unknown admin roles: {sorted(unknown)}")
        client = OAuthClient(client_id, tuple(jwks), frozenset(scopes), frozenset(roles))
        self.oauth_clients[client_id] = client
        return client


_FACTOR_PREFIXES = {
    "push": "opf",
    "token:software:totp": "ostf",
    "sms": "mbl",
    "call": "clf",
    "email": "emf",
    "webauthn": "fwf",
    "question": "ufs",
    "token:hardware": "ykf",
    "signed_nonce": "opf",
}


def _insert_sorted(ids: list[str], new_id: str) -> None:
    if not ids or ids[-1] < new_id:
        ids.append(new_id)
    else:
        insort(ids, new_id)


# seed files ------------------------------------------------------------------


def load_seed(source: str | Path | Mapping[str, Any], *, clock: Clock = time.time) -> OktaState:
    """Build an org from a seed file path or an already-parsed mapping.

    The format is described in :mod:`sandboxes.okta.seed`. Raises ``ValueError`` for
    references to unknown groups or users.
    """
    data: Mapping[str, Any]
    if isinstance(source, Mapping):
        data = source
    else:
        with open(source, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    state = OktaState(clock=clock, seed=data.get("seed", 0))
    now = state.now()
    for group in data.get("groups", ()):
        added = state.add_group(
            group["name"],
            group.get("description", ""),
            group_type=group.get("type", "OKTA_GROUP"),
            created=_when(group, "created", now),
        )
        for role in group.get("roles", ()):
            state.assign_role(role, group_id=added.id)
    for entry in data.get("users", ()):
        _add_seed_user(state, entry, now)
    for policy in data.get("policies", ()):
        state.add_password_policy(
            policy["name"],
            max_age_days=int(policy.get("max_age_days", 0)),
            priority=policy.get("priority"),
            group_ids=[_group_named(state, name).id for name in policy.get("groups", ())],
            description=policy.get("description", ""),
            expire_warn_days=int(policy.get("expire_warn_days", 0)),
            system=bool(policy.get("system", False)),
        )
    for token in data.get("api_tokens", ()):
        owner = state.find_user(token["owner"])
        if owner is None:
            raise ValueError(f"api token {token['name']!r}: no such owner {token['owner']!r}")
        state.add_api_token(str(token["value"]), owner.id, token["name"])
    return state


def _add_seed_user(state: OktaState, entry: Mapping[str, Any], now: datetime) -> User:
    profile: dict[str, Any] = {
        "login": entry["login"],
        "email": entry.get("email", entry["login"]),
        "firstName": entry.get("firstName"),
        "lastName": entry.get("lastName"),
        **entry.get("profile", {}),
    }
    if "displayName" not in profile and profile["firstName"] and profile["lastName"]:
        profile["displayName"] = f"{profile['firstName']} {profile['lastName']}"
    has_password = bool(entry.get("has_password", True))
    user = state.add_user(
        profile,
        status=entry.get("status", UserStatus.ACTIVE),
        created=_when(entry, "created", now) or now - timedelta(days=365),
        last_login=_when(entry, "last_login", now),
        password_changed=_when(entry, "password_changed", now) if has_password else None,
        has_password=has_password,
        recovery_question=entry.get("recovery_question"),
    )
    for name in entry.get("groups", ()):
        state.add_member(_group_named(state, name).id, user.id)
    for role in entry.get("roles", ()):
        state.assign_role(role, user_id=user.id)
    for factor in entry.get("factors", ()):
        state.add_factor(
            user.id,
            factor["type"],
            provider=factor.get("provider", "OKTA"),
            vendor_name=factor.get("vendorName"),
            profile=factor.get("profile"),
            status=factor.get("status", "ACTIVE"),
        )
    return user


def _when(entry: Mapping[str, Any], name: str, now: datetime) -> datetime | None:
    """Read ``<name>_days_ago`` (relative to ``now``) or ``<name>`` (an ISO instant)."""
    if f"{name}_days_ago" in entry:
        return now - timedelta(days=float(entry[f"{name}_days_ago"]))
    value = entry.get(name)
    if value is None:
        return None
    return value if isinstance(value, datetime) else parse_ts(str(value))


def _group_named(state: OktaState, name: str) -> Group:
    group = state.group_by_name(name)
    if group is None:
        raise ValueError(f"no such group: {name!r}")
    return group
