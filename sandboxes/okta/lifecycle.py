"""User lifecycle operations and the statuses each is allowed from.

The table :data:`ALLOWED_FROM` is the single statement of Okta's status rules used
here (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserLifecycle/):
unlock needs ``LOCKED_OUT`` and otherwise answers 403 ``E0000032``; the other
operations answer 403 ``E0000038`` from a status they don't accept. Suspended and
deprovisioned users can only be unsuspended, reactivated or deleted, so password
operations refuse them.
"""

from __future__ import annotations

import enum

from sandboxes.okta import errors
from sandboxes.okta.errors import OktaError
from sandboxes.okta.model import User, UserStatus
from sandboxes.okta.state import OktaState


class Operation(enum.StrEnum):
    """A lifecycle or credential operation the sandbox implements."""

    RESET_PASSWORD = "reset_password"
    EXPIRE_PASSWORD_WITH_TEMP_PASSWORD = "expire_password_with_temp_password"
    UNLOCK = "unlock"
    RESET_FACTORS = "reset_factors"
    UNENROLL_FACTOR = "unenroll_factor"
    SUSPEND = "suspend"


_S = UserStatus
_PASSWORD_STATUSES = frozenset({_S.ACTIVE, _S.LOCKED_OUT, _S.PASSWORD_EXPIRED, _S.RECOVERY})
_FACTOR_STATUSES = _PASSWORD_STATUSES | {_S.SUSPENDED, _S.PROVISIONED}

ALLOWED_FROM: dict[Operation, frozenset[UserStatus]] = {
    Operation.RESET_PASSWORD: _PASSWORD_STATUSES | {_S.PROVISIONED},
    Operation.EXPIRE_PASSWORD_WITH_TEMP_PASSWORD: _PASSWORD_STATUSES,
    Operation.UNLOCK: frozenset({_S.LOCKED_OUT}),
    Operation.RESET_FACTORS: _FACTOR_STATUSES,
    Operation.UNENROLL_FACTOR: _FACTOR_STATUSES,
    # "Perform this operation only on users with an ACTIVE status" (suspendUser).
    Operation.SUSPEND: frozenset({_S.ACTIVE}),
}


def check_allowed(operation: Operation, user: User) -> None:
    """Raise Okta's error when ``user``'s status does not allow ``operation``."""
    if user.status in ALLOWED_FROM[operation]:
        return
    if operation is Operation.UNLOCK:
        raise OktaError(errors.UNLOCK_NOT_ALLOWED, causes=["The user is not locked out."])
    raise OktaError(errors.STATUS_NOT_ALLOWED)


def reset_password(state: OktaState, user: User) -> str:
    """Start a password reset: the user moves to ``RECOVERY``; return the one-time token."""
    check_allowed(Operation.RESET_PASSWORD, user)
    state.set_status(user, UserStatus.RECOVERY)
    return state.ids.token(20)


def expire_password_with_temp_password(state: OktaState, user: User) -> str:
    """Set a temporary password and expire it; return the temporary password."""
    check_allowed(Operation.EXPIRE_PASSWORD_WITH_TEMP_PASSWORD, user)
    state.set_password_changed(user)
    state.set_status(user, UserStatus.PASSWORD_EXPIRED)
    return state.ids.token(8)


def unlock(state: OktaState, user: User) -> None:
    """Unlock a locked-out user, who becomes ``ACTIVE``."""
    check_allowed(Operation.UNLOCK, user)
    state.set_status(user, UserStatus.ACTIVE)


def suspend(state: OktaState, user: User) -> None:
    """Suspend an ``ACTIVE`` user, who then can't sign in; their sessions end."""
    check_allowed(Operation.SUSPEND, user)
    state.set_status(user, UserStatus.SUSPENDED)
    user.sessions = 0


def revoke_sessions(state: OktaState, user: User) -> None:
    """End every sign-in session of the user (``DELETE /users/{id}/sessions``)."""
    user.sessions = 0
    user.last_updated = state.now()


def reset_factors(state: OktaState, user: User) -> None:
    """Unenroll every MFA factor of the user; the status does not change."""
    check_allowed(Operation.RESET_FACTORS, user)
    state.clear_factors(user.id)
    user.last_updated = state.now()


def unenroll_factor(state: OktaState, user: User, factor_id: str) -> None:
    """Unenroll one factor; 404 ``E0000007`` when the user has no such factor."""
    if not any(f.id == factor_id for f in state.factors_of(user.id)):
        raise errors.not_found(factor_id, "UserFactor")
    check_allowed(Operation.UNENROLL_FACTOR, user)
    state.remove_factor(user.id, factor_id)


def complete_recovery(state: OktaState, user: User) -> None:
    """Simulate the user finishing a reset or changing an expired password: back to ``ACTIVE``."""
    state.set_password_changed(user)
    state.set_status(user, UserStatus.ACTIVE)
