"""The IT admins' view: App Home sections and ``/helpdesk status``.

Pure tests call the wording and the Block Kit builders directly; scenario tests run
the bot on 127.0.0.1 against the Slack fake, with the in-memory directory behind it,
and look at what each person's App Home and DM show.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from actions.access import StaticPeople
from actions.audit import Actor
from bot.admin_view import (
    AdminData,
    AdminView,
    ItAdmins,
    PendingApproval,
    RecentAction,
    SweepSummary,
    action_line,
    admin_sections,
    age,
    health_of,
    last_sweep,
    status_reply,
    sweep_section,
)
from bot.doctor import DoctorReport
from bot.replies import Button, Home, HomeSection, Reply
from bot.views.home import home_section_blocks, home_view
from bot.views.text import dates_as_text
from config.settings import ConfigError
from connectors.base import MfaFactor
from connectors.doctor import Finding, Status
from connectors.errors import Unavailable
from sandboxes.slack import SlackState, View, Workspace
from store.db import Store
from store.nudges import NudgeStore, RunRecord
from tests.bot.helpers import make_config, make_directory, providers_for
from tests.bot.slack_world import ORGANISATION, SlackWorld, acme, slack_user, slack_world

NOW = datetime(2030, 1, 2, 12, 0, tzinfo=UTC)
ADA, ANNA, BERT, BOB = "U0ADA00001", "U0ANNA0001", "U0BERT0001", "U0BOB00001"
IT_GROUP = "S0ITADMINS"
ADMIN_TITLES = ("Pending approvals", "Recent actions", "Last password-expiry sweep")


# -- configuration and membership -----------------------------------------------------------
def test_it_admins_accepts_users_and_user_groups_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.sqlite3"
    org = {"it_channel": "#it-help"}
    cfg = make_config(url, organisation={**org, "it_admins": [ANNA, IT_GROUP, "@it-admins"]})
    assert cfg.organisation.it_admins == [ANNA, IT_GROUP, "@it-admins"]
    assert make_config(url).organisation.it_admins == []
    for bad in ("#it-help", "C0CHANNEL1", "manager", "anna@example.com"):
        with pytest.raises(ConfigError) as err:
            make_config(url, organisation={**org, "it_admins": [ANNA, bad]})
        assert err.value.problems == [
            f"test: organisation.it_admins: Value error, {bad!r} is not a Slack user id "
            "(U123) or user group (S123 or @handle)"
        ]


async def test_membership_named_users_and_user_groups() -> None:
    people = StaticPeople(groups={IT_GROUP: [ANNA]})
    admins = ItAdmins([BERT, IT_GROUP], people)
    assert await admins.includes(BERT) and await admins.includes(ANNA)
    assert not await admins.includes(ADA)

    class Broken:
        async def usergroup_members(self, usergroup: str) -> list[str]:
            raise OSError("slack is down")

        async def user_for_email(self, email: str) -> str | None:
            return None

    # A group that can't be read grants nothing; named users still count.
    broken = ItAdmins([BERT, IT_GROUP], Broken())
    assert not await broken.includes(ANNA) and await broken.includes(BERT)
    assert not await ItAdmins([], people).includes(ANNA)


# -- wording ---------------------------------------------------------------------------------
def _data(**kw: Any) -> AdminData:
    values: dict[str, Any] = {
        "now": NOW,
        "pending": [
            PendingApproval(ADA, "ada@example.com", "Figma (editor)", NOW - timedelta(days=2),
                            0, 1),
            PendingApproval(BOB, "bob@example.com", "GitHub <org>", NOW - timedelta(minutes=5),
                            1, 2),
        ],
        "pending_total": 2,
        "recent": [
            RecentAction(NOW - timedelta(minutes=1), ANNA, "access_approve", "ada@example.com",
                         "approved"),
            RecentAction(NOW - timedelta(hours=1), "system", "access_expire", None, "expired"),
        ],
    }
    values.update(kw)
    return AdminData(**values)


def test_admin_sections_say_who_what_and_how_long() -> None:
    pending, recent, sweep = admin_sections(_data())
    assert pending.title == "Pending approvals" and pending.more == 0
    assert pending.lines[0] == (
        "• <@U0ADA00001> (ada@example.com) → *Figma (editor)* · waiting 2 days"
    )
    # Names are escaped; several approvals show the progress.
    assert "*GitHub &lt;org&gt;* · waiting 5 minutes · 1 of 2 approvals" in pending.lines[1]
    assert recent.title == "Recent actions"
    # Times are Slack date tokens: each IT admin reads them in their own time zone.
    assert recent.lines == [
        "• <!date^1893585540^{date_short_pretty}, {time} your time|Wed 02 Jan 2030, 11:59 UTC>"
        " · <@U0ANNA0001> access_approve → ada@example.com: *approved*",
        "• <!date^1893582000^{date_short_pretty}, {time} your time|Wed 02 Jan 2030, 11:00 UTC>"
        " · system access_expire: *expired*",
    ]
    assert sweep.title == "Last password-expiry sweep" and sweep.empty == "No sweep yet."
    assert not sweep.lines and not sweep.fields


def test_admin_sections_when_nothing_happened() -> None:
    pending, recent, _ = admin_sections(AdminData(NOW, pending_total=0))
    assert pending.empty == "Nothing is waiting for approval." and not pending.lines
    assert recent.empty == "No actions recorded yet." and not recent.lines
    # More pending than shown: the rest are counted.
    shown = _data(pending_total=40)
    assert admin_sections(shown)[0].more == 38


def test_recent_actions_never_show_secrets_or_mentions() -> None:
    line = action_line(
        RecentAction(NOW, "<!channel>", "password_reset", "xoxb-123456-abcdef-secret", "success")
    )
    assert "xoxb-" not in line and "[REDACTED]" in line
    assert "<!channel>" not in line and "&lt;!channel&gt;" in line


def test_ages() -> None:
    assert age(timedelta(seconds=20)) == "under a minute"
    assert age(timedelta(minutes=1)) == "1 minute"
    assert age(timedelta(hours=5, minutes=59)) == "5 hours"
    assert age(timedelta(days=3, hours=2)) == "3 days"
    assert age(timedelta(seconds=-5)) == "under a minute"


def _run(status: str, started: datetime, counts: dict[str, Any] | None = None) -> RunRecord:
    finished = None if status == "running" else started + timedelta(minutes=3)
    return RunRecord("r" + started.isoformat(), "schedule", started, "h:1:x", status, started,
                     finished, counts or {})


def test_last_sweep_reads_the_stored_counts() -> None:
    counts = {"scanned": 1234, "nudged": 12, "skipped": {"no_slack_account": 3, "already": 2},
              "failed": {"delivery_failed": 1}, "errors": []}
    runs = [_run("running", NOW - timedelta(minutes=1)),
            _run("completed", NOW - timedelta(days=1), counts),
            _run("failed", NOW - timedelta(days=2), {"scanned": 9})]
    sweep, running = last_sweep(runs)
    assert running == NOW - timedelta(minutes=1)
    assert sweep == SweepSummary("completed", "schedule", NOW - timedelta(days=1),
                                 NOW - timedelta(days=1, minutes=-3), 1234, 12, 5, 1)
    section = sweep_section(sweep, running, NOW)
    lines = [dates_as_text(line) for line in section.lines]
    assert lines[0] == "*completed* Tue 01 Jan 2030, 12:03 UTC (23 hours ago, scheduled run)"
    assert "<!date^1893499380^{date_short_pretty}, {time} your time|" in section.lines[0]
    assert "A sweep is running now (started Wed 02 Jan 2030, 11:59 UTC)." in lines
    assert dict(section.fields) == {"Scanned": "1,234", "Nudged": "12", "Skipped": "5",
                                    "Failed": "1"}
    # An interrupted run recorded no counts: said so, not zeros.
    interrupted, _ = last_sweep([_run("interrupted", NOW)])
    assert interrupted is not None
    assert dict(sweep_section(interrupted, None, NOW).fields)["Scanned"] == "not recorded"
    assert last_sweep([]) == (None, None)
    only_running = sweep_section(*last_sweep([_run("running", NOW)]), NOW)
    assert [dates_as_text(line) for line in only_running.lines] == [
        "No sweep has finished yet; one is running now (started Wed 02 Jan 2030, 12:00 UTC)."
    ]


# -- Block Kit -------------------------------------------------------------------------------
def test_admin_sections_in_block_kit() -> None:
    sections = admin_sections(_data(sweep=SweepSummary("completed", "schedule", NOW, NOW,
                                                       10, 2, 1, 0)))
    view = home_view(Home(Reply("help"), sections=sections))
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers == ["IT helpdesk", *ADMIN_TITLES]
    text = json.dumps(view)
    assert "waiting 2 days" in text and "access_approve" in text and "*Nudged*\\n2" in text
    empty = home_view(Home(Reply("help"), sections=admin_sections(AdminData(NOW))))
    assert "No sweep yet." in json.dumps(empty) and "Nothing is waiting" in json.dumps(empty)


def test_long_sections_fit_one_block_and_count_the_rest() -> None:
    lines = [f"• line {i} " + "x" * 180 for i in range(40)]
    blocks = home_section_blocks(HomeSection("Pending approvals", lines, more=5))
    assert [b["type"] for b in blocks] == ["divider", "header", "section", "context"]
    shown = blocks[2]["text"]["text"]
    assert len(shown) <= 3000
    count = shown.count("• line")
    assert blocks[3]["elements"][0]["text"] == f"and {40 - count + 5} more"


def test_home_stays_within_100_blocks_with_admin_sections_last() -> None:
    sections = admin_sections(_data(
        pending=list(_data().pending) * 8,
        pending_total=100,
        sweep=SweepSummary("completed", "schedule", NOW, NOW, 1, 1, 0, 0),
    ))
    # An approval card is three blocks: its text, its fields, its buttons.
    card = Reply("card", [Button("Approve", "hd_access_approve", "r1")], fields=(("Why", "x"),))
    home = Home(Reply("help"), [Reply(f"mine {i}") for i in range(10)], [card] * 40, sections)
    view = home_view(home)
    blocks = view["blocks"]
    assert len(blocks) <= 100
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    assert headers[-3:] == list(ADMIN_TITLES)
    assert "(more not shown)" in json.dumps(blocks) and "and 84 more" in json.dumps(blocks)


# -- connector health wording ----------------------------------------------------------------
def _report(*findings: Finding) -> DoctorReport:
    return DoctorReport(list(findings), "test", NOW, 0.42,
                        {"config": "configuration", "mem": "memory", "okta": "Okta"})


def test_status_reply_lists_each_connector_and_what_to_fix() -> None:
    report = _report(
        Finding("config", "file", Status.OK, "test is valid"),
        Finding("mem", "connect", Status.OK, "reachable and authenticated"),
        Finding("okta", "connect", Status.FAIL, "401 for token SSWS 00abcdefghijklmnop",
                fix="check the credential"),
        Finding("okta", "admin roles", Status.WARN, "Group Admin where less would do"),
    )
    health = health_of(report)
    assert [a.name for a in health.areas] == ["mem", "okta"]  # a healthy config is not listed
    assert health.status is Status.FAIL
    text = status_reply(health).text
    assert text.startswith("*Connector health*: 1 failing, 0 with warnings (checked in 0.4s).")
    assert "• *mem* (memory): ok" in text and "• *okta* (Okta): *FAILING*" in text
    assert "connect: 401 for token [REDACTED] Fix: check the credential" in text
    assert "admin roles: Group Admin" in text and "SSWS" not in text
    assert "`helpdesk doctor`" in text
    healthy = status_reply(health_of(_report(
        Finding("mem", "connect", Status.OK, "reachable and authenticated")
    ))).text
    assert healthy.startswith("*Connector health*: every connector answers")


def test_status_reply_stays_within_a_block() -> None:
    findings = [
        Finding(f"conn{i}", f"check {j}", Status.FAIL, "y" * 500, fix="z" * 200)
        for i in range(12) for j in range(5)
    ]
    text = status_reply(health_of(_report(*findings))).text
    assert len(text) <= 3000 and "and more: see the doctor" in text and "and 2 more" in text


# -- scenarios over a real socket ------------------------------------------------------------
def _workspace() -> Workspace:
    return acme(
        [slack_user(ADA, "ada@example.com"), slack_user(ANNA, "anna@example.com"),
         slack_user(BERT, "bert@example.com"), slack_user(BOB, "bob@example.com")],
        usergroups=[{"id": IT_GROUP, "handle": "it-admins", "users": [ANNA]}],
    )


class Desk(SlackWorld):
    async def home(self, user: str, *, showing: str = "") -> dict[str, Any]:
        """Open ``user``'s App Home; the newly published view, once it shows ``showing``."""
        before = self.state.home_view(user)
        await self.sender.app_home_opened(user)

        def published(st: SlackState) -> View | None:
            view = st.home_view(user)
            if view is None or view is before:
                return None
            return view if showing in json.dumps(view.definition) else None

        view: View = await self.state.wait_for(published)
        return view.definition

    async def audit(self, action: str) -> list[tuple[str, str]]:
        rows = await self.surface.runtime.store.list_audit(action=action)
        return [(r.actor, r.result) for r in rows]


