"""A local fake of Slack's Web API and a sender of signed Slack requests, for tests and benchmarks.

Modules (import from here; the rest is internal):

- ``model``: the seeded workspace (``Workspace.from_dict``/``from_yaml``): users, channels, groups.
- ``state``: ``SlackState``, the live conversations plus the recorder tests read.
- ``records``: what it stores (``Message`` with ``revisions``, ``Call``, ``View`` ...).
- ``web_api``: ``create_slack_app`` (Starlette) answering ``/api/<method>`` and response_urls.
- ``ratelimit``: ``RateLimits``/``Limit``/``Rule``, Slack's tiers as token buckets.
- ``server``: ``run_slack_fake`` (async) and ``run_slack_fake_in_thread`` (sync), port 0.
- ``events``: ``SlackEventSender``, signed events, clicks, slash commands, submissions.
"""

from sandboxes.slack.clock import ManualClock
from sandboxes.slack.events import ACK_DEADLINE, Delivery, SlackEventSender, signature
from sandboxes.slack.model import (
    DEFAULT_BOT_SCOPES,
    DEFAULT_BOT_TOKEN,
    EXAMPLE_WORKSPACE,
    App,
    Channel,
    Token,
    User,
    UserGroup,
    Workspace,
)
from sandboxes.slack.payloads import AppIdentity
from sandboxes.slack.ratelimit import TIER_1, TIER_2, TIER_3, TIER_4, Limit, RateLimits, Rule
from sandboxes.slack.records import Call, Ephemeral, Fault, Message, ResponsePost, View
from sandboxes.slack.server import RunningSlackFake, run_slack_fake, run_slack_fake_in_thread
from sandboxes.slack.socket_mode import SocketModeLink, SocketModeTransport
from sandboxes.slack.state import SlackState
from sandboxes.slack.web_api import create_slack_app

__all__ = [
    "ACK_DEADLINE",
    "DEFAULT_BOT_SCOPES",
    "DEFAULT_BOT_TOKEN",
    "EXAMPLE_WORKSPACE",
    "TIER_1",
    "TIER_2",
    "TIER_3",
    "TIER_4",
    "App",
    "AppIdentity",
    "Call",
    "Channel",
    "Delivery",
    "Ephemeral",
    "Fault",
    "Limit",
    "ManualClock",
    "Message",
    "RateLimits",
    "ResponsePost",
    "Rule",
    "RunningSlackFake",
    "SlackEventSender",
    "SlackState",
    "SocketModeLink",
    "SocketModeTransport",
    "Token",
    "User",
    "UserGroup",
    "View",
    "Workspace",
    "create_slack_app",
    "run_slack_fake",
    "run_slack_fake_in_thread",
    "signature",
]
