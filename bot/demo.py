"""The whole bot in a terminal: you type as an employee, buttons are numbered choices.

The identity side is the local Okta sandbox (real HTTP, TLS with a CA made at
start-up) seeded with demo users, the connector is the real Okta connector,
and the store is SQLite. Reading a script from standard input works too:
``printf 'I forgot my password\\n1\\n' | helpdesk demo`` prints the
conversation and exits at the end of input.

Group access requests go to other demo employees, named in ``DEMO_CATALOGUE``
(the demo's own catalogue; the packaged one names Slack user groups and
channels nobody is behind here). Their approval cards print in the same
terminal, marked ``[to approver EMAIL]``, with numbered Approve and Deny
buttons that click *as that approver*; so the requester never decides their own
request. What Slack asks in a modal (a justification, a duration, a reason for
denying) is asked here one question a line::

    printf 'I need figma\\n1\\n2\\nI need figma\\n' | helpdesk demo

asks for Figma as Ada, approves it as Grace ([2] on her card), and shows Ada is
now a member of the sandbox group.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from actions.access import AccessNotifier
from actions.audit import Actor
from actions.verification import PushPrompter
from bot.configuration import load_config, validate_config
from bot.dialogues.failures import answered, as_is
from bot.replies import Form, FormField, Reply
from bot.runtime import Runtime
from bot.terminal import (
    Choice,
    DemoPeople,
    Keyboard,
    Screen,
    TerminalAccessNotifier,
    TerminalMailer,
    TerminalNotifier,
    TerminalPhone,
)
from bot.views.access import approval_card
from config.logging import configure_logging
from config.settings import HelpdeskConfig

if TYPE_CHECKING:
    from sandboxes.okta.state import OktaState

DEMO_TOKEN_ENV = "HELPDESK_DEMO_OKTA_TOKEN"
DEFAULT_DEMO_USER = "ada.lovelace@example.com"
WAITING_COMMAND = "/waiting"
CLOSE_FORM = "cancel"

#: The demo's catalogue: the sandbox org's three requestable groups, each decided by
#: demo employees named by email (their demo Slack ids are filled in at start-up).
#: Ada can ask for Figma (Grace approves); Frances for the VPN, which she alone would
#: approve, so she sees the refusal to let anyone decide their own request; Frances or
#: Edsger for GitHub, time-bound and needing both Ada and Grace.
DEMO_CATALOGUE: tuple[Mapping[str, Any], ...] = (
    {
        "key": "figma-editors",
        "display_name": "Figma (editor)",
        "aliases": ["figma", "figma edit"],
        "description": "Edit access to Figma design files",
        "provider_group": "figma-editors",
        "approvers": ["grace.hopper@example.com"],
    },
    {
        "key": "vpn-users",
        "display_name": "VPN",
        "aliases": ["vpn", "remote access"],
        "description": "Remote access to the office network",
        "provider_group": "vpn-users",
        "approvers": ["frances.allen@example.com"],
        "justification_required": True,
    },
    {
        "key": "github-org",
        "display_name": "GitHub organisation",
        "aliases": ["github", "gh"],
        "description": "Membership of the company GitHub organisation",
        "provider_group": "github-org",
        "approvers": ["ada.lovelace@example.com", "grace.hopper@example.com"],
        "approvals_required": 2,
        "justification_required": True,
        "max_duration": "90d",
    },
)


#: Who vouches for an employee in the demo (the ``approval`` verification method, the
#: default for MFA resets): either of these, never the employee themselves.
DEMO_IDENTITY_APPROVERS: tuple[str, ...] = ("grace.hopper@example.com", "frances.allen@example.com")


def demo_identity_approvers(people: DemoPeople) -> list[str]:
    """``DEMO_IDENTITY_APPROVERS`` as demo Slack ids."""
    found = [people.by_email(email) for email in DEMO_IDENTITY_APPROVERS]
    return [p.slack_id for p in found if p is not None]


def demo_catalogue(people: DemoPeople) -> list[dict[str, Any]]:
    """``DEMO_CATALOGUE`` with each approver's email replaced by their demo Slack id."""
    entries: list[dict[str, Any]] = []
    for entry in DEMO_CATALOGUE:
        ids: list[str] = []
        for email in entry["approvers"]:
            person = people.by_email(email)
            if person is None:
                raise ValueError(f"demo approver {email} is not a sandbox user")
            ids.append(person.slack_id)
        entries.append({**entry, "approvers": ids})
    return entries


