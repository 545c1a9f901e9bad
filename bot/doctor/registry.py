"""The doctor's check families, in report order: a new family is its module and one line here.

Connectors are not listed: every configured connector is an area of its own
(:mod:`bot.doctor.connectors`), after the families.
"""

from __future__ import annotations

from bot import doctor_notices
from bot.doctor import audit, config, slack, verification
from bot.doctor.family import Family

FAMILIES: tuple[Family, ...] = (
    config.FAMILY,
    verification.FAMILY,
    slack.FAMILY,
    audit.FAMILY,
    doctor_notices.FAMILY,
)
