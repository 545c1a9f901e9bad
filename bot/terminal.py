"""The demo's terminal: its people, the screen (numbered buttons) and the keyboard.

The demo gives each sandbox employee a Slack-like id (``DemoPeople``); the
``Screen`` prints replies and numbers their buttons, each clicking as the
person the message went to; the ``Keyboard`` reads typed or piped lines.
``TerminalAccessNotifier`` is the demo's ``AccessNotifier``: approval cards
and the requester's news are held and printed after the turn's own replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from actions.access import AccessSnapshot, Event, MessageRef
from actions.audit import Actor
from bot.replies import Button, Reply
from bot.views.access import approval_card, reminder_text, requester_news
from bot.views.text import dates_as_text
from bot.views.verification import push_prompt
from config.i18n import current, speaking
from connectors.base import PushChallenge

if TYPE_CHECKING:
    from sandboxes.okta.state import OktaState


@dataclass(frozen=True)
class DemoPerson:
    """A demo employee: their sandbox email and name, and the Slack id the demo gives them."""

    email: str
    name: str
    slack_id: str
    tz: str | None = None
    """The time zone their Slack profile would have (the sandbox profile's ``timezone``)."""
    locale: str | None = None
    """Their Slack locale, as the demo's ``--lang`` sets it (None: the message decides)."""

    @property
    def actor(self) -> Actor:
        return Actor(self.slack_id, self.email, self.name, self.tz, self.locale)


class DemoPeople:
    """The sandbox's employees as Slack users ``UDEMO0001``...; the demo's ``PeopleDirectory``."""

    def __init__(self, people: Sequence[DemoPerson]) -> None:
        self.people = tuple(people)
        self._by_email = {p.email.lower(): p for p in self.people}
        self._by_id = {p.slack_id: p for p in self.people}

    @classmethod
    def from_state(cls, state: OktaState, locale: str | None = None) -> DemoPeople:
        """The sandbox's users; ``locale``: everyone's Slack locale (the demo's ``--lang``)."""
        people: list[DemoPerson] = []
        for index, user_id in enumerate(state.user_ids(), start=1):
            profile = state.users[user_id].profile
            email = str(profile["email"])
            name = f"{profile.get('firstName') or ''} {profile.get('lastName') or ''}".strip()
            tz = str(profile.get("timezone") or "") or None
            people.append(DemoPerson(email, name or email, f"UDEMO{index:04d}", tz, locale))
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


_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")


def terminal_text(text: str, people: DemoPeople | None, tz: str | None = None) -> str:
    """Slack mrkdwn mentions, dates and escapes as terminal text (``<@UDEMO0001>``: ``@Ada``)."""

    def person(match: re.Match[str]) -> str:
        found = people.by_id(match.group(1)) if people is not None else None
        return f"@{found.name}" if found else f"@{match.group(1)}"

    text = _MENTION.sub(person, text)
    text = _CHANNEL.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = dates_as_text(text, tz)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class TerminalNotifier:
    """Security notices printed to the terminal, marked as such, mentions as names."""

    def __init__(self, out: TextIO, people: DemoPeople | None = None) -> None:
        self.out = out
        self.people = people

    async def security_notice(self, text: str) -> None:
        print(f"[security channel] {terminal_text(text, self.people)}", file=self.out, flush=True)

    async def direct_message(self, slack_user: str, text: str) -> None:
        print(f"[DM from the bot] {terminal_text(text, self.people)}", file=self.out, flush=True)


class TerminalMailer:
    """The demo's ``Mailer``: each email printed, marked with its recipients."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def send(self, to: Sequence[str], subject: str, text: str) -> None:
        body = "\n".join(f"    {line}" if line else "" for line in text.splitlines())
        print(f"[email to {', '.join(to)}] {subject}\n{body}", file=self.out, flush=True)


@dataclass(frozen=True)
class Choice:
    """A numbered button and who clicks it when its number is typed."""

    button: Button
    clicker: Actor


#: An approval card in the terminal: the request's id and the approver's Slack id.
CardKey = tuple[str, str]


@dataclass
class _Card:
    snapshot: AccessSnapshot
    recipient: str
    posted_now: bool


class Screen:
    """The terminal: messages to the demo user, and, marked, to approvers; numbered buttons.

    A number clicks a button of the latest output, as the person the message went
    to. An approval card is the exception: its buttons keep their numbers for as
    long as it has buttons, even when it is printed again (updated, or by
    ``/waiting``), so a number seen on a card never clicks a different button. New
    buttons take the lowest numbers no card holds. What the access workflow sends
    while a turn runs (approval cards, their updates, news for the requester) is
    held and printed after the turn's own replies: the cards first, each once in its
    latest state and in the order they were first posted, then the news.
    """

    def __init__(self, out: TextIO, people: DemoPeople, user: DemoPerson) -> None:
        self.out = out
        self.people = people
        self.user = user
        self.choices: dict[int, Choice] = {}
        self._card_numbers: dict[CardKey, list[int]] = {}
        self._cards: dict[MessageRef, _Card] = {}
        self._news: list[tuple[Reply, str]] = []

    def begin(self) -> dict[int, Choice]:
        """A new turn: only the cards' numbers still click; returns all those live before."""
        before = dict(self.choices)
        held = {n for numbers in self._card_numbers.values() for n in numbers}
        self.choices = {n: c for n, c in before.items() if n in held}
        return before

    def choice(self, text: str) -> Choice | None:
        return self.choices.get(int(text)) if text.isdigit() else None

    def plain(self, text: str, reader: DemoPerson | None = None) -> str:
        """Slack mrkdwn mentions and escapes as terminal text; dates in ``reader``'s zone."""
        return terminal_text(text, self.people, reader.tz if reader else None)

    def _numbers(self, count: int, key: CardKey | None) -> list[int]:
        """Numbers for ``count`` buttons: a card's own again, else the lowest free ones."""
        if key is not None:
            mine = self._card_numbers.pop(key, [])
            for number in mine:
                self.choices.pop(number, None)
            if len(mine) == count:
                return mine
        taken = set(self.choices) | {n for ns in self._card_numbers.values() for n in ns}
        numbers: list[int] = []
        candidate = 1
        while len(numbers) < count:
            if candidate not in taken:
                numbers.append(candidate)
            candidate += 1
        return numbers

    def show(self, reply: Reply, to: str, card: CardKey | None = None) -> None:
        """Print one message to the person with Slack id ``to``; number its buttons.

        ``card`` names an approval card (request id, approver), whose numbers are kept.
        """
        head = "bot (updated)>" if reply.replaces_prompt else "bot>"
        recipient = self.people.by_id(to)
        if to != self.user.slack_id:
            head = f"[to approver {recipient.email if recipient else to}] {head}"
        print(f"{head} {self.plain(reply.text, recipient)}", file=self.out)
        for label, value in reply.fields:
            print(f"    {label}: {self.plain(value, recipient)}", file=self.out)
        live = list(reply.buttons) if recipient is not None else []
        numbers = self._numbers(len(live), card)
        if card is not None and numbers:
            self._card_numbers[card] = list(numbers)
        for button in reply.buttons:
            if recipient is None:
                print(f"    [-] {button.label}", file=self.out)
                continue
            number = numbers.pop(0)
            self.choices[number] = Choice(button, recipient.actor)
            print(f"    [{number}] {button.label}", file=self.out)
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
            # In the approver's own language, as in Slack.
            approver = self.people.by_id(held.recipient)
            with speaking(approver.locale if approver else None, current()):
                card = approval_card(held.snapshot)
            self.show(
                dataclasses.replace(card, replaces_prompt=not held.posted_now),
                held.recipient,
                (held.snapshot.request.id, held.recipient),
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
        print(
            f"[security channel] {self.screen.plain(text)}", file=self.screen.out, flush=True
        )


class TerminalPhone:
    """The demo's ``PushPrompter``, and the employee's phone.

    The bot's message with the number goes to the screen; then the phone's prompt
    (``[Okta Verify on Ada's phone] Is it you signing in? ...``) offers the sandbox's
    numbers and a denial, and the typed answer is given to the sandbox's push, as the
    Okta Verify app would. No answer (end of input) lets the push time out.
    """

    def __init__(self, screen: Screen, keyboard: Keyboard, state: OktaState) -> None:
        self.screen = screen
        self.keyboard = keyboard
        self.state = state

    async def push_sent(self, actor: Actor, challenge: PushChallenge, label: str) -> None:
        self.screen.show(push_prompt(challenge, label), actor.slack_user_id)
        pushes = self.state.pushes
        waiting = pushes.waiting(challenge.user_id)
        if waiting is None:
            return
        first = (actor.display_name or actor.email).split()[0]
        device = f"{label} Verify" if label == "Okta" else label
        choices = [str(n) for n in waiting.choices] or ["Yes, it's me"]
        out = self.screen.out
        print(f"[{device} on {first}'s phone] Is it you signing in? "
              + ("Pick the number shown in Slack:" if waiting.choices else ""), file=out)
        for number, label_ in enumerate([*choices, "No, it's not me"], start=1):
            print(f"    [{number}] {label_}", file=out)
        out.flush()
        while True:
            line = await self.keyboard.read()
            if line is None:
                pushes.time_out(challenge.user_id)
                return
            if line.isdigit() and 1 <= int(line) <= len(choices) + 1:
                break
            print(f"[{device}] Please type a number from 1 to {len(choices) + 1}.", file=out)
        index = int(line) - 1
        if index == len(choices):
            pushes.answer(challenge.user_id, approve=False)
        elif waiting.choices:
            pushes.answer(challenge.user_id, waiting.choices[index])
        else:
            pushes.answer(challenge.user_id)


class Keyboard:
    """Lines typed (or piped) by the demo user; piped lines are echoed after ``you>``.

    At a terminal, lines are read with ``readline`` (Up/Down recall earlier lines)
    in a daemon thread of its own: Ctrl-C then stops the demo at once, since
    ``asyncio.run`` waits for its default executor's threads but not for this one.
    Ctrl-D ends the demo on a fresh line.
    """

    def __init__(self, stdin: TextIO, out: TextIO) -> None:
        self.stdin = stdin
        self.out = out
        self.interactive = stdin.isatty()
        self.closed = False
        # input() edits lines with readline only on the process's own terminal.
        self._readline = self.interactive and stdin is sys.stdin and out is sys.stdout
        if self._readline:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401 - importing it gives input() history and editing

    def _read_line(self) -> str:
        """One line, "" at the end of input (the prompt is input()'s, for readline)."""
        if self._readline:
            try:
                return input("you> ") + "\n"
            except EOFError:
                return ""
        if self.interactive:
            print("you> ", end="", file=self.out, flush=True)
        return self.stdin.readline()

    async def read(self) -> str | None:
        """The next line, stripped; ``None`` at the end of input."""
        if self.closed:
            return None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()

        def work() -> None:
            line: str | None = None
            error: BaseException | None = None
            try:
                line = self._read_line()
            except BaseException as exc:  # handed to the waiting task
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop is gone: the demo has ended
                loop.call_soon_threadsafe(_settle, future, line, error)

        threading.Thread(target=work, name="demo-keyboard", daemon=True).start()
        line = await future
        if not line:
            self.closed = True
            if self.interactive:
                print(file=self.out, flush=True)  # Ctrl-D: end on a fresh line
            return None
        text = line.strip()
        if not self.interactive:
            print(f"you> {text}", file=self.out, flush=True)
        return text


def _settle(future: asyncio.Future[str], line: str | None, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        assert line is not None
        future.set_result(line)
