"""Unexpected failures in every flow of the terminal demo: the person typing is answered.

The demo session runs in-process on the in-memory directory (the Okta-backed
runs are in ``test_demo.py``); a directory method or a workflow step is replaced
by one that raises, and the screen shows the same answer Slack would give, with
the error logged under its reference.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.demo import DemoSession
from bot.runtime import Runtime
from bot.terminal import (
    DemoPeople,
    DemoPerson,
    Keyboard,
    Screen,
    TerminalAccessNotifier,
    TerminalNotifier,
)
from connectors.errors import PermissionDenied
from connectors.memory import MemoryDirectory
from tests.bot.helpers import (
    NOT_FINISHED,
    NOTHING_CHANGED,
    assert_failure_answered,
    failing,
    make_config,
    make_directory,
    providers_for,
)

ADA = DemoPerson("ada@example.com", "Ada", "UDEMO0001")
PAT = DemoPerson("phone@example.com", "Pat", "UDEMO0002")  # approves Figma
LEE = DemoPerson("locked@example.com", "Lee", "UDEMO0003")
CATALOGUE: list[dict[str, Any]] = [
    {"key": "figma-editors", "display_name": "Figma (editor)", "aliases": ["figma"],
     "provider_group": "figma-editors", "approvers": [PAT.slack_id]},
    {"key": "vpn-users", "display_name": "VPN", "aliases": ["vpn"],
     "provider_group": "vpn-users", "approvers": [PAT.slack_id],
     "justification_required": True, "max_duration": "7d"},
]
DENIED = PermissionDenied("mem", "the service account may not read this user")
PAT_SAYS = "[to approver phone@example.com] bot>"


@dataclass
class Demo:
    runtime: Runtime
    directory: MemoryDirectory
    out: io.StringIO
    keyboard: Keyboard
    session: DemoSession

    async def type(self, line: str, *answers: str) -> str:
        """Type ``line`` (then ``answers`` to the questions it asks); what the screen shows."""
        self.keyboard.stdin = io.StringIO("".join(f"{a}\n" for a in answers))
        self.keyboard.closed = False
        start = len(self.out.getvalue())
        await self.session.turn(line)
        return self.out.getvalue()[start:]


async def _demo(tmp_path: Path, user: DemoPerson) -> AsyncIterator[Demo]:
    out = io.StringIO()
    people = DemoPeople([ADA, PAT, LEE])
    cfg = make_config(
        f"sqlite:///{tmp_path}/demo.sqlite3", catalogue=CATALOGUE,
        access={"durations": ["1d", "7d"]},
    )
    directory = make_directory()
    directory.add_group("vpn-users")
    screen = Screen(out, people, user)
    runtime = await Runtime.start(
        cfg, TerminalNotifier(out), {}, providers=providers_for(directory, cfg),
        access_notifier=TerminalAccessNotifier(screen), people=people,
    )
    keyboard = Keyboard(io.StringIO(""), out)
    session = DemoSession(runtime, screen, keyboard, people)
    try:
        yield Demo(runtime, directory, out, keyboard, session)
    finally:
        await runtime.aclose()


@pytest.fixture
async def ada(tmp_path: Path) -> AsyncIterator[Demo]:
    async for demo in _demo(tmp_path, ADA):
        yield demo


@pytest.fixture
async def lee(tmp_path: Path) -> AsyncIterator[Demo]:
    async for demo in _demo(tmp_path, LEE):
        yield demo


@pytest.fixture
async def pat(tmp_path: Path) -> AsyncIterator[Demo]:
    async for demo in _demo(tmp_path, PAT):
        yield demo


def _line(screen: str, wording: str, who: str = "bot>") -> str:
    """The screen line holding ``wording``, checked to be addressed as ``who``."""
    [line] = [x for x in screen.splitlines() if wording in x]
    assert line.startswith(who), line
    return line


# -- self-service ------------------------------------------------------------------------
async def test_reset_offer(ada: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ada.directory, "find_user_by_email", failing(DENIED))
    with capture_logs() as logs:
        screen = await ada.type("I forgot my password")
    assert_failure_answered(logs, _line(screen, NOTHING_CHANGED), "PermissionDenied")


async def test_confirm_reset(ada: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "Go ahead?" in await ada.type("I forgot my password")
    monkeypatch.setattr(ada.directory, "start_password_reset", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        screen = await ada.type("1")
    assert_failure_answered(logs, _line(screen, NOT_FINISHED), "RuntimeError", changing=True)
    assert "memory.invalid" not in ada.out.getvalue()


async def test_unlock(lee: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lee.directory, "unlock", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        screen = await lee.type("I'm locked out")
    assert_failure_answered(logs, _line(screen, NOT_FINISHED), "RuntimeError", changing=True)


async def test_mfa_offer(pat: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pat.directory, "protections", failing(DENIED))
    with capture_logs() as logs:
        screen = await pat.type("new phone, reset my mfa")
    assert_failure_answered(logs, _line(screen, NOTHING_CHANGED), "PermissionDenied")


async def test_confirm_mfa_reset(pat: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "Go ahead?" in await pat.type("new phone, reset my mfa")
    monkeypatch.setattr(pat.directory, "reset_factors", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        screen = await pat.type("1")
    assert_failure_answered(logs, _line(screen, NOT_FINISHED), "RuntimeError", changing=True)


async def test_expiry(ada: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ada.directory, "password_status", failing(KeyError("passwordChanged")))
    with capture_logs() as logs:
        screen = await ada.type("/helpdesk expiry")
    assert_failure_answered(logs, _line(screen, NOTHING_CHANGED), "KeyError")


# -- group access ------------------------------------------------------------------------
async def test_group_pick(ada: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    menu = await ada.type("/helpdesk request")
    assert "[1] Figma (editor)" in menu
    monkeypatch.setattr(ada.directory, "is_member", failing(DENIED))
    with capture_logs() as logs:
        screen = await ada.type("1")
    assert_failure_answered(logs, _line(screen, NOTHING_CHANGED), "PermissionDenied")


async def test_request_form_submitted(ada: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "[1] Request access" in await ada.type("/helpdesk request vpn")
    monkeypatch.setattr(ada.directory, "find_user_by_email", failing(DENIED))
    with capture_logs() as logs:
        screen = await ada.type("1", "Working from home on Fridays", "1")
    assert "Why do you need it?" in screen
    assert_failure_answered(logs, _line(screen, NOT_FINISHED), "PermissionDenied", changing=True)


async def _figma_card(demo: Demo) -> str:
    screen = await demo.type("/helpdesk request figma")
    assert "[1] Request access" in screen
    screen = await demo.type("1")
    assert f"{PAT_SAYS} *Access request*" in screen and "[2] Approve" in screen
    return screen


async def test_approve_click(ada: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    await _figma_card(ada)
    monkeypatch.setattr(ada.runtime.store.access, "approve", failing(ConnectionError("db down")))
    with capture_logs() as logs:
        screen = await ada.type("2")
    # The approver clicked, so the approver is told.
    line = _line(screen, NOT_FINISHED, PAT_SAYS)
    assert_failure_answered(logs, line, "ConnectionError", changing=True)
    assert "db down" not in str(logs)


async def test_deny_click(ada: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    await _figma_card(ada)
    monkeypatch.setattr(ada.runtime.access, "authorise", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        screen = await ada.type("3")
    assert_failure_answered(logs, _line(screen, NOTHING_CHANGED, PAT_SAYS), "RuntimeError")


async def test_waiting_list(ada: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ada.runtime.access, "waiting_for_me", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        screen = await ada.type("/waiting")
    assert_failure_answered(logs, _line(screen, NOTHING_CHANGED), "RuntimeError")


async def test_home(ada: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The App Home is Slack's; the conversation answers it for any surface the same way."""
    monkeypatch.setattr(ada.runtime.access, "my_requests", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        home = await ada.runtime.conversation.home(ADA.actor)
    assert_failure_answered(logs, home.notice, "RuntimeError")
    assert "Here's what I can do" in home.help.text


async def test_the_session_goes_on_after_a_failure(
    ada: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ada.directory, "find_user_by_email", failing(DENIED))
    await ada.type("I forgot my password")
    monkeypatch.undo()
    assert "Go ahead?" in await ada.type("I forgot my password")
