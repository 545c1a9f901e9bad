"""Fault injection: make the next requests fail, hang, or all requests slow.

Tests arm faults from any thread while the server runs::

    sb.faults.fail_next(2, status=503, path="/api/v1/users/*")
    sb.faults.hang_next(seconds=5)
    sb.faults.lose_answer_next(seconds=5, path="/api/v1/users/*/lifecycle/unlock")
    sb.faults.latency = 0.2

``path`` is a glob (``fnmatch``) over the request path; ``method`` is matched exactly.
Each armed fault is used up by the first matching requests, in the order armed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(slots=True)
class Fault:
    """One armed fault: answer ``status`` and/or hang ``hang_seconds`` first.

    ``after``: the request is handled (a write applied) and only its answer is held
    ``hang_seconds``, as when Okta acted but the answer was lost on the way back.
    """

    remaining: int
    status: int | None
    hang_seconds: float
    path: str | None
    method: str | None
    after: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or fnmatchcase(path, self.path)


class FaultInjector:
    """Armed faults and the latency added to every request."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` and an Okta error."""
        self._arm(Fault(count, status, 0.0, path, method))

    def hang_next(
        self,
        count: int = 1,
        *,
        seconds: float,
        path: str | None = None,
        method: str | None = None,
        then_status: int | None = None,
    ) -> None:
        """Hold the next ``count`` matching requests ``seconds``, then answer normally.

        With ``then_status`` they answer that error after the wait instead.
        """
        self._arm(Fault(count, then_status, seconds, path, method))

    def lose_answer_next(
        self,
        count: int = 1,
        *,
        seconds: float,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Handle the next ``count`` matching requests (a write is applied), then hold their
        answers ``seconds``: a client with a shorter timeout never learns the outcome."""
        self._arm(Fault(count, None, seconds, path, method, after=True))

    def take(self, method: str, path: str) -> Fault | None:
        """Use up one matching fault, if any, and return it."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> int:
        """Return how many faulty responses are still armed."""
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def clear(self) -> None:
        """Disarm every fault and drop the latency."""
        with self._lock:
            self._faults.clear()
        self.latency = 0.0

    def _arm(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(fault)
