"""The nudge's "Change it now" button starts the password flow in the running bot."""

from __future__ import annotations

from pathlib import Path

from bot.nudges import start_nudges
from bot.serve import slack_surface
from bot.slack.http_server import running_http
from bot.slack.server import build_http_app
from sandboxes.slack import SlackEventSender
from tests.nudges.helpers import PEOPLE, make_world

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADA = next(p.slack for p in PEOPLE if p.key == "ada") or ""


async def test_change_it_now_offers_the_reset(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        await world.runner().run()
        [nudge] = world.nudges_to(ADA)
        environ = {"SLACK_BOT_TOKEN": world.fake.token, "SLACK_SIGNING_SECRET": SECRET}
        async with (
            slack_surface(world.cfg, environ, providers=world.providers) as surface,
            running_http(build_http_app(surface)) as url,
            SlackEventSender(SECRET, f"{url}/slack/events", state=world.slack) as sender,
        ):
            click = await sender.block_action(ADA, "hd_start.0", message=nudge)
            assert click.status_code == 200 and click.acked_in_time
            offer = await world.slack.wait_for_message(ADA, "Go ahead?")
            assert "reset your mem password (ada@example.com)" in offer.visible_text
            assert len(world.nudges_to(ADA)) == 1  # the nudge stays as it was


async def test_the_scheduler_starts_beside_the_bot_unless_disabled(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        environ = {"SLACK_BOT_TOKEN": world.fake.token, "SLACK_SIGNING_SECRET": SECRET}
        async with slack_surface(world.cfg, environ, providers=world.providers) as surface:
            task = start_nudges(world.cfg, surface)
            assert task is not None and not task.done()
            task.cancel()
            off = world.cfg.model_copy(
                update={"nudges": world.cfg.nudges.model_copy(update={"enabled": False})}
            )
            assert start_nudges(off, surface) is None
