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
import dataclasses
import os
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from actions.access import AccessNotifier, AccessSnapshot, Event, MessageRef
from actions.audit import Actor
from bot.conversation import (
    Button,
    Form,
    FormField,
    Reply,
    approval_card,
    reminder_text,
    requester_news,
)
from bot.runtime import Runtime
from config.logging import configure_logging
from config.settings import HelpdeskConfig, load_config, validate_config

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


@dataclass(frozen=True)
class DemoPerson:
    """A demo employee: their sandbox email and name, and the Slack id the demo gives them."""

    email: str
    name: str
    slack_id: str

    @property
    def actor(self) -> Actor:
        return Actor(self.slack_id, self.email, self.name)


class DemoPeople:
    """The sandbox's employees as Slack users ``UDEMO0001``...; the demo's ``PeopleDirectory``."""

    def __init__(self, people: Sequence[DemoPerson]) -> None:
        self.people = tuple(people)
        self._by_email = {p.email.lower(): p for p in self.people}
        self._by_id = {p.slack_id: p for p in self.people}

    @classmethod
    def from_state(cls, state: OktaState) -> DemoPeople:
        people: list[DemoPerson] = []
        for index, user_id in enumerate(state.user_ids(), start=1):
            profile = state.users[user_id].profile
            email = str(profile["email"])
            name = f"{profile.get('firstName') or ''} {profile.get('lastName') or ''}".strip()
            people.append(DemoPerson(email, name or email, f"UDEMO{index:04d}"))
        return cls(people)

    def by_email(self, email: str) -> DemoPerson | None:
        return self._by_email.get(email.lower())

    def by_id(self, slack_id: str) -> DemoPerson | None:
        return self._by_id.get(slack_id)

    def emails(self) -> list[str]:
        return [p.email for p in self.people]

    async def usergroup_members(self, usergroup: str) -> list[str]:
        return []  # the demo catalogue names people, never user groups

    async def user_for_email(self, email: str) -> str | None:
        person = self.by_email(email)
        return person.slack_id if person else None


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
    return "Group approvers in this demo: " + "; ".join(parts) + "."


class TerminalNotifier:
    """Security notices printed to the terminal, marked as such."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def security_notice(self, text: str) -> None:
        print(f"[security channel] {text}", file=self.out, flush=True)


@dataclass(frozen=True)
class Choice:
    """A numbered button and who clicks it when its number is typed."""

    button: Button
    clicker: Actor


@dataclass
class _Card:
    snapshot: AccessSnapshot
    recipient: str
    posted_now: bool


_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")


class Screen:
    """The terminal: messages to the demo user, and, marked, to approvers; numbered buttons.

    Numbers refer to the buttons of the latest output, and each clicks as the person
    the message went to. What the access workflow sends while a turn runs (approval
    cards, their updates, news for the requester) is held and printed after the
    turn's own replies: the cards first, each once in its latest state and in the
    order they were first posted, then the news.
    """

    def __init__(self, out: TextIO, people: DemoPeople, user: DemoPerson) -> None:
        self.out = out
        self.people = people
        self.user = user
        self.choices: list[Choice] = []
        self._cards: dict[MessageRef, _Card] = {}
        self._news: list[tuple[Reply, str]] = []

    def begin(self) -> list[Choice]:
        """A new turn: the numbers shown before it no longer click anything; returns them."""
        before, self.choices = self.choices, []
        return before

    def choice(self, text: str) -> Choice | None:
        if text.isdigit() and 1 <= int(text) <= len(self.choices):
            return self.choices[int(text) - 1]
        return None

    def plain(self, text: str) -> str:
        """Slack mrkdwn mentions and escapes as terminal text."""

        def person(match: re.Match[str]) -> str:
            found = self.people.by_id(match.group(1))
            return f"@{found.name}" if found else f"@{match.group(1)}"

        text = _MENTION.sub(person, text)
        text = _CHANNEL.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    def show(self, reply: Reply, to: str) -> None:
        """Print one message to the person with Slack id ``to``; number its buttons."""
        head = "bot (updated)>" if reply.replaces_prompt else "bot>"
        recipient = self.people.by_id(to)
        if to != self.user.slack_id:
            head = f"[to approver {recipient.email if recipient else to}] {head}"
        print(f"{head} {self.plain(reply.text)}", file=self.out)
        for label, value in reply.fields:
            print(f"    {label}: {self.plain(value)}", file=self.out)
        for button in reply.buttons:
            if recipient is None:
                print(f"    [-] {button.label}", file=self.out)
                continue
            self.choices.append(Choice(button, recipient.actor))
            print(f"    [{len(self.choices)}] {button.label}", file=self.out)
        self.out.flush()

    def say(self, text: str, to: str) -> None:
        self.show(Reply(text), to)

    def options(self, labels: Sequence[str]) -> None:
        """A form's choices: numbered on their own, they click nothing outside the form."""
        for number, label in enumerate(labels, start=1):
            print(f"    [{number}] {label}", file=self.out)
        self.out.flush()

    def card(self, snapshot: AccessSnapshot, ref: MessageRef, *, posted: bool) -> None:
        held = self._cards.get(ref)
        self._cards[ref] = _Card(
            snapshot, ref.channel, posted or (held is not None and held.posted_now)
        )

    def news(self, reply: Reply, to: str) -> None:
        self._news.append((reply, to))

    def flush(self) -> None:
        """Print what the workflow sent during the turn."""
        cards = sorted(self._cards.items(), key=lambda item: float(item[0].ts))
        self._cards = {}
        news, self._news = self._news, []
        for _ref, held in cards:
            card = approval_card(held.snapshot)
            self.show(
                dataclasses.replace(card, replaces_prompt=not held.posted_now), held.recipient
            )
        for reply, to in news:
            self.show(reply, to)


