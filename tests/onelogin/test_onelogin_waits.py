"""OneLogin's rate-limit waits are heard by whoever listens (the employee's busy notice)."""

from __future__ import annotations

from connectors.waits import listening
from sandboxes.onelogin import ManualClock, OneLoginSandbox
from tests.onelogin.test_onelogin_http import clock, timed, timed_connector, user_id

__all__ = ["clock", "timed"]  # the fixtures, shared with the HTTP tests


async def test_a_429_waited_out_is_heard(
    timed: OneLoginSandbox, clock: ManualClock
) -> None:
    connector, sleeper = timed_connector(timed, clock)
    uid = user_id(timed, "ada@example.com")
    heard: list[float] = []
    try:
        await connector.get_user(uid)
        with listening(heard.append):
            await connector.get_user(uid)  # answered at once: nothing to hear
            assert heard == []
            clock.advance(15)
            timed.limiter.exhaust()  # another client of the account spent the budget
            await connector.get_user(uid)  # a 429, waited out
        assert heard == sleeper.waits and len(heard) == 1
        await connector.get_user(uid)  # heard only inside the block
        assert len(heard) == 1
    finally:
        await connector.aclose()
