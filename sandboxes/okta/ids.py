"""Okta-shaped object ids that sort in creation order.

Okta ids are 20 characters: a 3-character type prefix (``00u`` users, ``00g`` groups,
``00p`` policies, ...) and 17 base-62 characters. Here the first 7 of those encode a
per-prefix counter (in ASCII order, so ids compare like the counter) and the last 10
are random. Ordered ids let the users list find an ``after`` cursor by bisection.
"""

from __future__ import annotations

import random

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_COUNTER_WIDTH = 7
_ID_LENGTH = 20


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, "0")


class IdFactory:
    """Mint ids per prefix; the same ``seed`` mints the same ids in the same order."""

    def __init__(self, seed: int | str | None = 0) -> None:
        self._rng = random.Random(seed)
        self._counters: dict[str, int] = {}

    def new(self, prefix: str) -> str:
        """Return the next id for ``prefix`` (e.g. ``00u``), 20 characters long."""
        count = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = count
        random_len = _ID_LENGTH - len(prefix) - _COUNTER_WIDTH
        tail = "".join(self._rng.choices(ALPHABET, k=random_len))
        return prefix + _base62(count, _COUNTER_WIDTH) + tail

    def token(self, length: int = 20) -> str:
        """Return a random base-62 string, for one-time tokens and temporary passwords."""
        return "".join(self._rng.choices(ALPHABET, k=length))
