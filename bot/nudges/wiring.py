"""A sweep's parts from the configuration: the Web API client, the runner, the scheduler."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from actions.nudges import (
    NudgeRunner,
    RunSummary,
    build_limiters,
    sources_for,
)
from actions.providers import Providers
from bot.nudges.slack_api import SlackApi
from bot.nudges.transport import SlackNudgeTransport
from bot.slack.client import web_client
from bot.slack.limits import SlackLimiter
from config.clock import Now
from config.logging import get_logger
from config.nudges import NudgeSettings
from config.settings import HelpdeskConfig
from store.nudges import NudgeStore, SlackDirectoryCache
from store.slack_directory import SlackDirectoryStore

log = get_logger("helpdesk.nudges.slack")


def nudge_client(
    token: str,
    base_url: str | None,
    settings: NudgeSettings,
    session: Any = None,
    limiter: SlackLimiter | None = None,
) -> AsyncWebClient:
    """A Web API client for the sweep: its own timeout, and no retries (see above).

    In the running bot ``limiter`` is the one its replies use, so a sweep and a burst of
    conversations share Slack's budgets; a 429 is handed to the sweep, which waits it out.
    """
    return web_client(
        token, base_url, session, limiter=limiter, retry_deadline=0.0,
        timeout=int(max(1, settings.request_timeout.total_seconds())),
    )


def it_channel_of(cfg: HelpdeskConfig) -> str | None:
    """``nudges.it_channel``, else the organisation's IT channel; "" means none."""
    channel = cfg.nudges.it_channel
    if channel is None:
        channel = cfg.organisation.it_channel
    return channel or None


def build_runner(
    cfg: HelpdeskConfig,
    providers: Providers,
    store: NudgeStore,
    client: AsyncWebClient,
    *,
    on_progress: Callable[[RunSummary], None] | None = None,
    now: Now | None = None,
    dm_channel: Callable[[str], Awaitable[str]] | None = None,
) -> NudgeRunner:
    """Everything a sweep needs, from the configuration and the running bot's parts.

    ``now`` replaces the wall clock the sweep decides by (tests); ``dm_channel`` is the
    running bot's stored DM channels (``SlackDirectory.dm_channel``).
    """
    settings = cfg.nudges
    sources = sources_for(cfg, providers)
    limiters = build_limiters(settings.rate_limits, [s.name for s in sources])
    api = SlackApi(client, limiters)
    channel = it_channel_of(cfg)
    cache = SlackDirectoryCache(store.engine)
    profiles = SlackDirectoryStore(store.engine)

    def transport() -> SlackNudgeTransport:
        return SlackNudgeTransport(
            api, settings, channel, cache=cache, now=now, profiles=profiles,
            dm_channel=dm_channel, language=cfg.organisation.language,
        )

    return NudgeRunner(
        settings, sources, store, transport, limiters, on_progress=on_progress, now=now
    )


def start_nudges(cfg: HelpdeskConfig, surface: Any) -> asyncio.Task[None] | None:
    """Start the nudge scheduler next to a running Slack surface; None when it is off.

    ``surface`` is a :class:`bot.slack.surface.SlackSurface`: its store, providers and the
    token, base URL and HTTP session of its Web API client are reused.
    """
    from bot.scheduler import NudgeScheduler

    settings = cfg.nudges
    runtime = surface.runtime
    if not settings.enabled:
        log.info("nudges_disabled")
        return None
    try:
        sources = sources_for(cfg, runtime.providers)
    except ValueError as exc:
        log.error("nudges_not_started", error=str(exc))
        return None
    if not sources:
        log.info("nudges_not_started", reason="no connector reports password expiry")
        return None
    base: AsyncWebClient = surface.client
    client = nudge_client(
        str(base.token), base.base_url, settings, base.session,
        getattr(base, "limiter", None),
    )
    store = NudgeStore(runtime.store.engine)
    directory = getattr(surface, "directory", None)
    runner = build_runner(
        cfg, runtime.providers, store, client,
        dm_channel=directory.dm_channel if directory is not None else None,
    )
    scheduler = NudgeScheduler(settings, runner, store)
    return asyncio.create_task(scheduler.run_forever(), name="nudge-scheduler")
