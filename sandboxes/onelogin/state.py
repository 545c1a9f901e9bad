"""The sandbox's OneLogin account: users, roles, groups, policies, MFA devices, privileges.

Build one with :func:`load_seed` (a mapping or YAML text/file) or the ``add_*``
methods. Ids are numeric like OneLogin's, except privilege ids (UUIDs) and device
ids (numeric strings). Passwords are kept only as salted hashes.

Seed format::

    clients:    [{client_id: demo, client_secret: demo-secret}]
    policies:   [{id: 1, name: Standard, password_expiration_days: 90,
                  minimum_password_length: 8, default: true}]
    groups:     [{id: 10, name: Employees, policy: Standard}]
    roles:      [{id: 201, name: it-admins}]
    privileges: [{name: Super User, users: [root@example.com], roles: [it-admins]}]
    users:
      - email: ada@example.com
        firstname: Ada
        group: Employees
        roles: [figma-editors]
        status: active            # or locked, suspended, password_expired, ... or 0-8
        password_age_days: 10     # password_changed_at = now - 10 days; null: never set
        devices: [{factor: OneLogin Protect, name: Ada's phone}]
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sandboxes.onelogin.push import ProtectPushes

STATUS_NAMES: dict[str, int] = {
    "unactivated": 0,
    "active": 1,
    "suspended": 2,
    "locked": 3,
    "password_expired": 4,
    "awaiting_password_reset": 5,
    "password_pending": 7,
    "security_questions_required": 8,
}
VALID_STATUSES = frozenset(STATUS_NAMES.values())
VALID_STATES = frozenset({0, 1, 2, 3})
STATUS_LOCKED = 3


@dataclass
class SandboxUser:
    """One OneLogin user; instants are epoch seconds."""

    id: int
    email: str
    username: str
    firstname: str = ""
    lastname: str = ""
    status: int = 1
    state: int = 1
    group_id: int | None = None
    locked_until: float | None = None
    password_changed_at: float | None = None
    invalid_login_attempts: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    salt: str = field(default_factory=lambda: secrets.token_hex(8))
    password_hashes: list[str] = field(default_factory=list)
    #: Open OneLogin sessions (a count: enough to show a log-out ended them).
    sessions: int = 1

    def is_locked(self, now: float) -> bool:
        """Status 3, or a ``locked_until`` still in the future."""
        if self.status == STATUS_LOCKED:
            return True
        return self.locked_until is not None and self.locked_until > now

    def hash_password(self, password: str) -> str:
        return hashlib.sha256((self.salt + password).encode()).hexdigest()


@dataclass
class SandboxRole:
    id: int
    name: str
    user_ids: set[int] = field(default_factory=set)
    admin_ids: set[int] = field(default_factory=set)


@dataclass
class SandboxGroup:
    id: int
    name: str
    policy_id: int | None = None


@dataclass
class SandboxPolicy:
    """A user policy; only the fields the sandbox enforces or reports."""

    id: int
    name: str
    password_expiration_days: int = 0
    minimum_password_length: int = 8
    # 0 none, 1 letters and digits, 2 mixed case and digits, 3 plus a special character.
    password_complexity_requirements: int = 0
    passwords_remembered: int = 0
    lock_effective_minutes: int = 0


@dataclass
class SandboxDevice:
    device_id: str
    user_id: int
    auth_factor_name: str
    type_display_name: str
    user_display_name: str
    default: bool = False


@dataclass
class SandboxPrivilege:
    id: str
    name: str
    description: str = ""
    user_ids: set[int] = field(default_factory=set)
    role_ids: set[int] = field(default_factory=set)


@dataclass
class ApiCredential:
    client_id: str
    client_secret: str


class OneLoginState:
    """Everything the sandbox knows, mutable by tests between requests."""

    def __init__(self) -> None:
        self.users: dict[int, SandboxUser] = {}
        self.roles: dict[int, SandboxRole] = {}
        self.groups: dict[int, SandboxGroup] = {}
        self.policies: dict[int, SandboxPolicy] = {}
        self.devices: dict[str, SandboxDevice] = {}
        self.privileges: dict[str, SandboxPrivilege] = {}
        self.clients: dict[str, ApiCredential] = {}
        self.default_policy_id: int | None = None
        self._next_user_id = 40_000_001
        self._next_role_id = 300_001
        self._next_device_id = 7_000_001
        # OneLogin Protect pushes and the phone that answers them (sandboxes.onelogin.push).
        self.pushes = ProtectPushes(time.time)

    # -- building ---------------------------------------------------------------
    def add_client(self, client_id: str, client_secret: str) -> ApiCredential:
        cred = ApiCredential(client_id, client_secret)
        self.clients[client_id] = cred
        return cred

    def add_policy(self, policy: SandboxPolicy, *, default: bool = False) -> SandboxPolicy:
        self.policies[policy.id] = policy
        if default:
            self.default_policy_id = policy.id
        return policy

    def add_group(self, group_id: int, name: str, policy_id: int | None = None) -> SandboxGroup:
        group = SandboxGroup(group_id, name, policy_id)
        self.groups[group_id] = group
        return group

    def add_role(self, name: str, role_id: int | None = None) -> SandboxRole:
        rid = role_id if role_id is not None else self._next_role_id
        self._next_role_id = max(self._next_role_id, rid) + 1
        role = SandboxRole(rid, name)
        self.roles[rid] = role
        return role

    def add_user(
        self,
        email: str,
        *,
        now: float,
        user_id: int | None = None,
        username: str | None = None,
        firstname: str = "",
        lastname: str = "",
        status: int = 1,
        state: int = 1,
        group_id: int | None = None,
        password_changed_at: float | None = None,
        locked_until: float | None = None,
    ) -> SandboxUser:
        uid = user_id if user_id is not None else self._next_user_id
        self._next_user_id = max(self._next_user_id, uid) + 1
        user = SandboxUser(
            id=uid,
            email=email,
            username=username if username is not None else email.split("@")[0],
            firstname=firstname,
            lastname=lastname,
            status=status,
            state=state,
            group_id=group_id,
            locked_until=locked_until,
            password_changed_at=password_changed_at,
            created_at=now,
            updated_at=now,
        )
        self.users[uid] = user
        return user

    def add_device(
        self, user_id: int, factor: str, name: str = "", *, default: bool = False
    ) -> SandboxDevice:
        device = SandboxDevice(
            device_id=str(self._next_device_id),
            user_id=user_id,
            auth_factor_name=factor,
            type_display_name=factor,
            user_display_name=name or factor,
            default=default,
        )
        self._next_device_id += 1
        self.devices[device.device_id] = device
        return device

    def add_privilege(self, name: str, description: str = "") -> SandboxPrivilege:
        privilege = SandboxPrivilege(str(uuid.uuid4()), name, description)
        self.privileges[privilege.id] = privilege
        return privilege

    # -- queries and helpers for tests --------------------------------------------
    def user_by_email(self, email: str) -> SandboxUser:
        """The user with this email (any case); ``KeyError`` if none."""
        for user in self.users.values():
            if user.email.lower() == email.lower():
                return user
        raise KeyError(email)

    def role_by_name(self, name: str) -> SandboxRole:
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(name)

    def role_ids_of(self, user_id: int) -> list[int]:
        return sorted(r.id for r in self.roles.values() if user_id in r.user_ids)

    def devices_of(self, user_id: int) -> list[SandboxDevice]:
        return [d for d in self.devices.values() if d.user_id == user_id]

    def policy_of(self, user: SandboxUser) -> SandboxPolicy | None:
        """The user's policy: their group's, else the account default."""
        group = self.groups.get(user.group_id) if user.group_id is not None else None
        policy_id = group.policy_id if group and group.policy_id else self.default_policy_id
        return self.policies.get(policy_id) if policy_id is not None else None

    def lock(self, user: SandboxUser, *, now: float, minutes: int = 0) -> None:
        """Lock like ``PUT /api/1/users/{id}/lock_user``; 0 minutes uses the policy's period."""
        if minutes <= 0:
            policy = self.policy_of(user)
            minutes = policy.lock_effective_minutes if policy else 0
        user.status = STATUS_LOCKED
        user.locked_until = now + minutes * 60 if minutes > 0 else None
        user.updated_at = now

    def check_password(self, user_id: int, password: str) -> bool:
        """Whether ``password`` is the user's current password."""
        user = self.users[user_id]
        return bool(user.password_hashes) and user.password_hashes[-1] == user.hash_password(
            password
        )