@contextlib.asynccontextmanager
async def _running_desk(tmp_path: Path, **overrides: Any) -> AsyncIterator[Desk]:
    async with slack_world(
        Desk, tmp_path, _workspace(),
        organisation={**ORGANISATION, "it_admins": [IT_GROUP, BERT]},
        catalogue=[{"key": "figma-editors", "display_name": "Figma (editor)",
                    "aliases": ["figma"], "provider_group": "figma-editors",
                    "approvers": [BOB]}],
        **overrides,
    ) as desk:
        yield desk


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with _running_desk(tmp_path) as d:
        yield d


def _headers(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]


async def test_it_admin_home_shows_approvals_actions_and_the_last_sweep(desk: Desk) -> None:
    d = desk
    await d.sender.dm(ADA, "I need Figma")
    await d.state.wait_for_message(ADA, "Request access to *Figma (editor)*")
    await d.sender.block_action(ADA, "hd_access_request.0")
    await d.state.wait_for_message(BOB, "Access request")

    home = await d.home(ANNA, showing="Pending approvals")
    assert _headers(home)[-3:] == list(ADMIN_TITLES) and len(home["blocks"]) <= 100
    text = json.dumps(home)
    assert "<@U0ADA00001> (ada@example.com) \\u2192 *Figma (editor)* \\u00b7 waiting" in text
    assert "<@U0ADA00001> access_request \\u2192 ada@example.com: *submitted*" in text
    assert "No sweep yet." in text
    # The members of the IT group were read once, then kept.
    await d.home(BERT, showing="Pending approvals")  # a named admin
    await d.home(ANNA, showing="Pending approvals")
    assert len(d.state.calls("usergroups.users.list")) == 1

    # A sweep finishes: its counts show on the next opening.
    nudges = NudgeStore(d.surface.runtime.store.engine)
    started = datetime.now(UTC) - timedelta(minutes=10)
    await nudges.start_run(run_id="run1", trigger="schedule", slot=started, holder="h:1:x",
                           now=started)
    counts = {"scanned": 4321, "nudged": 17, "skipped": {"no_slack_account": 4},
              "failed": {"delivery_failed": 2}}
    await nudges.finish_run("run1", status="completed", counts=counts,
                            now=started + timedelta(minutes=2))
    home = await d.home(ANNA, showing="4,321")
    fields = json.dumps(home)
    for expected in ("*Scanned*\\n4,321", "*Nudged*\\n17", "*Skipped*\\n4", "*Failed*\\n2"):
        assert expected in fields
    assert "*completed*" in fields and "No sweep yet." not in fields


