"""The whole bot in a terminal: you type as an employee, buttons are numbered choices.

The identity side is the local Okta sandbox (real HTTP, TLS with a CA made at
start-up) seeded with demo users, the connector is the real Okta connector,
and the store is SQLite. Reading a script from standard input works too:
``printf 'I forgot my password\\n1\\n' | helpdesk demo`` prints the
conversation and exits at the end of input.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from typing import TextIO

from actions.audit import Actor
from bot.conversation import Button, Reply
from bot.runtime import Runtime
from config.logging import configure_logging
from config.settings import HelpdeskConfig, load_config, validate_config

DEMO_TOKEN_ENV = "HELPDESK_DEMO_OKTA_TOKEN"
DEFAULT_DEMO_USER = "ada.lovelace@example.com"


class TerminalNotifier:
    """Security notices printed to the terminal, marked as such."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def security_notice(self, text: str) -> None:
        print(f"[security channel] {text}", file=self.out, flush=True)


def _render(reply: Reply, out: TextIO, numbered: list[Button]) -> None:
    prefix = "bot (updated)>" if reply.replaces_prompt else "bot>"
    print(f"{prefix} {reply.text}", file=out)
    for button in reply.buttons:
        numbered.append(button)
        print(f"    [{len(numbered)}] {button.label}", file=out)
    out.flush()


@contextlib.asynccontextmanager
async def demo_runtime(
    out: TextIO, database_url: str | None = None
) -> AsyncIterator[tuple[Runtime, list[str]]]:
    """Start the Okta sandbox and a runtime wired to it; yields the runtime and demo emails."""
    from sandboxes.okta.seed import DEMO_SEED, DEMO_TOKEN
    from sandboxes.okta.server import run_okta_sandbox
    from sandboxes.okta.state import load_seed

    state = load_seed(DEMO_SEED)
    async with run_okta_sandbox(state) as sandbox:
        base = load_config()
        raw = base.model_dump(mode="json", exclude={"source"}, exclude_none=True)
        raw["connectors"] = {
            "okta": {
                "kind": "okta",
                "org_url": sandbox.url,
                "api_token": {"env": DEMO_TOKEN_ENV},
                "ca_file": str(sandbox.ca_path),
            }
        }
        raw["capabilities"] = {
            cap: "okta"
            for cap in ("groups", "password_reset", "unlock", "mfa_reset", "password_expiry")
        }
        for entry in raw.get("catalogue", []):
            entry.pop("provider", None)
        with tempfile.TemporaryDirectory(prefix="helpdesk-demo-") as tmp:
            raw["database_url"] = database_url or f"sqlite:///{tmp}/demo.sqlite3"
            environ = {**os.environ, DEMO_TOKEN_ENV: DEMO_TOKEN}
            cfg: HelpdeskConfig = validate_config(raw, "demo", environ)
            runtime = await Runtime.start(cfg, TerminalNotifier(out), environ)
            try:
                yield runtime, [u for u in state.emails()]
            finally:
                await runtime.aclose()


async def run_demo(stdin: TextIO, out: TextIO, as_email: str = DEFAULT_DEMO_USER) -> int:
    """Run the terminal conversation until end of input or ``quit``."""
    interactive = stdin.isatty()
    async with demo_runtime(out) as (runtime, emails):
        if as_email.lower() not in {e.lower() for e in emails}:
            print(f"Unknown demo user {as_email}; try one of: {', '.join(emails)}", file=out)
            return 2
        actor = Actor("UDEMO0001", as_email, as_email.split("@")[0])
        print(
            f"Helpdesk demo: you are {as_email}, talking to the bot; the identity side is a local "
            "Okta sandbox. Type a message, a number to click a button, or 'quit'.",
            file=out,
        )
        numbered: list[Button] = []
        loop = asyncio.get_running_loop()
        while True:
            if interactive:
                print("you> ", end="", file=out, flush=True)
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            text = line.strip()
            if not interactive:
                print(f"you> {text}", file=out)
            if text.lower() in {"quit", "exit"}:
                break
            if not text:
                continue
            if text.isdigit() and 1 <= int(text) <= len(numbered):
                button = numbered[int(text) - 1]
                replies = await runtime.conversation.on_button(actor, button.action, button.value)
            elif text.startswith("/helpdesk"):
                replies = await runtime.conversation.on_command(actor, text[len("/helpdesk") :])
            else:
                replies = await runtime.conversation.on_message(actor, text)
            numbered = []
            for reply in replies:
                _render(reply, out, numbered)
    return 0


def main_demo(as_email: str | None = None) -> int:
    # The conversation owns the terminal; only warnings and errors are logged, to stderr.
    configure_logging("WARNING", sys.stderr)
    return asyncio.run(run_demo(sys.stdin, sys.stdout, as_email or DEFAULT_DEMO_USER))