def describe_approvers() -> str:
    """One line for the banner: who decides each demo group."""
    parts = []
    for entry in DEMO_CATALOGUE:
        approvers = list(entry["approvers"])
        needed = int(entry.get("approvals_required", 1))
        if needed == 1:
            who = " or ".join(approvers)
        elif needed >= len(approvers):
            who = " and ".join(approvers) + " (all must approve)"
        else:
            who = f"{needed} of {', '.join(approvers)}"
        parts.append(f"{entry['display_name']}: {who}")
    checks = " or ".join(DEMO_IDENTITY_APPROVERS)
    return (
        "Group approvers in this demo: " + "; ".join(parts) + ". Identity checks (an MFA "
        f"reset, or a reset without a push): {checks}."
    )


class DemoSession:
    """One terminal conversation: the demo user's turns, and the approvers' clicks."""

    def __init__(
        self, runtime: Runtime, screen: Screen, keyboard: Keyboard, people: DemoPeople
    ) -> None:
        self.runtime = runtime
        self.screen = screen
        self.keyboard = keyboard
        self.people = people
        self.user = screen.user
        self._before: dict[int, Choice] = {}

    async def turn(self, text: str) -> None:
        """Answer one line: a number clicks a button, anything else is a message.

        Whatever fails is answered as in Slack (``answered``): the clicker is told.
        """
        choice = self.screen.choice(text)
        if choice is None and text.isdigit():
            # A number is always meant as a click: never classify it as a message.
            live = ", ".join(f"[{n}]" for n in sorted(self.screen.choices))
            self.screen.say(
                f"No button has the number {text} now: a message's numbers stop working "
                "once newer ones are shown, approval cards' numbers while the card waits. "
                + (f"Buttons you can click: {live}." if live else "No button is live now."),
                self.user.slack_id,
            )
            return
        self._before = self.screen.begin()
        clicker = choice.clicker if choice is not None else self.user.actor
        failure = await answered("demo", lambda: self._turn(text, choice, clicker), as_is)
        if failure is not None:
            self.screen.show(failure, clicker.slack_user_id)
            self.screen.flush()

    async def _turn(self, text: str, choice: Choice | None, clicker: Actor) -> Reply | None:
        conv = self.runtime.conversation
        if choice is not None:
            replies = await conv.on_button(clicker, choice.button.action, choice.button.value)
        elif text.lower() == WAITING_COMMAND:
            await self.waiting()
            return None
        elif text.startswith("/helpdesk"):
            replies = await conv.on_command(clicker, text[len("/helpdesk") :])
        else:
            replies = await conv.on_message(clicker, text)
        await self._answer(clicker, replies)
        return None

    async def waiting(self) -> None:
        """Print again every approval card still waiting for a demo approver."""
        shown = 0
        for person in self.people.people:
            if person.slack_id == self.user.slack_id:
                continue
            access = self.runtime.access
            for row in await access.waiting_for_me(person.actor):
                snapshot = await access.snapshot(row.id)
                if snapshot is not None:
                    card = (snapshot.request.id, person.slack_id)
                    self.screen.show(approval_card(snapshot), person.slack_id, card)
                    shown += 1
        if not shown:
            self.screen.say("No approval request is waiting for anyone.", self.user.slack_id)

    async def _answer(self, clicker: Actor, replies: Sequence[Reply]) -> None:
        for reply in replies:
            self.screen.show(reply, clicker.slack_user_id)
            if reply.form is not None:
                await self._form(clicker, reply.form)
        self.screen.flush()

    async def _form(self, clicker: Actor, form: Form) -> None:
        """Ask a form's questions one a line, submit it, and ask again what was refused."""
        to = clicker.slack_user_id
        fields: Sequence[FormField] = form.fields
        values: dict[str, str] = {}
        while True:
            for field in fields:
                answer = await self._ask(field, to)
                if answer is None:
                    if not self.keyboard.closed:
                        # As when a modal is closed: the buttons it was opened from still work.
                        self.screen.choices = self._before
                        self.screen.say(
                            "Form closed; nothing was changed (the buttons before it still work).",
                            to,
                        )
                    return
                values[field.name] = answer
            result = await self.runtime.conversation.on_form(
                clicker, form.action, form.value, values
            )
            if not result.errors:
                await self._answer(clicker, result.replies)
                return
            for message in result.errors.values():
                self.screen.say(message, to)
            fields = [f for f in form.fields if f.name in result.errors] or list(form.fields)

    async def _ask(self, field: FormField, to: str) -> str | None:
        """One question; the answer, or ``None`` when the form is closed or input ends."""
        question = f"{field.label} {field.hint}".strip()
        notes = [f"at least {field.min_length} characters"] if field.min_length else []
        notes.append(f"'{CLOSE_FORM}' closes the form")
        question += f" ({'; '.join(notes)})"
        while True:
            self.screen.say(question, to)
            self.screen.options([label for label, _value in field.choices])
            text = await self.keyboard.read()
            if text is None or text.lower() == CLOSE_FORM:
                return None
            if not field.choices:
                if len(text) >= field.min_length:
                    return text[: field.max_length]
                # What Slack checks in the modal itself, before anything is submitted.
                self.screen.say(f"Please write at least {field.min_length} characters.", to)
                continue
            if text.isdigit() and 1 <= int(text) <= len(field.choices):
                return field.choices[int(text) - 1][1]
            self.screen.say(f"Please type a number from 1 to {len(field.choices)}.", to)