async def test_a_pending_identity_check_shows_to_its_approver_and_the_it_admins(
    tmp_path: Path,
) -> None:
    verification = {"password_reset": ["approval"], "unlock": ["approval"],
                    "mfa_reset": ["approval"], "approval": {"approvers": [BOB]}}
    async with _running_desk(tmp_path, verification=verification) as d:
        ada = next(a for a in d.directory.accounts.values() if a.user.email == "ada@example.com")
        ada.factors = [MfaFactor("f1", "push", "Okta Verify")]
        await d.sender.dm(ADA, "lost my phone, need to reset mfa")
        await d.state.wait_for_message(ADA, "MFA")
        await d.sender.block_action(ADA, "hd_confirm.0")
        await d.state.wait_for_message(ADA, "someone must confirm it's really you")
        # The approver: the card, with its buttons, under "Waiting for me".
        home = await d.home(BOB, showing="Identity check")
        assert "Waiting for me" in _headers(home)
        text = json.dumps(home)
        assert "*Identity check*: " in text and "I verified it's them: approve" in text
        # An IT admin: the check among the pending approvals, called what it is.
        home = await d.home(ANNA, showing="Pending approvals")
        assert ("<@U0ADA00001> (ada@example.com) \\u2192 identity check before *MFA reset* "
                "\\u00b7 waiting") in json.dumps(home)
        assert ada.factors  # nothing changed yet


