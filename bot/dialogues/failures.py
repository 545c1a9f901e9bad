"""The one answer to an unexpected failure: an honest reply to the employee and an error log.

Everything that drives the conversation goes through ``answered``: the
conversation's entry points, the Slack surface around a listener's whole work
(identity, flow, delivery), the terminal demo around a turn. A ``Refusal`` that
got this far is still a business answer and is shown as such; any other
exception is logged at ``error`` with the correlation id, the flow, the
exception's type and where it was raised (never its message, which could carry
what a directory echoed back), and the employee is told so, with the
correlation id as the reference IT can look up.

The reply says "nothing was changed" only while no write may have been issued
(``actions.errors.Progress``); after that it says the bot could not finish.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

from actions.audit import correlation_id
from actions.errors import Progress, Refusal, tracking
from bot.replies import Reply
from config.i18n import N_, t
from config.logging import get_logger

log = get_logger("helpdesk.failures")

T = TypeVar("T")

NOTHING_CHANGED = N_(
    "Something went wrong on my side, so nothing was changed. "
    "IT has been told (reference {reference})."
)
NOT_FINISHED = N_(
    "Something went wrong on my side and I couldn't finish what I started. "
    "IT has been told (reference {reference})."
)


def _raised_at(exc: BaseException) -> str:
    """``module.py:function:line`` of the innermost frame: where to look, without the message."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{os.path.basename(code.co_filename)}:{code.co_name}:{tb.tb_lineno}"


def failure_reply(exc: BaseException, flow: str, progress: Progress) -> Reply:
    """Log ``exc`` as the failure of ``flow`` and return what the employee is told."""
    reference = correlation_id()
    log.error(
        "flow_failed",
        flow=flow,
        error=type(exc).__name__,
        at=_raised_at(exc),
        changes_started=progress.changing,
        correlation_id=reference,
    )
    wording = NOT_FINISHED if progress.changing else NOTHING_CHANGED
    return Reply(t(wording, reference=reference))


async def answered(flow: str, work: Callable[[], Awaitable[T]], reply: Callable[[Reply], T]) -> T:
    """``work()``'s answer; if it fails, ``reply(r)`` with ``r`` what the employee is told.

    ``flow`` names the entry point in the log (``message``, ``button:hd_confirm``...).
    Nested calls share one ``Progress``, so an outer failure (a message that could not
    be delivered) still knows whether the inner flow had started changing things.
    """
    with tracking() as progress:
        try:
            return await work()
        except Refusal as refusal:
            log.info("flow_refused", flow=flow, code=refusal.code)
            return reply(Reply(refusal.user_message))
        except Exception as exc:
            return reply(failure_reply(exc, flow, progress))


def as_list(reply: Reply) -> list[Reply]:
    """``answered``'s ``reply`` for flows that answer with a list of replies."""
    return [reply]


def as_is(reply: Reply) -> Reply | None:
    """``answered``'s ``reply`` for work that answers nothing unless it fails."""
    return reply
