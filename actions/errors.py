"""What the employee is told when the bot will not or cannot act.

``Refusal`` is a business refusal: ``code`` for tests and the audit trail,
``user_message`` safe to show the employee. Anything that is not a ``Refusal``
is unexpected (a bug, a directory answer nobody planned for).
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import Protection, ProtectionKind


class Refusal(Exception):
    """A business refusal: ``code`` for tests and audit, ``user_message`` for the employee."""

    def __init__(self, code: str, user_message: str) -> None:
        super().__init__(code)
        self.code = code
        self.user_message = user_message


def protections_that_count(
    found: Sequence[Protection], refuse_admin_roles: bool
) -> list[Protection]:
    """The protections that count: admin roles only while ``refuse_admin_roles`` is on."""
    if refuse_admin_roles:
        return list(found)
    return [p for p in found if p.kind is not ProtectionKind.ADMIN_ROLE]
