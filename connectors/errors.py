"""The one error tree every connector raises.

::

    ConnectorError(provider)          anything a directory said no to
    ├── NotSupported                  the connector lacks the capability
    ├── UserNotFound                  no such user (by email or id)
    ├── GroupNotFound                 no such group
    ├── PermissionDenied              the service account may not do this
    ├── PolicyRejected                policy refused; ``user_message`` is safe to show
    ├── InvalidState                  the account's state forbids it (suspended, deprovisioned, ...)
    └── Unavailable                   outage, timeout or rate limit; retryable
        └── OutcomeUnknown            a write was sent but no answer came back: it may
                                      have been applied; re-read before telling anyone

Messages never carry secrets: connectors build them from ids and vendor error
codes, never from request bodies.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every connector error; ``provider`` names the connector instance."""

    def __init__(self, provider: str, message: str, *, code: str | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        self.code = code


class NotSupported(ConnectorError):
    """The connector does not implement the capability asked for."""


class UserNotFound(ConnectorError):
    """No user matches."""


class GroupNotFound(ConnectorError):
    """No group matches."""


class PermissionDenied(ConnectorError):
    """The service account lacks the right for this operation or this target."""


class InvalidState(ConnectorError):
    """The account's lifecycle state forbids the operation."""


class PolicyRejected(ConnectorError):
    """The directory's policy refused; ``user_message`` may be shown to the employee."""

    def __init__(
        self, provider: str, message: str, *, user_message: str, code: str | None = None
    ) -> None:
        super().__init__(provider, message, code=code)
        self.user_message = user_message


class Unavailable(ConnectorError):
    """The directory did not answer in time, failed, or rate-limited us; worth retrying later."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(provider, message, code=code)
        self.retry_after = retry_after


class OutcomeUnknown(Unavailable):
    """A write may have reached the directory, but its answer was lost (timeout, dropped
    connection). Whether it was applied is unknown: the caller re-reads the account before
    saying anything, and never repeats the write blindly.

    ``planned`` is what the write was about to change, when the connector knew (the
    number of MFA factors a reset would remove), so a confirmed outcome can be reported.
    """

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        planned: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(provider, message, code=code)
        self.planned = planned
