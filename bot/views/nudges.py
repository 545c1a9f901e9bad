"""Password-expiry nudges in Block Kit: the employee's DM and the IT channel's run summary.

Each nudge carries its key's digest as the ``block_id`` of its first block
(``nudge_marker``), so after a crash the next run can tell from the DM history
whether it went out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from actions.nudges import Nudge, RunSummary, format_counts
from bot.replies import ActionId, Button
from bot.routing import Intent
from bot.views.blocks import button_action_id
from bot.views.text import in_days
from config.i18n import SOURCE, current, format_skeleton, t
from store.nudges import NudgeKey

NUDGE_BLOCK_PREFIX = "hd_nudge."


def nudge_marker(key: NudgeKey) -> str:
    """The ``block_id`` that identifies a nudge's message (at most 255 characters)."""
    return NUDGE_BLOCK_PREFIX + key.digest


def human_time(moment: datetime, zone: ZoneInfo) -> str:
    """``Friday 14 March 2025 at 10:20 GMT`` in ``zone``."""
    local = moment.astimezone(zone)
    if current() == SOURCE:
        day = f"{local:%A} {local.day} {local:%B %Y}"
    else:
        day = format_skeleton("yMMMMEEEEd", local, zone)
    at = t("{date} at {time}", date=day, time=local.strftime("%H:%M"))
    return f"{at} {local.tzname() or ''}".strip()


def slack_date(moment: datetime, fallback: str) -> str:
    """Slack's date token: each reader sees the time in their own zone, else ``fallback``.

    Syntax from api.slack.com/reference/surfaces/formatting#date-formatting.
    """
    token = t("{date} at {time}", date="{date_long_pretty}", time="{time}")
    return f"<!date^{int(moment.timestamp())}^{token}|{fallback}>"


def render_nudge(nudge: Nudge, zone: ZoneInfo) -> tuple[str, list[dict[str, Any]]]:
    """The DM: the date, the days left, the machine note, and "Change it now".

    The date is shown in the person's own zone when the nudge knows it, else in ``zone``.
    """
    zone = nudge.zone or zone
    when = in_days(nudge.days_left)
    fallback = human_time(nudge.expires_at, zone)
    text = t(
        "Your {label} password expires {when}, on {on}.",
        label=nudge.label, when=when, on=fallback,
    )
    body = t(
        "*Your {label} password expires {when}*, on {on}.",
        label=nudge.label, when=when, on=slack_date(nudge.expires_at, fallback),
    ) + "\n" + t("Change it before then so that you are not locked out.")
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "block_id": nudge_marker(nudge.key),
            "text": {"type": "mrkdwn", "text": body},
        }
    ]
    if nudge.note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": nudge.note}]})
    if nudge.offer_reset:
        button = Button(
            t("Change it now"), ActionId.START, f"{Intent.PASSWORD_RESET.value}:{current()}",
            "primary",
        )
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": button.label, "emoji": True},
                        "action_id": button_action_id(button, 0),
                        "value": button.value,
                        "style": "primary",
                    }
                ],
            }
        )
    return text, blocks


def short_duration(seconds: float) -> str:
    """``1h 05m``, ``3m 07s``, ``42s``: how long a run took."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def summary_lines(summary: RunSummary, zone: ZoneInfo) -> list[str]:
    """The run in a few lines: what ran, the counts, the reasons, any errors."""
    if summary.slot is not None:
        what = f"scheduled run of {human_time(summary.slot, zone)}"
    elif summary.dry_run:
        what = "dry run"
    else:
        what = f"{summary.trigger.replace('_', ' ')} run"
    sent = summary.would_nudge if summary.dry_run else summary.nudged
    verb = "would nudge" if summary.dry_run else "nudged"
    lines = [
        f"Password-expiry nudges, {what}: {summary.status} in {short_duration(summary.seconds)}.",
        f"Scanned {summary.scanned:,} · {verb} {sent:,} · skipped {summary.skipped_total:,} "
        f"· failed {summary.failed_total:,}",
    ]
    if summary.skipped:
        lines.append(f"Skipped: {format_counts(summary.skipped)}.")
    if summary.failed:
        lines.append(f"Failed: {format_counts(summary.failed)}.")
    if summary.recovered:
        lines.append(f"Left over from an interrupted run: {format_counts(summary.recovered)}.")
    lines += [f"Problem: {e}" for e in summary.errors[:5]]
    return lines


def render_summary(summary: RunSummary, zone: ZoneInfo) -> tuple[str, list[dict[str, Any]]]:
    """The IT channel's message for one run."""
    lines = summary_lines(summary, zone)
    body = "\n".join([f"*{lines[0]}*", *lines[1:]])
    return lines[0], [{"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}}]