async def test_other_people_never_see_the_admin_sections(desk: Desk) -> None:
    d = desk
    await d.sender.dm(ADA, "I need Figma")
    await d.state.wait_for_message(ADA, "Request access to *Figma (editor)*")
    await d.sender.block_action(ADA, "hd_access_request.0")
    await d.state.wait_for_message(BOB, "Access request")
    for person in (ADA, BOB):
        home = await d.home(person, showing="IT helpdesk")
        text = json.dumps(home)
        assert not any(title in text for title in ADMIN_TITLES)


async def test_status_for_an_admin_and_a_polite_refusal_for_others(desk: Desk) -> None:
    d = desk
    ack = await d.sender.slash_command(ANNA, "/helpdesk", "status")
    assert ack.status_code == 200 and ack.acked_in_time
    answer = await d.state.wait_for_message(ANNA, "Connector health")
    assert answer.visible_text.startswith("*Connector health*: every connector answers")
    assert "• *mem*" in answer.visible_text and ": ok" in answer.visible_text

    await d.sender.slash_command(ADA, "/helpdesk", "status")
    refusal = await d.state.wait_for_message(ADA, "only for the IT team")
    assert "the IT desk in #it-help" in refusal.visible_text
    assert "Connector health" not in d.state.visible_text(ADA)
    assert await d.audit("admin_status") == [(ANNA, "success"), (ADA, "refused")]


