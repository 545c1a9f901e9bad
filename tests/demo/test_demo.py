"""The terminal demo: a scripted conversation on the Okta sandbox, as `make run` would run it."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from bot.configuration import load_config
from bot.demo import DEMO_CATALOGUE, demo_catalogue
from bot.replies import Button, Reply
from bot.terminal import DemoPeople, Screen
from config.settings import CatalogueEntry
from sandboxes.okta.seed import DEMO_SEED
from sandboxes.okta.state import load_seed

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=script, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )


def test_scripted_reset_through_run_without_slack_credentials() -> None:
    # 1 clicks "Reset my password"; 3 picks, on the demo phone, the number shown in the chat.
    proc = _run("I forgot my password\n1\n3\n", "run")
    assert proc.returncode == 0, proc.stderr
    assert "starting the local demo" in proc.stderr
    out = proc.stdout
    assert "you> I forgot my password" in out
    assert "Go ahead?" in out and "[1] Reset my password" in out
    assert "I sent a push to Okta Verify on your phone. Open it and pick *59*" in out
    assert "[Okta Verify on Ada's phone] Is it you signing in?" in out and "[3] 59" in out
    assert "Here is your one-time Okta password reset link:\nhttps://127.0.0.1:" in out
    assert "Traceback" not in proc.stderr


def test_demo_flows_on_sandbox_users() -> None:
    script = (
        "I'm locked out\n3\nwhen does my password expire\nlost my phone, need to reset mfa\n1\n"
    )
    proc = _run(script, "demo", "--as", "grace.hopper@example.com")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Your Okta account is unlocked" in out
    assert "Your Okta password expires in" in out
    assert "[Okta Verify on Grace's phone]" in out
    assert "removes *all* 2 MFA factors" in out
    # MFA reset is verified by a person by default: Grace and Frances are asked, nothing changes.
    assert "someone must confirm it's really you" in out
    assert "[to approver frances.allen@example.com] bot> *Identity check*: @Grace Hopper" in out
    assert "removed 2 MFA factors" not in out
    assert "<@UDEMO" not in out and "(s)" not in out


def test_mfa_reset_after_another_employee_confirms_it_is_them() -> None:
    # Ada confirms; Grace ([1] on Grace's card) approves; Ada goes ahead ([1]) and confirms ([1]).
    proc = _run("reset my mfa\n1\n1\n1\n1\n", "run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "[to approver grace.hopper@example.com] bot> *Identity check*: @Ada Lovelace" in out
    assert "Confirmed by @Grace Hopper." in out
    assert "bot> @Grace Hopper confirmed it's you. You can go ahead with your MFA reset now." in out
    assert "Done: I removed 2 MFA factors" in out
    assert out.index("confirmed it's you") < out.index("Done: I removed")
    # The security channel's notice names people as every other message does.
    assert (
        "[security channel] MFA reset through the helpdesk bot: @Ada Lovelace "
        "(ada.lovelace@example.com) removed 2 factors from their Okta account." in out
    )


def test_push_denied_on_the_demo_phone_changes_nothing_and_tells_security() -> None:
    proc = _run("I forgot my password\n1\n4\n", "run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "[4] No, it's not me" in out
    assert "[security channel] Possible account takeover attempt" in out
    assert "The push to your phone was denied, so I changed nothing" in out
    assert "Here is your one-time" not in out


def test_demo_protected_and_unknown_users() -> None:
    proc = _run("reset my password\n", "demo", "--as", "alan.turing@example.com")
    assert proc.returncode == 0 and "elevated access" in proc.stdout
    proc = _run("", "demo", "--as", "nobody@example.com")
    assert proc.returncode == 2 and "Unknown demo user" in proc.stdout


# -- group access: the requester and the approvers in one terminal ----------------------
GRACE_CARD = "[to approver grace.hopper@example.com] bot>"
GRACE_UPDATED = "[to approver grace.hopper@example.com] bot (updated)>"


def _after(out: str, marker: str) -> str:
    assert marker in out, out
    return out[out.index(marker) :]


def test_group_request_approved_by_another_demo_employee_then_member() -> None:
    proc = _run("I need figma\n1\n2\nI need figma\n", "demo")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Group approvers in this demo: Figma (editor): grace.hopper@example.com;" in out
    assert "Request access to *Figma (editor)* (Okta)?" in out
    sent = _after(
        out, "bot (updated)> Sent: your request for *Figma (editor)* is with @Grace Hopper"
    )
    # The card goes to Grace, never to the requester; its buttons are numbered after Cancel.
    card = _after(
        sent,
        f"{GRACE_CARD} *Access request*: @Ada Lovelace (ada.lovelace@example.com)"
        " asks to join *Figma (editor)* (okta).\nWaiting for a decision.",
    )
    assert "    Why: Not given\n    For how long: No end date\n" in card
    assert "    [1] Cancel request" in sent
    assert "    [2] Approve\n    [3] Deny\nyou> 2\n" in card
    assert "[to approver ada.lovelace" not in out
    decided = _after(card, "you> 2\n")
    assert decided.startswith(f"you> 2\n{GRACE_UPDATED} *Access request*")
    assert "Approved by @Grace Hopper: access granted" in decided
    news = _after(
        decided, "bot> You're now a member of *Figma (editor)* (approved by @Grace Hopper)."
    )
    # The membership is real: the sandbox now says so through the Okta connector.
    assert (
        "you> I need figma\nbot> You're already a member of *Figma (editor)*. Nothing to do."
        in news
    )
    assert "Traceback" not in proc.stderr


def test_group_request_denied_with_a_reason_asked_on_the_next_line() -> None:
    script = "I need figma\n1\n3\nno\nFigma seats are for the design team\nI need figma\n/waiting\n"
    proc = _run(script, "demo")
    assert proc.returncode == 0, proc.stderr
    out = _after(proc.stdout, "you> 3\n")
    assert out.startswith(
        f"you> 3\n{GRACE_CARD} Deny @Ada Lovelace's request for *Figma (editor)*? "
        "They will see your reason.\n"
        f"{GRACE_CARD} Reason (at least 3 characters; 'cancel' closes the form)\nyou> no\n"
        f"{GRACE_CARD} Please write at least 3 characters.\n"
    )
    decided = _after(out, "you> Figma seats are for the design team\n")
    assert "Denied by @Grace Hopper: Figma seats are for the design team" in decided
    assert (
        "bot> Your request for *Figma (editor)* was denied by @Grace Hopper: "
        "Figma seats are for the design team" in decided
    )
    # Nothing was added: asking again offers a new request.
    again = _after(decided, "you> I need figma\n")
    assert again.startswith("you> I need figma\nbot> Request access to *Figma (editor)*")
    assert again.endswith("you> /waiting\nbot> No approval request is waiting for anyone.\n")
    assert "already a member" not in proc.stdout


def test_justification_duration_two_approvers_and_no_self_approval() -> None:
    # Frances is VPN's only approver: her own request can't go anywhere. GitHub needs a
    # reason, a duration, and both Ada and Grace; a form can be closed with 'cancel'.
    script = (
        "I need vpn\n1\nTo work from home during the office move\n"
        "I need github\n1\ncancel\n"
        "1\nshort\nTo review the design system repository\n9\n2\n"
        "/waiting\n2\n1\n4\nI need github\n"
    )
    proc = _run(script, "demo", "--as", "frances.allen@example.com")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert (
        "bot (updated)> I couldn't find enough approvers for VPN, so I didn't send the request."
        in out
    )
    assert "[to approver frances.allen" not in out
    # Closing a form leaves the buttons it was opened from working: [1] opens it again.
    closed = _after(out, "you> cancel\n")
    assert closed.startswith(
        "you> cancel\nbot> Form closed; nothing was changed (the buttons before it still work).\n"
        "you> 1\nbot> Access to *GitHub organisation*."
    )
    form = _after(out, "you> short\n")
    assert form.startswith("you> short\nbot> Please write at least 10 characters.\n")
    assert "you> 9\nbot> Please type a number from 1 to 4.\n" in form
    assert "    [1] 1 day\n    [2] 1 week\n    [3] 30 days\n    [4] 90 days\n" in form
    sent = _after(
        form,
        "bot (updated)> Sent: your request for *GitHub organisation* is with "
        "@Ada Lovelace, @Grace Hopper.",
    )
    ada_card = _after(
        sent,
        "[to approver ada.lovelace@example.com] bot> *Access request*: "
        "@Frances Allen (frances.allen@example.com)",
    )
    assert "    Why: To review the design system repository\n    For how long: 1 week\n" in ada_card
    assert "    Approvals needed: 2\n" in ada_card
    assert "    [2] Approve\n    [3] Deny\n" in ada_card
    assert f"{GRACE_CARD} *Access request*" in ada_card
    # /waiting shows the waiting cards again, each with the numbers it had.
    waiting = _after(ada_card, "you> /waiting\n")
    assert waiting.startswith(
        "you> /waiting\n[to approver ada.lovelace@example.com] bot> *Access request*"
    )
    assert "    [2] Approve\n    [3] Deny\n" in waiting
    assert f"{GRACE_CARD} *Access request*" in waiting
    assert "    [4] Approve\n    [5] Deny\nyou> 2\n" in waiting
    recorded = _after(waiting, "you> 2\n")
    assert "Approved by @Ada Lovelace (1 of 2); waiting for another approver." in recorded
    assert (
        "bot> @Ada Lovelace approved your request for *GitHub organisation*; "
        "it needs 1 more approval." in recorded
    )
    # Both cards were updated; each kept its numbers. [1] (Cancel request) is gone and
    # says so rather than being read as a message.
    grace = _after(recorded, f"{GRACE_UPDATED} *Access request*")
    assert "    [4] Approve\n    [5] Deny\n" in grace
    assert "you> 1\nbot> No button has the number 1 now" in grace
    assert "Buttons you can click: [2], [3], [4], [5].\nyou> 4\n" in grace
    done = _after(grace, "you> 4\n")
    assert (
        "bot> You're now a member of *GitHub organisation* (approved by @Ada Lovelace and "
        "@Grace Hopper). Your access ends" in done
    )
    assert done.endswith(
        "you> I need github\nbot> You're already a member of *GitHub organisation*. "
        "Nothing to do.\n"
    )


def test_demo_catalogue_names_other_employees_and_cards_click_as_their_approver() -> None:
    people = DemoPeople.from_state(load_seed(DEMO_SEED))
    ada = people.by_email("ada.lovelace@example.com")
    grace = people.by_email("grace.hopper@example.com")
    assert ada is not None and grace is not None and ada.slack_id != grace.slack_id
    entries = [CatalogueEntry.model_validate(e) for e in demo_catalogue(people)]
    assert [e.key for e in entries] == [e["key"] for e in DEMO_CATALOGUE]
    assert entries[0].approvers == [grace.slack_id]
    # The packaged catalogue is left as it is: the demo's is its own.
    assert load_config().catalogue[0].approvers == ["manager", "@it-approvers", "#it-approvals"]

    out = io.StringIO()
    screen = Screen(out, people, ada)
    screen.show(Reply(f"hi <@{grace.slack_id}> &lt;b&gt; <#C0123|it-approvals>"), ada.slack_id)
    screen.show(Reply("card", [Button("Approve", "hd_access_approve", "x")]), grace.slack_id)
    assert out.getvalue() == (
        "bot> hi @Grace Hopper <b> #it-approvals\n"
        "[to approver grace.hopper@example.com] bot> card\n    [1] Approve\n"
    )
    chosen = screen.choice("1")
    assert chosen is not None and chosen.clicker == grace.actor
    assert screen.choice("2") is None
    screen.begin()
    assert screen.choice("1") is None


def test_demo_nudges_runs_the_sweep_over_the_demo_directory_and_exits() -> None:
    proc = _run("", "demo", "--nudges")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Password-expiry sweep over the demo directory" in out
    # Ada's password was changed 82 days ago under the 90-day policy: 8 calendar days left.
    assert (
        "[nudge to ada.lovelace@example.com] bot> Your Okta password expires in 8 days, on "
        in out
    )
    # Ada's profile has a time zone (Europe/Berlin): her nudge speaks of it.
    assert re.search(r"expires in 8 days, on \w+day \d+ \w+ \d{4} at \d\d:\d\d CET\.", out)
    assert "    [-] Change it now\n" in out
    assert out.count("[nudge to ") == 1
    assert "[IT channel #it-help] Password-expiry nudges, demo run: completed" in out
    assert "[IT channel #it-help] Scanned 2 · nudged 1 · skipped 1 · failed 0" in out
    assert "you>" not in out and "Traceback" not in proc.stderr


def test_times_read_in_the_demo_employees_own_zone() -> None:
    """Ada's profile has Europe/Berlin: her answers say "your time"; Grace's card, none, UTC."""
    proc = _run("when does my password expire?\nI need figma\n1\n", "demo")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"expires in 8 days, on \w{3} \d+ \w{3}, \d\d:\d\d your time\.", out), out
    assert re.search(r"it expires \w{3} \d+ \w{3}, \d\d:\d\d your time if nobody does", out)
    assert re.search(r"Requested: \w{3} \d\d \w{3} \d{4}, \d\d:\d\d UTC\n", out)
    assert "<!date" not in out


def test_first_week_answers_with_the_real_router() -> None:
    """A thing the catalogue lacks gets the catalogue; thanks a short reply; hello the menu."""
    proc = _run("I need photoshop\nthanks!\nhi\n", "demo")
    assert proc.returncode == 0, proc.stderr
    turns = proc.stdout.split("you> ")[1:]
    photoshop, thanks, hello = turns
    assert "I can only request access to groups in the catalogue" in photoshop
    assert "You can ask for: Figma (editor), VPN, GitHub organisation." in photoshop
    assert "Did you mean" not in photoshop
    assert "bot> You're welcome! Message me any time you need help.\n" in thanks
    assert "[" not in thanks  # no buttons
    assert "Here's what I can do for you" in hello and "[1] Reset my password" in hello
