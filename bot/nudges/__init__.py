"""Password-expiry nudges in Slack (the sweep itself is :mod:`actions.nudges`).

``slack_api`` (Web API calls paced by the sweep's limiters, 429s waited out),
``recipients`` (email -> Slack user id), ``transport`` (the DM and the IT summary),
``wiring`` (a runner and the scheduler from the configuration) and ``cli``
(``helpdesk nudges``). The message itself is built in :mod:`bot.views.nudges`.
"""

from bot.nudges.cli import ProgressBar, print_dry_run, run_cli
from bot.nudges.recipients import SlackRecipients
from bot.nudges.slack_api import SlackApi, SlackCallError
from bot.nudges.transport import SlackNudgeTransport
from bot.nudges.wiring import build_runner, it_channel_of, nudge_client, start_nudges
from bot.views.nudges import (
    NUDGE_BLOCK_PREFIX,
    nudge_marker,
    render_nudge,
    render_summary,
    summary_lines,
)

__all__ = [
    "NUDGE_BLOCK_PREFIX",
    "ProgressBar",
    "SlackApi",
    "SlackCallError",
    "SlackNudgeTransport",
    "SlackRecipients",
    "build_runner",
    "it_channel_of",
    "nudge_client",
    "nudge_marker",
    "print_dry_run",
    "render_nudge",
    "render_summary",
    "run_cli",
    "start_nudges",
    "summary_lines",
]
