"""What the employee is told when the bot will not or cannot act.

``Refusal`` is a business refusal: ``code`` for tests and the audit trail,
``user_message`` safe to show the employee. Anything that is not a ``Refusal``
is unexpected (a bug, a directory answer nobody planned for); the chat side
answers it with one honest reply (``bot.dialogues.failures``).

Connector errors become refusals in one place: ``refusal_for`` says what the
employee is told for each kind, and ``connector_call`` wraps a connector call
with it. A wrapped call that writes to the directory marks the flow's
``Progress`` first, so an unexpected failure afterwards is not reported as
"nothing was changed".
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from config.i18n import t
from config.logging import get_logger
from connectors.base import Protection, ProtectionKind
from connectors.errors import (
    ConnectorError,
    InvalidState,
    NotSupported,
    OutcomeUnknown,
    PermissionDenied,
    PolicyRejected,
    Unavailable,
    UserNotFound,
)

log = get_logger("helpdesk.errors")


class Refusal(Exception):
    """A business refusal: ``code`` for tests and audit, ``user_message`` for the employee."""

    def __init__(self, code: str, user_message: str) -> None:
        super().__init__(code)
        self.code = code
        self.user_message = user_message


def protections_that_count(
    found: Sequence[Protection], refuse_admin_roles: bool
) -> list[Protection]:
    """The protections that count: admin roles only while ``refuse_admin_roles`` is on."""
    if refuse_admin_roles:
        return list(found)
    return [p for p in found if p.kind is not ProtectionKind.ADMIN_ROLE]


def unavailable(label: str) -> Refusal:
    """``label`` is not answering: logged (with the conversation's correlation id), and refused."""
    log.warning("directory_unavailable", provider=label)
    return Refusal(
        "unavailable",
        t(
            "{label} is not answering; nothing was changed. Please try again in a few minutes.",
            label=label,
        ),
    )


# -- a write whose answer was lost ------------------------------------------------------
# The texts below are what the employee (and IT) are told when a directory write timed out
# or its connection dropped after it was sent: its outcome is unknown until re-read.


def outcome_unknown(label: str, where_to_go: str) -> Refusal:
    """The write's answer was lost and the account could not be re-read; IT was alerted."""
    log.warning("directory_outcome_unknown", provider=label)
    return Refusal(
        "outcome_unknown",
        t(
            "{label} did not answer in time, so I can't tell whether your change was made. "
            "IT has been told and will check your account; please don't try again until they "
            "get back to you. If it's urgent, ask {where}.",
            label=label, where=where_to_go,
        ),
    )


def outcome_unchecked(label: str, where_to_go: str) -> Refusal:
    """The write's answer was lost and nobody re-read the account (no one was alerted)."""
    log.warning("directory_outcome_unchecked", provider=label)
    return Refusal(
        "outcome_unknown",
        t(
            "{label} did not answer in time, so I can't tell whether the change was made. "
            "Please ask {where} to check before trying again.",
            label=label, where=where_to_go,
        ),
    )


def outcome_unknown_alert(who: str, action: str, label: str) -> str:
    """The IT/security channel's alert when a write's outcome could not be learned."""
    return (
        f"{label} did not answer the helpdesk bot's {action} for {who}, and the account could "
        "not be re-read, so whether it was applied is unknown. The employee was told IT will "
        f"check: please look at their {label} account and follow up with them."
    )


def refusal_for(exc: ConnectorError, label: str, where_to_go: str) -> Refusal:
    """What the employee is told when the directory ``label`` raised ``exc``.

    ``where_to_go`` names the people who can help (``the IT desk in #it-help``).
    """
    if isinstance(exc, OutcomeUnknown):
        return outcome_unchecked(label, where_to_go)
    if isinstance(exc, Unavailable):
        return unavailable(label)
    if isinstance(exc, PolicyRejected):
        return Refusal(
            "policy", t("{label} refused: {reason}", label=label, reason=exc.user_message)
        )
    if isinstance(exc, InvalidState):
        return Refusal(
            "account_state",
            t(
                "Your {label} account is not in a state I can change. Please ask {where}.",
                label=label, where=where_to_go,
            ),
        )
    if isinstance(exc, PermissionDenied):
        return Refusal(
            "permission",
            t(
                "I'm not allowed to do that for your {label} account. Please ask {where}.",
                label=label, where=where_to_go,
            ),
        )
    if isinstance(exc, NotSupported):
        return Refusal(
            "not_available",
            t(
                "{label} doesn't support that from chat. Please ask {where}.",
                label=label, where=where_to_go,
            ),
        )
    if isinstance(exc, UserNotFound):
        return Refusal(
            "unknown_user",
            t(
                "I couldn't find your {label} account. Please ask {where}.",
                label=label, where=where_to_go,
            ),
        )
    return Refusal(
        "error",
        t(
            "Something went wrong with {label}; nothing was changed. Ask {where}.",
            label=label, where=where_to_go,
        ),
    )


#: Called with the connector error and its refusal before the refusal is raised (an audit).
OnRefusal = Callable[[ConnectorError, Refusal], Awaitable[None]]


@contextlib.asynccontextmanager
async def connector_call(
    label: str,
    where_to_go: str,
    *,
    catch: type[ConnectorError] | tuple[type[ConnectorError], ...] = ConnectorError,
    writes: bool = False,
    on_refusal: OnRefusal | None = None,
) -> AsyncIterator[None]:
    """Run connector calls whose ``catch`` errors become ``refusal_for``'s refusal.

    ``writes``: the call may change the directory, so the flow's ``Progress`` is
    marked before it is made. Errors outside ``catch`` propagate unchanged.
    """
    if writes:
        changes_may_start()
    try:
        yield
    except catch as exc:
        refusal = refusal_for(exc, label, where_to_go)
        if on_refusal is not None:
            await on_refusal(exc, refusal)
        raise refusal from None


@dataclass
class Progress:
    """How far one flow got, as far as the reply to an unexpected failure must tell.

    ``changing``: a write (to the directory, or a request's state) may have been
    issued, so the employee is not told that nothing was changed.
    """

    changing: bool = False


_progress: ContextVar[Progress | None] = ContextVar("flow_progress", default=None)


@contextlib.contextmanager
def tracking() -> Iterator[Progress]:
    """Track the current flow's ``Progress``; a flow started inside another shares its record."""
    current = _progress.get()
    if current is not None:
        yield current
        return
    progress = Progress()
    token = _progress.set(progress)
    try:
        yield progress
    finally:
        _progress.reset(token)


def changes_may_start() -> None:
    """Record that the current flow is about to issue a write (no-op outside ``tracking``)."""
    current = _progress.get()
    if current is not None:
        current.changing = True