async def test_status_shows_a_connector_down_without_its_secrets(desk: Desk) -> None:
    d = desk
    d.directory.fail_next(
        Unavailable("mem", "no answer from https://mem.invalid (Bearer abcdefghijklmnop)"),
        times=3,
    )
    await d.sender.slash_command(BERT, "/helpdesk", "status")
    answer = await d.state.wait_for_message(BERT, "Connector health")
    text = answer.visible_text
    assert "1 failing" in text and "• *mem*" in text and "*FAILING*" in text
    assert "connect: no answer from" in text and "Fix: check the URL" in text
    assert "abcdefghijklmnop" not in text and "[REDACTED]" in text


async def test_status_answers_in_time_when_a_directory_hangs(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = desk

    async def hang(email: str) -> Any:
        await asyncio.sleep(3600)

    monkeypatch.setattr(d.directory, "find_user_by_email", hang)
    d.surface.admin.area_timeout = 0.3
    started = time.monotonic()
    await d.sender.slash_command(ANNA, "/helpdesk", "status")
    answer = await d.state.wait_for_message(ANNA, "Connector health")
    assert time.monotonic() - started < 5
    assert "*FAILING*" in answer.visible_text
    assert "did not finish within 0.3s" in answer.visible_text


async def test_the_whole_check_is_cut_at_its_time_limit(tmp_path: Path) -> None:
    cfg = make_config(f"sqlite:///{tmp_path}/x.sqlite3")
    directory = make_directory()

    async def hang(email: str) -> Any:
        await asyncio.sleep(3600)

    directory.find_user_by_email = hang  # type: ignore[method-assign]
    store = await Store.open(cfg.database_url)
    try:
        admins = ItAdmins([ANNA], StaticPeople())
        view = AdminView(cfg, store, providers_for(directory, cfg), admins,
                         health_timeout=0.2, area_timeout=30)
        replies = await view.status(Actor(ANNA, "anna@example.com"))
    finally:
        await store.close()
    assert replies[0].text.startswith(
        "*Connector health*: the checks did not finish within 0.2s; a directory may be hanging."
    )