@contextlib.asynccontextmanager
async def demo_runtime(
    state: OktaState,
    notifier: TerminalNotifier,
    people: DemoPeople,
    access_notifier: AccessNotifier,
    database_url: str | None = None,
    prompter: PushPrompter | None = None,
) -> AsyncIterator[Runtime]:
    """Start the Okta sandbox on ``state`` and a runtime wired to it with the demo catalogue."""
    async with demo_config(state, people, database_url) as (cfg, environ):
        runtime = await Runtime.start(
            cfg, notifier, environ, access_notifier=access_notifier, people=people,
            prompter=prompter, mailer=TerminalMailer(notifier.out),
        )
        try:
            yield runtime
        finally:
            await runtime.aclose()


@contextlib.asynccontextmanager
async def demo_config(
    state: OktaState, people: DemoPeople, database_url: str | None = None
) -> AsyncIterator[tuple[HelpdeskConfig, dict[str, str]]]:
    """Start the Okta sandbox on ``state``; the demo's configuration and environment for it.

    The packaged configuration with one connector, the sandbox, serving everything, the
    demo catalogue, and a store in a temporary directory (unless ``database_url``).
    """
    from sandboxes.okta.seed import DEMO_TOKEN
    from sandboxes.okta.server import run_okta_sandbox

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
        raw["catalogue"] = demo_catalogue(people)
        raw["verification"]["approval"]["approvers"] = demo_identity_approvers(people)
        with tempfile.TemporaryDirectory(prefix="helpdesk-demo-") as tmp:
            raw["database_url"] = database_url or f"sqlite:///{tmp}/demo.sqlite3"
            environ = {**os.environ, DEMO_TOKEN_ENV: DEMO_TOKEN}
            cfg: HelpdeskConfig = validate_config(raw, "demo", environ)
            yield cfg, environ


async def run_demo(
    stdin: TextIO, out: TextIO, as_email: str = DEFAULT_DEMO_USER, lang: str | None = None
) -> int:
    """Run the terminal conversation until end of input or ``quit``.

    ``lang``: the demo employees' Slack locale (``es``): the bot answers in it unless a
    message is written in another language.
    """
    from sandboxes.okta.seed import DEMO_SEED
    from sandboxes.okta.state import load_seed

    state = load_seed(DEMO_SEED)
    people = DemoPeople.from_state(state, lang)
    user = people.by_email(as_email)
    if user is None:
        print(f"Unknown demo user {as_email}; try one of: {', '.join(people.emails())}", file=out)
        return 2
    screen = Screen(out, people, user)
    keyboard = Keyboard(stdin, out)
    async with demo_runtime(
        state, TerminalNotifier(out, people), people, TerminalAccessNotifier(screen),
        prompter=TerminalPhone(screen, keyboard, state),
    ) as runtime:
        print(
            f"Helpdesk demo: you are {user.email}, talking to the bot; the identity side is a "
            "local Okta sandbox. Type a message, a number to click a button (approval cards "
            f"click as their approver), {WAITING_COMMAND} to see approvals still waiting, "
            f"or 'quit'.\n{describe_approvers()}",
            file=out,
            flush=True,
        )
        session = DemoSession(runtime, screen, keyboard, people)
        while True:
            text = await keyboard.read()
            if text is None or text.lower() in {"quit", "exit"}:
                break
            if text:
                await session.turn(text)
            if keyboard.closed:
                break
    return 0


def _terminal_mode() -> Callable[[], None]:
    """Save the terminal's settings; the returned function puts them back (readline's edits)."""
    try:
        import termios

        if not sys.stdin.isatty():
            return lambda: None
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, io.UnsupportedOperation, termios.error):
        return lambda: None

    def restore() -> None:
        with contextlib.suppress(OSError):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    return restore


def main_demo(as_email: str | None = None, lang: str | None = None) -> int:
    # The conversation owns the terminal; only warnings and errors are logged, to stderr.
    configure_logging("WARNING", sys.stderr)
    restore = _terminal_mode()
    try:
        return asyncio.run(
            run_demo(sys.stdin, sys.stdout, as_email or DEFAULT_DEMO_USER, lang)
        )
    except KeyboardInterrupt:
        # Ctrl-C: at once, on a fresh line, with the conventional status.
        print(file=sys.stdout, flush=True)
        return 130
    finally:
        restore()
