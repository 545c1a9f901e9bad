"""Password-expiry nudges: whom to remind today, at most once per threshold, and the sweep.

A run asks every connector with the expiry capability for the users whose password
expires within the largest threshold (``iter_expiring``: the directory filters on
its side where it can), and for each one decides:

* the days left, counted in calendar days of the person's own time zone (from their
  stored Slack profile), else the schedule's;
* the threshold due: the smallest one at or above the days left (with 14, 7, 3, 1,
  eight days left is the 14-day nudge, two days left the 3-day one);
* the durable key (provider, user id, password change time, threshold): a key that
  already has a row was handled, and a new password means new keys, so a changed
  password ends the nudges;
* exclusions (members of ``exclude_groups``), then the Slack account (quiet mode:
  no account is a skip, not a failure).

The sweep is a pipeline, so the slowest API sets the pace and the others keep up:
directory pages feed a screening stage (group checks), whose survivors wait for
their Slack id; each person whose id is known goes to delivery at once, whatever
the order the ids arrive in. Every call passes through a client-side limiter
(:mod:`actions.ratelimit`).

Exactly once: delivery writes the key's row (``sending``) before posting and marks
it ``sent`` after. A crash in between leaves ``sending``; the next run looks for
the message in Slack (the message carries the key's digest) and either records it
or sends it. Slack itself stays behind the :class:`NudgeTransport` protocol
(``bot.nudges`` implements it).

The package: ``model`` (sources, nudges, the transport port, run summaries),
``decide`` (who is due, the sources and limiters), ``sweep`` (one pass),
``runner`` (sweeps as jobs, the dry run).
"""

from actions.jobs import LeaseLost
from actions.nudges.decide import (
    assess,
    build_limiters,
    days_until,
    due_threshold,
    password_version,
    sources_for,
    window_end,
)
from actions.nudges.model import (
    LEASE_NAME,
    SWEEP_JOB,
    Decision,
    Delivered,
    DeliveryFailed,
    GroupMemberLister,
    HistoryUnavailable,
    Nudge,
    NudgeSource,
    NudgeTransport,
    RunSummary,
    SkipReason,
    format_counts,
)
from actions.nudges.runner import NudgeRunner, dry_run
from actions.nudges.sweep import NudgeSweep
from store.nudges import NudgeKey

__all__ = [
    "LEASE_NAME",
    "SWEEP_JOB",
    "Decision",
    "Delivered",
    "DeliveryFailed",
    "GroupMemberLister",
    "HistoryUnavailable",
    "LeaseLost",
    "Nudge",
    "NudgeKey",
    "NudgeRunner",
    "NudgeSource",
    "NudgeSweep",
    "NudgeTransport",
    "RunSummary",
    "SkipReason",
    "assess",
    "build_limiters",
    "days_until",
    "dry_run",
    "due_threshold",
    "format_counts",
    "password_version",
    "sources_for",
    "window_end",
]
