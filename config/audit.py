"""The ``audit:`` block of ``helpdesk.yaml``: how long the audit trail is kept.

``retention`` is a duration (``400d``, ``52w``) or ``forever`` (also ``null``);
``helpdesk audit prune`` deletes records older than it, ``prune_batch`` rows per
transaction so a large backlog never holds a long lock. The per-employee limits
are counted from the audit trail, so a retention shorter than the longest limit
window is refused: pruning would reset the counts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_FOREVER = frozenset({"forever", "never", "none", "off"})
MIN_RETENTION = timedelta(days=1)


class AuditSettings(BaseModel):
    """Retention of the audit trail; ``retention=None`` keeps every record."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    retention: timedelta | None = timedelta(days=365)
    """Audit records older than this are deleted (daily); `null` keeps every record."""
    prune_batch: int = Field(default=5000, ge=100, le=100_000)
    """Records deleted per statement when pruning."""

    @field_validator("retention", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta | None:
        # Imported here: config.settings imports this module to declare its ``audit`` field.
        from config.durations import parse_duration

        if value is None or (isinstance(value, str) and value.strip().lower() in _FOREVER):
            return None
        duration = parse_duration(value)
        if duration < MIN_RETENTION:
            raise ValueError("retention must be at least 1d (or 'forever')")
        return duration