class TerminalAccessNotifier:
    """The ``AccessNotifier`` of the demo: approval cards and news go to the ``Screen``."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self._posted = 0

    async def post_request(self, snapshot: AccessSnapshot, destination: str) -> MessageRef:
        self._posted += 1
        ref = MessageRef(destination, f"{self._posted}.000000")
        self.screen.card(snapshot, ref, posted=True)
        return ref

    async def update_request(self, snapshot: AccessSnapshot, ref: MessageRef) -> None:
        self.screen.card(snapshot, ref, posted=False)

    async def remind(
        self, snapshot: AccessSnapshot, ref: MessageRef, recipient: str | None
    ) -> None:
        self.screen.news(Reply(reminder_text(snapshot)), recipient or ref.channel)

    async def tell_requester(self, snapshot: AccessSnapshot, event: Event) -> None:
        self.screen.news(requester_news(snapshot, event), snapshot.request.requester)

    async def security_notice(self, text: str) -> None:
        print(f"[security channel] {text}", file=self.screen.out, flush=True)


class Keyboard:
    """Lines typed (or piped) by the demo user; piped lines are echoed after ``you>``."""

    def __init__(self, stdin: TextIO, out: TextIO) -> None:
        self.stdin = stdin
        self.out = out
        self.interactive = stdin.isatty()
        self.closed = False

    async def read(self) -> str | None:
        """The next line, stripped; ``None`` at the end of input."""
        if self.closed:
            return None
        if self.interactive:
            print("you> ", end="", file=self.out, flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, self.stdin.readline)
        if not line:
            self.closed = True
            return None
        text = line.strip()
        if not self.interactive:
            print(f"you> {text}", file=self.out, flush=True)
        return text


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
        self._before: list[Choice] = []

    async def turn(self, text: str) -> None:
        """Answer one line: a number clicks a button, anything else is a message."""
        conv = self.runtime.conversation
        choice = self.screen.choice(text)
        self._before = self.screen.begin()
        clicker = self.user.actor
        if choice is not None:
            clicker = choice.clicker
            replies = await conv.on_button(clicker, choice.button.action, choice.button.value)
        elif text.lower() == WAITING_COMMAND:
            await self.waiting()
            return
        elif text.startswith("/helpdesk"):
            replies = await conv.on_command(clicker, text[len("/helpdesk") :])
        else:
            replies = await conv.on_message(clicker, text)
        await self._answer(clicker, replies)

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
                    self.screen.show(approval_card(snapshot), person.slack_id)
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
) -> AsyncIterator[Runtime]:
    """Start the Okta sandbox on ``state`` and a runtime wired to it with the demo catalogue."""
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
        with tempfile.TemporaryDirectory(prefix="helpdesk-demo-") as tmp:
            raw["database_url"] = database_url or f"sqlite:///{tmp}/demo.sqlite3"
            environ = {**os.environ, DEMO_TOKEN_ENV: DEMO_TOKEN}
            cfg: HelpdeskConfig = validate_config(raw, "demo", environ)
            runtime = await Runtime.start(
                cfg, notifier, environ, access_notifier=access_notifier, people=people
            )
            try:
                yield runtime
            finally:
                await runtime.aclose()


async def run_demo(stdin: TextIO, out: TextIO, as_email: str = DEFAULT_DEMO_USER) -> int:
    """Run the terminal conversation until end of input or ``quit``."""
    from sandboxes.okta.seed import DEMO_SEED
    from sandboxes.okta.state import load_seed

    state = load_seed(DEMO_SEED)
    people = DemoPeople.from_state(state)
    user = people.by_email(as_email)
    if user is None:
        print(f"Unknown demo user {as_email}; try one of: {', '.join(people.emails())}", file=out)
        return 2
    screen = Screen(out, people, user)
    keyboard = Keyboard(stdin, out)
    async with demo_runtime(
        state, TerminalNotifier(out), people, TerminalAccessNotifier(screen)
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


def main_demo(as_email: str | None = None) -> int:
    # The conversation owns the terminal; only warnings and errors are logged, to stderr.
    configure_logging("WARNING", sys.stderr)
    return asyncio.run(run_demo(sys.stdin, sys.stdout, as_email or DEFAULT_DEMO_USER))
