"""Change notices through every real part: the email (real SMTP over TLS), the DM, the
report page over HTTP, containment through the Okta connector, the security channel."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actions.notices import NOTICE_ACTION, REPORT_ACTION
from sandboxes.okta.state import UserStatus
from tests.notices.smtp_server import USER
from tests.notices.world import ADA, SECURITY, NoticeWorld, notice_world, reset_through_push


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[NoticeWorld]:
    async with notice_world(tmp_path) as w:
        yield w


async def _audit(world: NoticeWorld, action: str) -> list[tuple[str, dict[str, str]]]:
    rows = await world.surface.runtime.store.list_audit(action=action)
    return [(r.result, dict(r.detail or {})) for r in rows]


async def test_reset_emails_both_addresses_over_starttls_and_dms_without_the_secret(
    world: NoticeWorld,
) -> None:
    reset_url = await reset_through_push(world)
    [mail] = world.smtp.mailbox.messages
    assert sorted(mail.rcpt) == ["ada.lovelace@example.com", "ada@personal.example.org"]
    assert world.smtp.mailbox.tls_seen == [True] and world.smtp.mailbox.logins == [USER]
    assert mail.message["From"] == "helpdesk@example.com"
    assert "password reset" in str(mail.message["Subject"])
    text = mail.text
    assert "a password reset was started for your Okta account" in text
    assert "verified by: a push approved on the phone" in text
    assert f"{world.url}/notices/report?t=" in text
    # The secret stays in the DM it was meant for.
    assert reset_url not in text and "reset_password" not in text
    link = world.report_link()
    assert link in text
    notice_dm = [m for m in world.state.messages_to(ADA) if "Security notice" in m.text]
    assert len(notice_dm) == 1 and reset_url not in notice_dm[0].text
    sent = await _audit(world, NOTICE_ACTION)
    assert sorted(d["channel"] for r, d in sent if r == "sent") == ["dm", "email"]


async def test_report_page_get_changes_nothing_post_contains_and_pages_security(
    world: NoticeWorld,
) -> None:
    await reset_through_push(world)
    link = world.report_link()
    okta = world.okta.state
    page = await world.http.get(link)
    assert page.status_code == 200 and "<form method=post>" in page.text
    assert "a password reset was started for your Okta account" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    # The browser's language (Accept-Language), when there is a catalogue for it.
    french = await world.http.get(link, headers={"accept-language": "ja, fr-CH;q=0.9, en;q=0.8"})
    shown = html.unescape(french.text)
    assert "<html lang=fr>" in shown and "Ce n'était pas vous ?" in shown
    assert "une réinitialisation du mot de passe a été lancée pour votre compte Okta" in shown
    assert okta.users[world.ada_id].sessions == 1  # a GET (a mail scanner) does nothing
    token = link.split("t=", 1)[1]
    done = await world.http.post(f"{world.url}/notices/report", data={"t": token})
    assert done.status_code == 200, done.text
    # The demo's service account is a Help Desk Administrator: it ends the sessions but
    # may not suspend; the page says so truthfully and security gets the step to take.
    assert "signed your account out everywhere" in done.text
    assert "has to be done by a person" in done.text
    assert okta.users[world.ada_id].sessions == 0
    assert okta.users[world.ada_id].status is UserStatus.RECOVERY
    alert = await world.state.wait_for_message(SECURITY, "wasn't them", timeout=10)
    assert "suspend the account" in alert.text and "<@U0ADA00001>" in alert.text
    reports = await _audit(world, REPORT_ACTION)
    assert [(r, d["done"], d["left"]) for r, d in reports] == [
        ("partly", "clear_sessions", "suspend")
    ]
    # Used once: the same POST again is refused and changes nothing more.
    again = await world.http.post(f"{world.url}/notices/report", data={"t": token})
    assert again.status_code == 409 and "Already reported" in again.text
    german = await world.http.post(
        f"{world.url}/notices/report", data={"t": token}, headers={"accept-language": "de-DE"}
    )
    assert german.status_code == 409 and "Bereits gemeldet" in german.text


async def test_a_role_that_may_suspend_suspends_the_account(world: NoticeWorld) -> None:
    okta = world.okta.state
    bot = okta.find_user("svc-helpdesk-bot@example.com")
    assert bot is not None
    okta.assign_role("USER_ADMIN", user_id=bot.id)
    # Unlock rather than reset: the account stays ACTIVE, which Okta can suspend.
    okta.set_status(okta.users[world.ada_id], UserStatus.LOCKED_OUT)
    await world.sender.dm(ADA, "I'm locked out")
    await world.state.wait_for_message(ADA, "I sent a push", timeout=10)
    waiting = okta.pushes.waiting(world.ada_id)
    assert waiting is not None
    okta.pushes.answer(world.ada_id, waiting.correct_answer)
    await world.state.wait_for_message(ADA, "unlocked", timeout=15)
    await world.drain()
    token = world.report_link().split("t=", 1)[1]
    done = await world.http.post(f"{world.url}/notices/report", data={"t": token})
    assert done.status_code == 200 and "suspended your account" in done.text
    assert okta.users[world.ada_id].status is UserStatus.SUSPENDED
    assert [r for r, _ in await _audit(world, REPORT_ACTION)] == ["contained"]


async def test_mail_server_down_is_audited_and_alerted_and_the_change_stands(
    tmp_path: Path,
) -> None:
    with_dead_port = 1  # nothing listens on port 1
    async with notice_world(tmp_path, smtp_port=with_dead_port) as world:
        reset_url = await reset_through_push(world)
        assert reset_url  # the employee got the link: the failure undid nothing
        assert world.okta.state.users[world.ada_id].status is UserStatus.RECOVERY
        failed = [d for r, d in await _audit(world, NOTICE_ACTION) if r == "failed"]
        assert [d["channel"] for d in failed] == ["email"]
        alert = await world.state.wait_for_message(SECURITY, "Change notice not sent", timeout=10)
        assert "email" in alert.text and reset_url not in alert.text
        # Ada is told nothing about an email: only the DM notice, which did go out.
        assert "email" not in world.state.visible_text(ADA).lower()


async def test_implicit_tls(tmp_path: Path) -> None:
    async with notice_world(tmp_path, implicit_tls=True) as world:
        await reset_through_push(world)
        assert world.smtp.mailbox.tls_seen == [True]
        assert len(world.smtp.mailbox.messages) == 1


async def test_the_page_through_the_ingress_process(tmp_path: Path) -> None:
    """As ``helpdesk run`` serves it: the HTTP endpoint in its own process, the page's
    requests handed over the socket to the work, which answers them."""
    async with notice_world(tmp_path, ingress_process=True) as world:
        await reset_through_push(world)
        link = world.report_link()
        page = await world.http.get(link)
        assert page.status_code == 200 and "<form method=post>" in page.text
        token = link.split("t=", 1)[1]
        done = await world.http.post(f"{world.url}/notices/report", data={"t": token})
        assert done.status_code == 200 and "signed your account out everywhere" in done.text
        assert world.okta.state.users[world.ada_id].sessions == 0
        again = await world.http.post(f"{world.url}/notices/report", data={"t": token})
        assert again.status_code == 409
