"""A connector says when the directory makes it wait (a rate limit), for whoever is waiting.

Connectors wait out a 429 or a spent rate-limit budget themselves; the person waiting on
the other end should hear that the directory is busy rather than nothing at all. The
caller listens for the duration of one call (:func:`listening`, a context variable, so
concurrent calls each hear only their own waits); a connector calls :func:`waiting`
right before it sleeps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

Listener = Callable[[float], None]

_LISTENER: ContextVar[Listener | None] = ContextVar("directory_wait_listener", default=None)


def waiting(seconds: float) -> None:
    """The directory makes this call wait ``seconds`` (a 429, a spent budget)."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(seconds)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Hear the waits of the calls made inside the block (in this task and its children)."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)
