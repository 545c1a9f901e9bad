"""Secret values: strings that never show themselves, and the ones the log redactor knows.

Apart from :mod:`config.secrets` (where a secret comes from, a pydantic model) so that
what only carries and redacts secrets (the logging, the Slack ingress process) does not
load pydantic.
"""

from __future__ import annotations

from collections import OrderedDict

_LIVE_SECRETS: OrderedDict[str, None] = OrderedDict()
_LIVE_SECRETS_MAX = 10_000


def live_secret_values() -> list[str]:
    """Values of recently made ``Secret`` objects, longest first, for log redaction."""
    return sorted(_LIVE_SECRETS, key=len, reverse=True)


class Secret:
    """A string that never shows itself in ``repr``/``str``/logs; ``reveal()`` is explicit.

    Every value is also remembered (bounded) so the log redactor can scrub it
    even from free text that a library formatted.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= 6:
            _LIVE_SECRETS[value] = None
            _LIVE_SECRETS.move_to_end(value)
            while len(_LIVE_SECRETS) > _LIVE_SECRETS_MAX:
                _LIVE_SECRETS.popitem(last=False)

    def reveal(self) -> str:
        """Return the secret; call only where it is delivered to its owner."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
