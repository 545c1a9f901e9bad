"""``helpdesk demo --nudges``: one expiry sweep over the demo directory, printed, then exit.

The sweep is the one ``helpdesk nudges --now`` runs (``NudgeRunner`` over the
connectors ``sources_for`` picks, the same decisions, keys and store), on the
local Okta sandbox seeded with the demo employees. Only the chat side differs:
``TerminalNudgeTransport`` finds each employee among the demo's people and
prints the nudge they would get, and the IT channel's summary, instead of
calling Slack, so it runs at terminal speed.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from actions.nudges import Delivered, Nudge, NudgeRunner, RunSummary, build_limiters, sources_for
from actions.providers import Providers
from bot.demo import demo_config
from bot.nudges import it_channel_of
from bot.terminal import DemoPeople, terminal_text
from bot.views.nudges import render_nudge, summary_lines
from config.logging import configure_logging
from config.settings import HelpdeskConfig
from store.nudges import NudgeKey, NudgeStore


class TerminalNudgeTransport:
    """The sweep's chat side in the terminal: demo people, printed nudges and summary."""

    def __init__(
        self, cfg: HelpdeskConfig, people: DemoPeople, out: TextIO
    ) -> None:
        self.zone = cfg.default_zone
        self.channel = it_channel_of(cfg)
        self.people = people
        self.out = out
        self._ts = itertools.count(1)
        self.sent = 0

    async def prepare(self) -> None:
        return None

    def recipient(self, email: str) -> asyncio.Future[str | None]:
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        person = self.people.by_email(email)
        future.set_result(person.slack_id if person is not None else None)
        return future

    def requests_done(self) -> None:
        return None

    def zone_for(self, email: str) -> ZoneInfo | None:
        """The zone a demo employee's Slack profile would have; else the schedule's counts."""
        person = self.people.by_email(email)
        return ZoneInfo(person.tz) if person is not None and person.tz else None

    async def deliver(self, nudge: Nudge, recipient: str) -> Delivered:
        text, blocks = render_nudge(nudge, nudge.zone or self.zone)
        person = self.people.by_id(recipient)
        print(f"[nudge to {person.email if person else recipient}] bot> {text}", file=self.out)
        for block in blocks[1:]:
            if block["type"] == "context":
                for element in block["elements"]:
                    print(f"    {terminal_text(element['text'], self.people)}", file=self.out)
            elif block["type"] == "actions":
                for element in block["elements"]:
                    print(f"    [-] {element['text']['text']}", file=self.out)
        self.out.flush()
        self.sent += 1
        return Delivered(recipient, f"{next(self._ts)}.000000")

    async def find_delivery(
        self, key: NudgeKey, recipient: str, since: datetime
    ) -> Delivered | None:
        return None  # each demo sweep starts with an empty store: nothing was sent before

    async def post_summary(self, summary: RunSummary) -> None:
        if self.channel is None:
            return
        for line in summary_lines(summary, self.zone):
            print(f"[IT channel {self.channel}] {line}", file=self.out)
        self.out.flush()

    def stats(self) -> dict[str, Any]:
        return {"terminal.nudges": self.sent}

    async def aclose(self) -> None:
        return None


async def run_demo_nudges(out: TextIO) -> int:
    """Run one sweep over the demo directory and print what each employee would get."""
    from sandboxes.okta.seed import DEMO_SEED
    from sandboxes.okta.state import load_seed
    from store.db import Store

    state = load_seed(DEMO_SEED)
    people = DemoPeople.from_state(state)
    async with demo_config(state, people) as (cfg, environ):
        providers = Providers.from_config(cfg, environ)
        store = await Store.open(cfg.database_url)
        try:
            settings = cfg.nudges
            sources = sources_for(cfg, providers)
            print(
                f"Password-expiry sweep over the demo directory ({len(people.people)} employees; "
                f"thresholds {', '.join(str(t) for t in settings.thresholds)} days before "
                f"expiry, counted in each one's own time zone, else {settings.timezone}), as "
                "`helpdesk nudges --now` runs it:",
                file=out,
                flush=True,
            )
            limiters = build_limiters(settings.rate_limits, [s.name for s in sources])
            runner = NudgeRunner(
                settings,
                sources,
                NudgeStore(store.engine),
                lambda: TerminalNudgeTransport(cfg, people, out),
                limiters,
            )
            result = await runner.run(trigger="demo")
        finally:
            await store.close()
            await providers.aclose()
    if result is None:
        print("The sweep did not run.", file=out)
        return 1
    return 0 if not result.failed_total else 1


def main_demo_nudges() -> int:
    configure_logging("WARNING", sys.stderr)
    return asyncio.run(run_demo_nudges(sys.stdout))
