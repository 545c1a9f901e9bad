"""Serve Slack: HTTP on ``slack.host:port`` or Socket Mode when an app token is configured."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
from collections.abc import AsyncIterator, Mapping

import aiohttp

from actions.providers import Providers
from bot.nudges import start_nudges
from bot.runtime import Runtime
from bot.slack.app import SlackNotifier, SlackPeople, SlackPushPrompter
from bot.slack.client import web_client
from bot.slack.http_server import running_http
from bot.slack.ingress_process import running_ingress
from bot.slack.limits import Rate, SlackLimiter
from bot.slack.outbox.sealing import Sealer
from bot.slack.server import health_app
from bot.slack.surface import SlackSurface
from config import tracing
from config.logging import configure_logging, get_logger
from config.outbox import outbox_key
from config.settings import HelpdeskConfig
from store.migrate import migrate_apart
from store.slack_directory import SlackDirectoryStore

log = get_logger("helpdesk.serve")


def slack_limiter(cfg: HelpdeskConfig) -> SlackLimiter:
    """The process's Web API budgets: Slack's tiers, with ``slack.rate_limits`` applied."""
    overrides = {
        method: Rate(spec.per_minute, spec.burst)
        for method, spec in cfg.slack.rate_limits.items()
    }
    return SlackLimiter(overrides, factor=cfg.slack.rate_limit_factor)


@contextlib.asynccontextmanager
async def slack_surface(
    cfg: HelpdeskConfig,
    environ: Mapping[str, str] | None = None,
    *,
    providers: Providers | None = None,
) -> AsyncIterator[SlackSurface]:
    """Build the runtime and its Slack surface; close both on exit."""
    environ = os.environ if environ is None else environ
    token = cfg.slack.bot_token.resolve(environ)
    secret = cfg.slack.signing_secret.resolve(environ)
    # One HTTP session for every Web API call: without it slack_sdk opens a new
    # connection (and TLS handshake) per call.
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    client = web_client(
        token.reveal(), cfg.slack.api_base_url, session, limiter=slack_limiter(cfg),
        retry_deadline=cfg.slack.retry_deadline.total_seconds(),
    )
    notifier = SlackNotifier(
        client, cfg.organisation.security_channel, cfg.organisation.language
    )
    people = SlackPeople(client)
    try:
        runtime = await Runtime.start(
            cfg, notifier, environ, providers=providers,
            access_notifier=notifier, people=people,
            prompter=SlackPushPrompter(client),
        )
    except BaseException:  # an unreachable store, say: no "Unclosed client session" after it
        await session.close()
        raise
    # People by email from the stored Slack profiles (the store exists from here on).
    people.profiles = SlackDirectoryStore(runtime.store.engine)
    try:
        # The outbox's key is read here, with the Slack secrets (``config.outbox``).
        sealer = Sealer(outbox_key(cfg.slack.outbox, environ))
        surface = SlackSurface(runtime, client, secret.reveal(), sealer=sealer)
        notifier.directory = surface.directory
        notifier.outbox = surface.outbox
        yield surface
    finally:
        await runtime.aclose()
        await session.close()


async def serve(cfg: HelpdeskConfig) -> int:
    """Serve until SIGINT/SIGTERM; work already acknowledged is finished or handed back.

    Returns 1 when the HTTP ingress process dies under the bot (for the service manager
    to restart it), else 0.
    """
    configure_logging(cfg.log_level)
    tracing.configure(os.environ)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # The migrations in a process of their own: their libraries never load in this one.
    await migrate_apart(cfg.database_url)
    async with slack_surface(cfg) as surface:
        janitor = asyncio.create_task(surface.janitor())
        # Outcome messages not sent at once (Slack failed, or a replica died holding them).
        outbox = asyncio.create_task(surface.outbox.worker(), name="slack-outbox")
        # Everyone's Slack profile, read with users.list now and every directory_refresh.
        directory = asyncio.create_task(
            surface.directory.refresher(cfg.slack.directory_refresh), name="slack-directory"
        )
        # Password-expiry nudges (issue #5): the scheduler task, None when disabled.
        nudges = start_nudges(cfg, surface)
        # Access-request jobs: fulfilment retries, reminders, expiry, time-bound removal.
        access_worker = asyncio.create_task(surface.runtime.access.worker())
        # Slack requests recorded in the store: this replica's, others' handed back or
        # left behind by a replica that died.
        surface.inbox.start()
        capabilities = surface.runtime.providers.describe()
        # Start-up's objects (modules, config, clients) live as long as the process: keep
        # full collections from walking them again and again (hundreds of ms on this heap).
        gc.collect()
        gc.freeze()
        failed = False
        try:
            if cfg.slack.app_token is not None:
                from bot.slack.socket_mode import running_socket_mode

                app_token = cfg.slack.app_token.resolve().reveal()
                # No Slack endpoint in Socket Mode; slack.port serves the probes and metrics.
                async with (
                    running_http(health_app(surface), cfg.slack.host, cfg.slack.port) as url,
                    running_socket_mode(surface, app_token),
                ):
                    log.info("starting", mode="socket", health=url, capabilities=capabilities)
                    await stop.wait()
                    surface.health.stopping = True
            else:
                # The ingress records what it acknowledges in the store itself, on its own
                # connection: it gets the database's URL (over its socket pair).
                database = surface.runtime.store.engine.url.render_as_string(hide_password=False)
                async with running_ingress(
                    surface, cfg.slack.host, cfg.slack.port, cfg.slack.path,
                    log_level=cfg.log_level, database_url=database,
                ) as ingress:
                    log.info("starting", mode="http", url=ingress.url, pid=ingress.pid,
                             capabilities=capabilities)
                    stopped = asyncio.create_task(stop.wait())
                    gone = asyncio.create_task(ingress.closed.wait())
                    await asyncio.wait({stopped, gone}, return_when=asyncio.FIRST_COMPLETED)
                    surface.health.stopping = True
                    stopped.cancel()
                    gone.cancel()
                    failed = ingress.closed.is_set() and not stop.is_set()
        finally:
            janitor.cancel()
            directory.cancel()
            if nudges is not None:
                nudges.cancel()
                await asyncio.gather(nudges, return_exceptions=True)
            access_worker.cancel()
            # The ingress has recorded what it acknowledged by now: finish what runs here,
            # hand back what does not finish in time (another replica claims it).
            await surface.inbox.stop(cfg.slack.inbox.grace.total_seconds())
            await surface.drain()
            # After the work that writes messages: what is left waits in the store for
            # another replica (or this one's next start).
            await surface.outbox.stop(cfg.slack.inbox.grace.total_seconds() / 2)
            outbox.cancel()
            await asyncio.gather(outbox, return_exceptions=True)
    tracing.shutdown()
    if failed:
        log.error("stopped", reason="the HTTP ingress process exited")
        return 1
    log.info("stopped")
    return 0
