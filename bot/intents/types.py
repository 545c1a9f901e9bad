"""Value types of the intent router: intents, catalogue entries, results.

Everything here is immutable so a built router can be shared between threads.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Intent(enum.StrEnum):
    """What an employee wants; the values are the names used in config and output."""

    GROUP_ACCESS = "group_access"
    PASSWORD_RESET = "password_reset"
    ACCOUNT_UNLOCK = "account_unlock"
    MFA_RESET = "mfa_reset"
    PASSWORD_EXPIRY = "password_expiry"
    GREETING = "greeting"
    THANKS = "thanks"
    HELP = "help"
    OUT_OF_SCOPE = "out_of_scope"


#: Intents that start an action; the ones worth offering as "did you mean" buttons.
ACTIONABLE: tuple[Intent, ...] = (
    Intent.PASSWORD_RESET,
    Intent.ACCOUNT_UNLOCK,
    Intent.MFA_RESET,
    Intent.PASSWORD_EXPIRY,
    Intent.GROUP_ACCESS,
)


@dataclass(frozen=True, slots=True)
class GroupChoice:
    """One requestable group of the catalogue, as far as matching needs it.

    ``key`` is the catalogue key reported back; the other fields are only
    used to recognise the group in free text. ``aliases`` hold in every
    language, ``aliases_by_language`` only in messages of that language
    (``(("es", ("escritorio remoto",)),)``).
    """

    key: str
    display_name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    aliases_by_language: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def names(self, language: str | None = None) -> tuple[str, ...]:
        """Key, display name and aliases (plus those of ``language``)."""
        extra = [a for code, found in self.aliases_by_language if code == language for a in found]
        return (self.key, self.display_name, *self.aliases, *extra)


@dataclass(frozen=True, slots=True)
class Classification:
    """The router's reading of one message.

    ``confidence`` is the probability (0..1) of ``intent``; ``alternatives``
    ranks every intent, best first, as ``(intent, probability)``; ``group`` is a
    catalogue key, only ever set for ``group_access``; ``needs_clarification``
    says the bot should ask (buttons) rather than act; ``language`` is the
    message's language (ISO 639-1) as the router read it.
    """

    intent: Intent
    confidence: float
    group: str | None
    alternatives: list[tuple[Intent, float]] = field(default_factory=list)
    needs_clarification: bool = False
    language: str = "en"

    def options(self, limit: int = 3) -> list[Intent]:
        """The actionable intents to offer as buttons, most likely first."""
        ranked = [intent for intent, _ in self.alternatives if intent in ACTIONABLE]
        return ranked[:limit]
