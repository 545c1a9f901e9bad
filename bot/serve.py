"""Serve Slack: HTTP on ``slack.host:port`` or Socket Mode when an app token is configured."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping

import uvicorn
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from actions.providers import Providers
from bot.runtime import Runtime
from bot.slack.app import SlackNotifier, SlackSurface
from bot.slack.server import build_http_app
from config.logging import configure_logging, get_logger
from config.settings import HelpdeskConfig

log = get_logger("helpdesk.serve")


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
    client = AsyncWebClient(
        token=token.reveal(),
        base_url=cfg.slack.api_base_url or AsyncWebClient.BASE_URL,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )
    runtime = await Runtime.start(
        cfg, SlackNotifier(client, cfg.organisation.security_channel), environ,
        providers=providers,
    )
    try:
        yield SlackSurface(runtime, client, secret.reveal())
    finally:
        await runtime.aclose()


async def serve(cfg: HelpdeskConfig) -> int:
    configure_logging(cfg.log_level)
    async with slack_surface(cfg) as surface:
        janitor = asyncio.create_task(surface.janitor())
        try:
            if cfg.slack.app_token is not None:
                from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

                app_token = cfg.slack.app_token.resolve()
                log.info(
                    "starting", mode="socket", capabilities=surface.runtime.providers.describe()
                )
                handler = AsyncSocketModeHandler(surface.app, app_token.reveal())
                await handler.start_async()  # type: ignore[no-untyped-call]
            else:
                log.info(
                    "starting", mode="http", host=cfg.slack.host, port=cfg.slack.port,
                    capabilities=surface.runtime.providers.describe(),
                )
                server = uvicorn.Server(
                    uvicorn.Config(
                        build_http_app(surface, cfg.slack.path),
                        host=cfg.slack.host,
                        port=cfg.slack.port,
                        log_config=None,
                        access_log=False,
                    )
                )
                await server.serve()
        finally:
            janitor.cancel()
            await surface.drain()
    return 0
