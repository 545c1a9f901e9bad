"""What the users and groups lists accept in ``search``, ``filter`` and ``q``.

The dialects restate Okta's documented limits
(https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/#tag/User/operation/listUsers
and .../tag/Group/#tag/Group/operation/listGroups):

* users ``search``: profile attributes plus ``id``, ``status``, ``created``,
  ``activated``, ``statusChanged``, ``lastUpdated`` and ``type.id``; ``eq``, ``sw``,
  ranges and ``pr``; ``co`` only on first/last name, email and login; no ``ne``.
  Values compare case-insensitively. ``passwordChanged`` is not searchable in Okta, so
  it is refused here too.
* users ``filter``: ``status``, ``lastUpdated``, ``id`` and login, email, first and
  last name; ``eq`` only (ranges on ``lastUpdated``); no ``not``; case-sensitive.
* groups ``search``: profile attributes plus ``id``, ``type``, ``created``,
  ``lastUpdated``, ``lastMembershipUpdated``; ``co`` only on name and description.
* groups ``filter``: ``id``, ``type``, ``lastUpdated``, ``lastMembershipUpdated``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sandboxes.okta import errors
from sandboxes.okta.errors import OktaError
from sandboxes.okta.expressions import (
    Dialect,
    ExpressionError,
    InvalidDateError,
    Matcher,
    compile_expression,
)
from sandboxes.okta.model import Group, User
from sandboxes.okta.state import OktaState

T = TypeVar("T")

_RANGE = frozenset({"gt", "ge", "lt", "le"})
_SEARCH_OPS = frozenset({"eq", "sw", "pr"}) | _RANGE

USER_SEARCH = Dialect(
    attributes=frozenset(
        {"id", "status", "created", "activated", "statusChanged", "lastUpdated", "type.id"}
    ),
    prefixes=("profile.",),
    default_ops=_SEARCH_OPS,
    ops={
        name: _SEARCH_OPS | {"co"}
        for name in ("profile.firstName", "profile.lastName", "profile.email", "profile.login")
    },
    date_attributes=frozenset({"created", "activated", "statusChanged", "lastUpdated"}),
)

USER_FILTER = Dialect(
    attributes=frozenset(
        {
            "status",
            "lastUpdated",
            "id",
            "profile.login",
            "profile.email",
            "profile.firstName",
            "profile.lastName",
        }
    ),
    default_ops=frozenset({"eq"}),
    ops={"lastUpdated": frozenset({"eq"}) | _RANGE},
    date_attributes=frozenset({"lastUpdated"}),
    allow_not=False,
    case_sensitive=True,
)

GROUP_SEARCH = Dialect(
    attributes=frozenset({"id", "type", "created", "lastUpdated", "lastMembershipUpdated"}),
    prefixes=("profile.",),
    default_ops=_SEARCH_OPS,
    ops={name: _SEARCH_OPS | {"co"} for name in ("profile.name", "profile.description")},
    date_attributes=frozenset({"created", "lastUpdated", "lastMembershipUpdated"}),
)

GROUP_FILTER = Dialect(
    attributes=frozenset({"id", "type", "lastUpdated", "lastMembershipUpdated"}),
    default_ops=frozenset({"eq"}),
    ops={
        "lastUpdated": frozenset({"eq"}) | _RANGE,
        "lastMembershipUpdated": frozenset({"eq"}) | _RANGE,
    },
    date_attributes=frozenset({"lastUpdated", "lastMembershipUpdated"}),
    allow_not=False,
    case_sensitive=True,
)

_USER_FIELDS: dict[str, Callable[[User], Any]] = {
    "id": lambda u: u.id,
    "status": lambda u: u.status.value,
    "created": lambda u: u.created,
    "activated": lambda u: u.activated,
    "statusChanged": lambda u: u.status_changed,
    "lastUpdated": lambda u: u.last_updated,
}

_GROUP_FIELDS: dict[str, Callable[[Group], Any]] = {
    "id": lambda g: g.id,
    "type": lambda g: g.type,
    "created": lambda g: g.created,
    "lastUpdated": lambda g: g.last_updated,
    "lastMembershipUpdated": lambda g: g.last_membership_updated,
    "profile.name": lambda g: g.name,
    "profile.description": lambda g: g.description,
}


def user_resolver(state: OktaState) -> Callable[[User, str], Any]:
    """Return ``resolve(user, attribute)`` for user expressions in this org."""

    def resolve(user: User, attribute: str) -> Any:
        if attribute.startswith("profile."):
            return user.profile.get(attribute[len("profile.") :])
        if attribute == "type.id":
            return state.user_type_id
        field = _USER_FIELDS.get(attribute)
        return field(user) if field else None

    return resolve


def resolve_group(group: Group, attribute: str) -> Any:
    """Read ``attribute`` of a group for group expressions."""
    field = _GROUP_FIELDS.get(attribute)
    return field(group) if field else None


def user_q_matcher(query: str) -> Callable[[User], bool]:
    """Match ``q``: a case-insensitive prefix of first name, last name, email or login."""
    prefix = query.lower()
    keys = ("firstName", "lastName", "email", "login")

    def matches(user: User) -> bool:
        profile = user.profile
        return any(str(profile.get(key) or "").lower().startswith(prefix) for key in keys)

    return matches


def group_q_matcher(query: str) -> Callable[[Group], bool]:
    """Match ``q``: a case-insensitive prefix of the group name."""
    prefix = query.lower()
    return lambda group: group.name.lower().startswith(prefix)


def compile_query(text: str, dialect: Dialect, resolve: Callable[[T, str], Any]) -> Matcher[T]:
    """Compile a ``search``/``filter`` value, or raise Okta's 400 (``E0000031``/``E0000030``)."""
    try:
        return compile_expression(text, dialect, resolve)
    except InvalidDateError as exc:
        raise OktaError(errors.INVALID_DATE, causes=[str(exc)]) from None
    except ExpressionError as exc:
        raise OktaError(errors.INVALID_SEARCH, causes=[str(exc)]) from None
