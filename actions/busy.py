""""The directory is busy": told once, while a change waits, before its answer.

A chat surface sets :data:`EMPLOYEE_NOTICE` for the turn (how to tell the employee
something now, before the turn's answer). Around a directory write,
:func:`busy_notice` tells them, once, that the directory is busy and the answer is
coming, as soon as the connector reports a rate-limit wait (:mod:`connectors.waits`)
or when the write has taken longer than :data:`SLOW_WRITE_SECONDS`. A fast answer
gets no notice; the notice is always delivered before the block ends, so before the
answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar

from config.clock import SYSTEM_CLOCK, Clock
from config.i18n import N_, t
from config.logging import get_logger
from connectors.waits import listening

log = get_logger("helpdesk.busy")

#: What the employee is told, once, when the directory makes their change wait.
BUSY_TEXT = N_(
    "{label} is busy right now, so this is taking longer than usual. "
    "No need to try again: I'll post the answer here as soon as it's done."
)

#: A write slower than this gets the notice even without a rate-limit answer.
SLOW_WRITE_SECONDS = 2.0

Tell = Callable[[str], Awaitable[None]]

#: How the current turn tells the employee something before its answer (None: it can't).
EMPLOYEE_NOTICE: ContextVar[Tell | None] = ContextVar("employee_notice", default=None)


@contextlib.asynccontextmanager
async def busy_notice(
    label: str, clock: Clock = SYSTEM_CLOCK, *, after: float = SLOW_WRITE_SECONDS
) -> AsyncIterator[None]:
    """Tell the employee once that ``label`` is busy, if the block's calls are kept waiting."""
    tell = EMPLOYEE_NOTICE.get()
    if tell is None:
        yield
        return
    busy = asyncio.Event()
    told = asyncio.Event()

    async def watch() -> None:
        timer = asyncio.ensure_future(clock.sleep(after))
        flagged = asyncio.ensure_future(busy.wait())
        try:
            await asyncio.wait({timer, flagged}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (timer, flagged):
                waiter.cancel()
            await asyncio.gather(timer, flagged, return_exceptions=True)
        told.set()
        try:
            await tell(t(BUSY_TEXT, label=label))
        except Exception as exc:
            # The answer itself still comes; a lost notice is only logged.
            log.warning("busy_notice_failed", error=type(exc).__name__)

    watcher = asyncio.ensure_future(watch())
    try:
        with listening(lambda _seconds: busy.set()):
            yield
    finally:
        if busy.is_set() or told.is_set():
            await watcher  # the notice goes out before the answer
        else:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