def load_seed(source: Mapping[str, Any] | str | Path, *, now: float) -> OneLoginState:
    """Build a state from a seed mapping, YAML text or a YAML file path."""
    if isinstance(source, Path):
        data: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    elif isinstance(source, str):
        data = yaml.safe_load(source)
    else:
        data = source
    if not isinstance(data, Mapping):
        raise ValueError("a OneLogin sandbox seed is a mapping")
    state = OneLoginState()
    for client in data.get("clients", []):
        state.add_client(str(client["client_id"]), str(client["client_secret"]))
    policy_ids: dict[str, int] = {}
    for raw in data.get("policies", []):
        policy = SandboxPolicy(
            id=int(raw["id"]),
            name=str(raw["name"]),
            password_expiration_days=int(raw.get("password_expiration_days", 0)),
            minimum_password_length=int(raw.get("minimum_password_length", 8)),
            password_complexity_requirements=int(raw.get("password_complexity_requirements", 0)),
            passwords_remembered=int(raw.get("passwords_remembered", 0)),
            lock_effective_minutes=int(raw.get("lock_effective_minutes", 0)),
        )
        state.add_policy(policy, default=bool(raw.get("default", False)))
        policy_ids[policy.name] = policy.id
    group_ids: dict[str, int] = {}
    for raw in data.get("groups", []):
        policy_ref = raw.get("policy")
        policy_id = policy_ids[policy_ref] if isinstance(policy_ref, str) else policy_ref
        group = state.add_group(int(raw["id"]), str(raw["name"]), policy_id)
        group_ids[group.name] = group.id
    for raw in data.get("roles", []):
        state.add_role(str(raw["name"]), raw.get("id"))
    for raw in data.get("users", []):
        _seed_user(state, raw, now=now, group_ids=group_ids)
    for raw in data.get("privileges", []):
        privilege = state.add_privilege(str(raw["name"]), str(raw.get("description", "")))
        privilege.user_ids = {state.user_by_email(e).id for e in raw.get("users", [])}
        privilege.role_ids = {state.role_by_name(r).id for r in raw.get("roles", [])}
    return state


