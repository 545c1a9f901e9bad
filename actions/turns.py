"""The request being worked on (a Slack request's inbox key), for what happens once per request.

Set by whoever starts a request's work (``start_turn``: the Slack inbox, per claimed
request). A request run again after its process died has the same key, so the messages it
stores get the same idempotency keys (``bot.slack.outbox``: nothing is sent twice), the
confirmation it claimed is its own again (``Store.claim_pending(by=turn_key())``) and so is
the employee's action lease (``SelfService``): it finishes what it started instead of
waiting its own lease out. Outside a request (the terminal demo, a test) there is none.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextvars import ContextVar

#: The request's key and how many messages it has stored.
TURN: ContextVar[tuple[str, Iterator[int]] | None] = ContextVar("outbox_turn", default=None)


def start_turn(request_key: str) -> None:
    """Work from here on (in this context) is request ``request_key``'s."""
    TURN.set((request_key, itertools.count()))


def turn_key() -> str | None:
    """The key of the request being worked on, if any."""
    turn = TURN.get()
    return turn[0] if turn is not None else None
