"""The demo's terminal: stable button numbers, and a real keyboard on a pseudo-terminal."""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.replies import Button, Reply
from bot.terminal import DemoPeople, Screen
from sandboxes.okta.seed import DEMO_SEED
from sandboxes.okta.state import load_seed

ROOT = Path(__file__).resolve().parents[2]


def _screen() -> tuple[Screen, io.StringIO, DemoPeople]:
    people = DemoPeople.from_state(load_seed(DEMO_SEED))
    ada = people.by_email("ada.lovelace@example.com")
    assert ada is not None
    out = io.StringIO()
    return Screen(out, people, ada), out, people


def _card(label: str, live: bool) -> Reply:
    buttons = [Button("Approve", "a", label), Button("Deny", "d", label)] if live else []
    return Reply(f"card {label}", buttons)


def test_a_card_keeps_its_numbers_when_another_card_updates() -> None:
    screen, out, people = _screen()
    grace = people.by_email("grace.hopper@example.com")
    alan = people.by_email("alan.turing@example.com")
    assert grace is not None and alan is not None
    screen.begin()
    screen.show(_card("one", True), grace.slack_id, ("r1", grace.slack_id))
    screen.show(_card("two", True), alan.slack_id, ("r2", alan.slack_id))
    assert "[3] Approve\n    [4] Deny" in out.getvalue()
    # Next turn: the first card is decided (no buttons any more) and printed again.
    screen.begin()
    screen.show(_card("one", False), grace.slack_id, ("r1", grace.slack_id))
    screen.show(_card("two", True), alan.slack_id, ("r2", alan.slack_id))
    assert out.getvalue().endswith("card two\n    [3] Approve\n    [4] Deny\n")
    three = screen.choice("3")
    assert three is not None and three.button.value == "two" and three.clicker == alan.actor
    assert screen.choice("1") is None and screen.choice("2") is None
    # New buttons take the free numbers, never a card's.
    screen.begin()
    screen.show(Reply("offer", [Button("Yes", "y", "y"), Button("No", "n", "n"),
                                Button("Maybe", "m", "m")]), screen.user.slack_id)
    assert "[1] Yes\n    [2] No\n    [5] Maybe\n" in out.getvalue()


# -- a real terminal ---------------------------------------------------------------------


class Pty:
    """``helpdesk demo`` on a pseudo-terminal that is its controlling terminal."""

    def __init__(self) -> None:
        self.master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update(PYTHONPATH=str(ROOT), TERM="xterm", INPUTRC="/dev/null")

        def controlling_terminal() -> None:
            import fcntl
            import termios

            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "demo"],
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
            preexec_fn=controlling_terminal,
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 60.0) -> str:
        """Read until ``text`` has appeared; everything read so far."""
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never came; got {self.seen[-2000:]!r}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    assert text in self.seen, f"{text!r} never came; got {self.seen[-2000:]!r}"
                self.seen += chunk.decode(errors="replace")
        return self.seen

    def expect_count(self, text: str, count: int, timeout: float = 60.0) -> None:
        """Read until ``text`` has appeared ``count`` times."""
        deadline = time.monotonic() + timeout
        while self.seen.count(text) < count:
            assert time.monotonic() < deadline, self.seen[-2000:]
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                self.seen += os.read(self.master, 4096).decode(errors="replace")

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait(self, timeout: float) -> int:
        """The exit status within ``timeout`` seconds (draining the terminal meanwhile)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    break
        return self.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


def test_ctrl_c_at_the_prompt_ends_the_demo_at_once() -> None:
    term = Pty()
    try:
        term.expect("you> ")
        term.send("\x03")  # the terminal turns Ctrl-C into SIGINT
        started = time.monotonic()
        assert term.wait(10) == 130
        assert time.monotonic() - started < 5
        assert "Traceback" not in term.seen
    finally:
        term.close()


def test_up_recalls_the_last_line_and_ctrl_d_ends_on_a_fresh_line() -> None:
    term = Pty()
    try:
        term.expect("you> ")
        term.send("hello\r")
        term.expect_count("you> ", 2)  # answered, and asked again
        answers = term.seen.count("bot> ")
        term.send("\x1b[A\r")  # Up, Enter: "hello" again
        term.expect_count("you> ", 3)
        assert term.seen.count("bot> ") > answers
        assert term.seen.count("you> hello") == 2
        time.sleep(0.5)
        term.send("\x04")  # Ctrl-D at an empty prompt
        assert term.wait(20) == 0
        last_prompt = term.seen.rindex("you> ")
        assert term.seen[last_prompt:].startswith("you> \r\n"), repr(term.seen[last_prompt:])
    finally:
        term.close()
