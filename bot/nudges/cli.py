"""``helpdesk nudges``: the dry run, one sweep now, and the progress bar."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import TextIO
from zoneinfo import ZoneInfo

import aiohttp

from actions.nudges import (
    RunSummary,
    build_limiters,
    dry_run,
    sources_for,
)
from actions.providers import Providers
from bot.nudges.slack_api import SlackApi
from bot.nudges.transport import SlackNudgeTransport
from bot.nudges.wiring import build_runner, nudge_client
from bot.views.nudges import (
    short_duration,
    summary_lines,
)
from config.clock import SystemClock
from config.logging import get_logger
from config.secrets import MissingSecret
from config.settings import HelpdeskConfig
from store.nudges import NudgeStore, RunStatus
from store.slack_directory import SlackDirectoryStore

log = get_logger("helpdesk.nudges.slack")


class ProgressBar:
    """A one-line progress bar on a terminal (a line every few seconds elsewhere).

    The directories are read as a stream, so the total is not known up front: the bar
    shows the people settled out of those found due so far, and the users scanned.
    """

    def __init__(self, stream: TextIO, *, width: int = 30, every: float = 5.0) -> None:
        self.stream = stream
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every = 0.1 if self.tty else every
        self._last = 0.0
        self._drawn = False

    def _line(self, summary: RunSummary) -> str:
        settled = summary.settled
        due = max(summary.due, 1)
        filled = int(self.width * min(settled, due) / due)
        bar = "█" * filled + "░" * (self.width - filled)
        return (
            f"[{bar}] {settled:,}/{summary.due:,} due settled · "
            f"{summary.scanned:,} expiring users scanned · {short_duration(summary.seconds)}"
        )

    def update(self, summary: RunSummary) -> None:
        """Redraw, at most every ``every`` seconds."""
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        self._draw(summary)

    def _draw(self, summary: RunSummary) -> None:
        line = self._line(summary)
        if self.tty:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._drawn = True

    def finish(self, summary: RunSummary) -> None:
        """Draw the final state and end the line."""
        self._draw(summary)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def print_dry_run(summary: RunSummary, zone: ZoneInfo, out: TextIO, *, verbose: bool) -> None:
    """Who would be nudged and why (``verbose``: who would not, and why not, too)."""
    for decision in sorted(summary.decisions, key=lambda d: (d.outcome, d.email)):
        if decision.outcome != "would_nudge" and not verbose:
            continue
        who = decision.email or f"(no email) {decision.user_id}"
        why = f": {decision.detail}" if decision.detail else ""
        out.write(f"{decision.outcome:<24} {who} [{decision.source} {decision.user_id}]{why}\n")
    for line in summary_lines(summary, zone):
        out.write(line + "\n")



def _could_not_run(summary: RunSummary) -> str | None:
    """The problem of a run that read nobody because a directory did not answer, else None."""
    if summary.status == RunStatus.FAILED and summary.scanned == 0 and summary.errors:
        return summary.errors[0]
    return None


def _status(summary: RunSummary) -> int:
    """2: nothing could be read; 1: the run did not complete or a nudge failed; 0: fine."""
    if _could_not_run(summary) is not None:
        return 2
    return 0 if summary.status == RunStatus.COMPLETED and not summary.failed_total else 1

async def run_cli(
    cfg: HelpdeskConfig,
    *,
    dry: bool,
    check_slack: bool = False,
    as_json: bool = False,
    verbose: bool = False,
    progress: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """``helpdesk nudges --dry-run`` or ``--now``; returns the exit status.

    0: the run completed and nothing failed; 1: some nudges failed, the run did not
    complete, or another replica is sweeping now; 2: the configuration is unusable, or
    no directory answered (one line on ``err``).
    """
    from store.db import Store

    out = out or sys.stdout
    err = err or sys.stderr
    environ = os.environ if environ is None else environ
    settings = cfg.nudges
    need_slack = not dry or check_slack
    token: str | None = None
    if need_slack:
        try:
            token = cfg.slack.bot_token.resolve(environ).reveal()
        except MissingSecret as exc:
            err.write(f"nudges: no Slack bot token ({exc})\n")
            return 2
    providers = Providers.from_config(cfg, environ)
    try:
        sources = sources_for(cfg, providers)
    except ValueError as exc:
        err.write(f"nudges: {exc}\n")
        await providers.aclose()
        return 2
    bar = ProgressBar(err) if progress else None
    store = await Store.open(cfg.database_url)
    session = aiohttp.ClientSession() if need_slack else None
    try:
        nudge_store = NudgeStore(store.engine)
        client = (
            nudge_client(token, cfg.slack.api_base_url, settings, session)
            if token is not None
            else None
        )
        if dry:
            names = [s.name for s in sources]
            limiters = build_limiters(settings.rate_limits, names, SystemClock())
            transport = (
                SlackNudgeTransport(
                    SlackApi(client, limiters), settings, None,
                    profiles=SlackDirectoryStore(store.engine),
                )
                if client is not None
                else None
            )
            summary = await dry_run(
                settings, sources, store=nudge_store, transport=transport, limiters=limiters,
                on_progress=bar.update if bar else None,
            )
            if bar:
                bar.finish(summary)
            if (problem := _could_not_run(summary)) is not None and not as_json:
                err.write(f"nudges: could not run: {problem}\n")
                return 2
            if as_json:
                out.write(json.dumps({**summary.as_dict(), "decisions": [
                    d.__dict__ for d in summary.decisions
                    if verbose or d.outcome == "would_nudge"
                ]}) + "\n")
            else:
                print_dry_run(summary, settings.zone, out, verbose=verbose)
            return _status(summary)
        assert client is not None
        runner = build_runner(
            cfg, providers, nudge_store, client, on_progress=bar.update if bar else None
        )
        result = await runner.run(trigger="manual")
        if result is None:
            err.write("nudges: another replica is sweeping now; nothing was done\n")
            return 1
        if bar:
            bar.finish(result)
        if (problem := _could_not_run(result)) is not None and not as_json:
            err.write(f"nudges: could not run: {problem}\n")
            return 2
        if as_json:
            out.write(json.dumps(result.as_dict()) + "\n")
        else:
            for line in summary_lines(result, settings.zone):
                out.write(line + "\n")
        return _status(result)
    finally:
        await providers.aclose()
        if session is not None:
            await session.close()
        await store.close()