def _seed_user(
    state: OneLoginState, raw: Mapping[str, Any], *, now: float, group_ids: Mapping[str, int]
) -> SandboxUser:
    status = raw.get("status", 1)
    status_code = STATUS_NAMES[status] if isinstance(status, str) else int(status)
    age = raw.get("password_age_days", 1)
    group = raw.get("group")
    user = state.add_user(
        str(raw["email"]),
        now=now,
        user_id=raw.get("id"),
        username=raw.get("username"),
        firstname=str(raw.get("firstname", "")),
        lastname=str(raw.get("lastname", "")),
        status=status_code,
        state=int(raw.get("state", 1)),
        group_id=group_ids[group] if isinstance(group, str) else group,
        password_changed_at=None if age is None else now - float(age) * 86400,
    )
    if status_code == STATUS_LOCKED:
        minutes = int(raw.get("locked_minutes", 0))
        user.locked_until = now + minutes * 60 if minutes > 0 else None
    if raw.get("password"):
        user.password_hashes.append(user.hash_password(str(raw["password"])))
    for role_name in raw.get("roles", []):
        state.role_by_name(str(role_name)).user_ids.add(user.id)
    for i, device in enumerate(raw.get("devices", [])):
        state.add_device(
            user.id, str(device["factor"]), str(device.get("name", "")), default=(i == 0)
        )
    return user
