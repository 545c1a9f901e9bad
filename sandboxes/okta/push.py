"""Okta Verify push challenges: the transactions behind ``POST .../factors/{factorId}/verify``.

What Okta documents (management API, UserFactor: "Verify a factor" and "Retrieve a factor
transaction status",
https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserFactor/):

* verifying a ``push`` factor issues a challenge: 201, ``factorResult: WAITING``, an
  ``expiresAt``, ``_links.poll`` (GET) and ``_links.cancel`` (DELETE) naming the
  transaction; with ``{"useNumberMatchingChallenge": true}`` the answer also carries
  ``_embedded.challenge.correctAnswer``, the number the user must pick in Okta Verify;
* polling the transaction answers ``WAITING`` (again with the challenge when number
  matching), then ``SUCCESS``, ``REJECTED`` or ``TIMEOUT`` (the push expires after five
  minutes unanswered); rejected and timed-out answers link back to ``verify``.

The "phone" is this module's :class:`PushBook`: tests and the demo see the waiting push
(:meth:`PushBook.waiting`), pick a number (a wrong one rejects, as in Okta Verify), deny
it, or let it time out. Number-matching answers are drawn from a seeded generator, so a
seeded org shows the same numbers every run (the demo's scripted lines rely on it).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

#: How long Okta keeps a push waiting for an answer.
PUSH_LIFETIME = timedelta(minutes=5)


@dataclass(slots=True)
class PushTransaction:
    """One push challenge to one factor; ``result`` as Okta spells it."""

    id: str
    user_id: str
    factor_id: str
    created: datetime
    expires_at: datetime
    correct_answer: int | None
    result: str = "WAITING"
    choices: tuple[int, ...] = ()


class PushBook:
    """Every push challenge of an org, and the device side of each (answer, deny, ignore)."""

    def __init__(
        self, now: Callable[[], datetime], new_id: Callable[[], str], seed: object
    ) -> None:
        self._now = now
        self._new_id = new_id
        self._rng = random.Random(f"push:{seed}")
        self._transactions: dict[str, PushTransaction] = {}

    def start(self, user_id: str, factor_id: str, *, number_matching: bool) -> PushTransaction:
        """Issue a challenge; with number matching, a two-digit answer and two decoys."""
        now = self._now()
        answer: int | None = None
        choices: tuple[int, ...] = ()
        if number_matching:
            picked = self._rng.sample(range(10, 100), 3)
            answer, choices = picked[0], tuple(sorted(picked))
        tx = PushTransaction(
            self._new_id(), user_id, factor_id, now, now + PUSH_LIFETIME, answer, "WAITING",
            choices,
        )
        self._transactions[tx.id] = tx
        return tx

    def get(self, user_id: str, factor_id: str, transaction_id: str) -> PushTransaction | None:
        """The transaction as it now stands (an unanswered one past its expiry is TIMEOUT)."""
        tx = self._transactions.get(transaction_id)
        if tx is None or tx.user_id != user_id or tx.factor_id != factor_id:
            return None
        if tx.result == "WAITING" and self._now() >= tx.expires_at:
            tx.result = "TIMEOUT"
        return tx

    # -- the device ---------------------------------------------------------------
    def waiting(self, user_id: str) -> PushTransaction | None:
        """The user's latest unanswered push (what Okta Verify shows), if any."""
        for tx in reversed(self._transactions.values()):
            current = self.get(user_id, tx.factor_id, tx.id) if tx.user_id == user_id else None
            if current is not None and current.result == "WAITING":
                return current
        return None

    def answer(
        self, user_id: str, picked: int | None = None, *, approve: bool = True,
        transaction_id: str | None = None,
    ) -> str:
        """Answer the user's waiting push (or the one ``transaction_id`` names): approve
        (picking ``picked`` when numbers are shown) or deny. A wrong number is a rejection.
        Returns the result."""
        tx = self.waiting(user_id)
        if transaction_id is not None:
            tx = self._transactions.get(transaction_id)
            tx = tx if tx is not None and tx.user_id == user_id and tx.result == "WAITING" else None
        if tx is None:
            raise LookupError(f"no push is waiting for user {user_id}")
        ok = approve and (tx.correct_answer is None or picked == tx.correct_answer)
        tx.result = "SUCCESS" if ok else "REJECTED"
        return tx.result

    def time_out(self, user_id: str) -> None:
        """Let the user's waiting pushes expire unanswered."""
        for tx in self._transactions.values():
            if tx.user_id == user_id and tx.result == "WAITING":
                tx.result = "TIMEOUT"

    def cancel(self, user_id: str, factor_id: str, transaction_id: str) -> bool:
        """``DELETE`` the transaction's cancel link: a waiting push ends as TIMEOUT."""
        tx = self.get(user_id, factor_id, transaction_id)
        if tx is None:
            return False
        if tx.result == "WAITING":
            tx.result = "TIMEOUT"
        return True

    def all(self) -> list[PushTransaction]:
        return list(self._transactions.values())
