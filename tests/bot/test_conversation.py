"""The conversation's flows, refusals and faults, on the in-memory directory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from actions.audit import Actor
from actions.self_service import SelfService
from bot.conversation import Conversation
from bot.replies import ActionId, Reply
from connectors.base import MfaFactor, UserStatus
from connectors.errors import Unavailable
from connectors.memory import MemoryDirectory
from store.db import Store
from tests.bot.helpers import (
    KeywordRouter,
    RecordingNotifier,
    make_config,
    make_directory,
    providers_for,
)


@dataclass
class World:
    conv: Conversation
    directory: MemoryDirectory
    store: Store
    notifier: RecordingNotifier


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    cfg = make_config(f"sqlite:///{tmp_path}/s.sqlite3")
    store = await Store.open(cfg.database_url)
    directory = make_directory()
    notifier = RecordingNotifier()
    service = SelfService(cfg, providers_for(directory, cfg), store, notifier)
    yield World(Conversation(service, KeywordRouter(), store), directory, store, notifier)
    await store.close()


def actor(email: str = "ada@example.com", uid: str = "U1") -> Actor:
    return Actor(uid, email, "Someone")


def button(reply: Reply, action: str) -> str:
    for b in reply.buttons:
        if b.action == action:
            return b.value
    raise AssertionError(f"no {action} button in {reply}")


async def test_password_reset_link_flow(world: World) -> None:
    [offer] = await world.conv.on_message(actor(), "I forgot my password")
    assert "reset your" in offer.text and "link" in offer.text
    token = button(offer, ActionId.CONFIRM)
    confirmed, secret = await world.conv.on_button(actor(), ActionId.CONFIRM, token)
    assert confirmed.replaces_prompt
    assert "https://memory.invalid/reset/" in secret.text
    assert secret.secret_hide_at is not None and "removed" in secret.secret_replacement
    assert button(secret, ActionId.SECRET_DONE)
    # The same confirmation cannot be used twice (double click / redelivery).
    [stale] = await world.conv.on_button(actor(), ActionId.CONFIRM, token)
    assert "expired or was already handled" in stale.text
    rows = await world.store.list_audit(actor="U1", action="password_reset")
    assert [r.result for r in rows] == ["success"]
    assert all("memory.invalid" not in str(r.detail) for r in rows)


async def test_thanks_gets_a_short_answer_not_the_menu(world: World) -> None:
    [reply] = await world.conv.on_message(actor(), "thanks!")
    assert reply.text == "You're welcome! Message me any time you need help."
    assert not reply.buttons


async def test_someone_else_cannot_confirm(world: World) -> None:
    [offer] = await world.conv.on_message(actor(), "password please")
    token = button(offer, ActionId.CONFIRM)
    [stale] = await world.conv.on_button(actor("locked@example.com", "U2"), ActionId.CONFIRM, token)
    assert "expired" in stale.text
    assert world.directory.accounts["mem00001"].user.status is UserStatus.ACTIVE


async def test_cancel(world: World) -> None:
    [offer] = await world.conv.on_message(actor(), "password")
    [done] = await world.conv.on_button(actor(), ActionId.CANCEL, button(offer, ActionId.CANCEL))
    assert "Nothing was changed" in done.text
    [stale] = await world.conv.on_button(actor(), ActionId.CONFIRM, button(offer, ActionId.CONFIRM))
    assert "expired" in stale.text


async def test_reset_rate_limit(world: World) -> None:
    for _ in range(2):
        [offer] = await world.conv.on_message(actor(), "password")
        await world.conv.on_button(actor(), ActionId.CONFIRM, button(offer, ActionId.CONFIRM))
    [refused] = await world.conv.on_message(actor(), "password")
    assert "limit" in refused.text and not refused.buttons
    results = [r.result for r in await world.store.list_audit(actor="U1")]
    assert results == ["success", "success", "refused"]


async def test_unlock_locked_and_not_locked(world: World) -> None:
    [done] = await world.conv.on_message(actor("locked@example.com", "U2"), "I'm locked out")
    assert "is unlocked" in done.text and button(done, ActionId.START) == "password_reset:en"
    [again] = await world.conv.on_message(actor("locked@example.com", "U2"), "locked again?")
    assert "isn't locked" in again.text and button(again, ActionId.START) == "password_reset:en"


async def test_mfa_reset_confirms_and_notifies(world: World) -> None:
    me = actor("phone@example.com", "U3")
    [offer] = await world.conv.on_message(me, "lost my phone, reset mfa")
    assert "2 MFA factor" in offer.text
    [done] = await world.conv.on_button(me, ActionId.CONFIRM, button(offer, ActionId.CONFIRM))
    assert "removed 2 MFA factor" in done.text
    assert len(world.notifier.notices) == 1 and "phone@example.com" in world.notifier.notices[0]
    # One MFA reset per 24 hours.
    [refused] = await world.conv.on_message(me, "mfa again")
    assert "limit" in refused.text


async def test_protected_accounts_are_sent_to_a_human(world: World) -> None:
    for email in ("root@example.com", "guard@example.com"):
        [refused] = await world.conv.on_message(actor(email, "U9"), "reset my password")
        assert "elevated access" in refused.text and "#it-help" in refused.text
        assert not refused.buttons
    [refused] = await world.conv.on_message(actor("root@example.com", "U9"), "locked")
    assert "elevated access" in refused.text
    rows = await world.store.list_audit(actor="U9")
    assert {r.detail["reason"] for r in rows} == {"protected"}
    # Sent to a human: the security channel hears of each refusal, naming who asked.
    assert len(world.notifier.notices) == 3
    assert all("Nothing was changed" in n and "protected" in n for n in world.notifier.notices)
    assert "root@example.com" in world.notifier.notices[0]


async def test_expiry_answers(world: World) -> None:
    [answer] = await world.conv.on_message(actor(), "when does my password expire")
    assert "expires in 9 days" in answer.text or "expires in 10 days" in answer.text
    [never] = await world.conv.on_message(actor("forever@example.com"), "expire?")
    assert "never expires" in never.text


async def test_unknown_user(world: World) -> None:
    [refused] = await world.conv.on_message(actor("ghost@example.com"), "password")
    assert "couldn't find an account for ghost@example.com" in refused.text
    assert "the IT desk in #it-help" in refused.text


async def test_directory_outage_changes_nothing(world: World) -> None:
    [offer] = await world.conv.on_message(actor(), "password")
    world.directory.fail_next(Unavailable("mem", "timeout"), times=5)
    token = button(offer, ActionId.CONFIRM)
    [failed] = await world.conv.on_button(actor(), ActionId.CONFIRM, token)
    assert "not answering; nothing was changed" in failed.text
    assert world.directory.accounts["mem00001"].user.status is UserStatus.ACTIVE


@contextlib.asynccontextmanager
async def _conversation(tmp_path: Path, **overrides: Any) -> AsyncIterator[Conversation]:
    """A conversation on a configuration of its own (``make_config`` overrides)."""
    cfg = make_config(f"sqlite:///{tmp_path}/h.sqlite3", **overrides)
    store = await Store.open(cfg.database_url)
    try:
        service = SelfService(cfg, providers_for(make_directory(), cfg), store, RecordingNotifier())
        yield Conversation(service, KeywordRouter(), store)
    finally:
        await store.close()


async def test_help_lists_only_offered_capabilities(tmp_path: Path) -> None:
    async with _conversation(tmp_path, capabilities={"unlock": "mem"}) as conv:
        [help_reply] = await conv.on_message(actor(), "help")
        assert "unlock" in help_reply.text and "reset your password" not in help_reply.text
        [refused] = await conv.on_message(actor(), "password")
        assert "can't help with that here" in refused.text


async def test_low_confidence_asks(world: World) -> None:
    [ask] = await world.conv.on_message(actor(), "hmm")
    assert "Did you mean" in ask.text
    assert [b.value for b in ask.buttons] == ["password_reset:en", "account_unlock:en"]


async def test_out_of_scope(world: World) -> None:
    [answer] = await world.conv.on_message(actor(), "what's for lunch")
    assert "not something I can help with" in answer.text and "#it-help" in answer.text


async def test_slash_command_reaches_the_same_flows(world: World) -> None:
    [offer] = await world.conv.on_command(actor(), "reset-password")
    assert button(offer, ActionId.CONFIRM)
    [unlock] = await world.conv.on_command(actor("locked@example.com", "U2"), "unlock")
    assert "is unlocked" in unlock.text


async def test_two_confirmations_clicked_at_once_respect_the_limit(world: World) -> None:
    """One MFA reset per 24 hours, even when two open confirmations are clicked together."""
    me = actor("phone@example.com", "U3")
    [first] = await world.conv.on_message(me, "lost my phone, reset mfa")
    [second] = await world.conv.on_message(me, "reset my mfa please")
    answers = await asyncio.gather(
        world.conv.on_button(me, ActionId.CONFIRM, button(first, ActionId.CONFIRM)),
        world.conv.on_button(me, ActionId.CONFIRM, button(second, ActionId.CONFIRM)),
    )
    texts = [r.text for replies in answers for r in replies]
    assert sum("removed 2 MFA factor" in t for t in texts) == 1, texts
    assert len(world.notifier.notices) == 1
    rows = await world.store.list_audit(actor="U3")
    assert sorted(r.result for r in rows if r.action == "mfa_reset") == ["refused", "success"]


async def test_a_failed_security_notice_still_answers_the_employee(world: World) -> None:
    async def broken(text: str) -> None:
        raise RuntimeError("not_in_channel")

    world.notifier.security_notice = broken  # type: ignore[method-assign]
    me = actor("phone@example.com", "U3")
    [offer] = await world.conv.on_message(me, "lost my phone, reset mfa")
    with capture_logs() as logs:
        [done] = await world.conv.on_button(me, ActionId.CONFIRM, button(offer, ActionId.CONFIRM))
    assert "removed 2 MFA factor" in done.text
    assert any(e["event"] == "security_notice_failed" for e in logs)


async def test_an_outage_is_logged(world: World) -> None:
    [offer] = await world.conv.on_message(actor(), "password")
    world.directory.fail_next(Unavailable("mem", "timeout"), times=5)
    with capture_logs() as logs:
        await world.conv.on_button(actor(), ActionId.CONFIRM, button(offer, ActionId.CONFIRM))
    assert [e["log_level"] for e in logs if e["event"] == "directory_unavailable"] == ["warning"]


async def test_an_action_still_running_elsewhere_is_waited_for_then_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another replica holds the person's lease (a slow directory): wait, then say so."""
    from datetime import timedelta

    import actions.self_service as self_service

    monkeypatch.setattr(self_service, "LEASE_WAIT", 0.3)
    me = actor("phone@example.com", "U3")
    [offer] = await world.conv.on_message(me, "reset my mfa")
    lease = self_service.action_lease("U3", "mfa_reset")
    assert await world.store.leases.take(lease, "other-replica", timedelta(minutes=5))
    [busy] = await world.conv.on_button(me, ActionId.CONFIRM, button(offer, ActionId.CONFIRM))
    assert "still working on your previous request" in busy.text
    assert world.notifier.notices == []
    await world.store.leases.release(lease, "other-replica")
    [again] = await world.conv.on_message(me, "reset my mfa")
    [done] = await world.conv.on_button(me, ActionId.CONFIRM, button(again, ActionId.CONFIRM))
    assert "removed 2 MFA factor" in done.text


async def test_factor_counts_are_plural_only_when_more_than_one(world: World) -> None:
    two = actor("phone@example.com", "U3")
    [offer] = await world.conv.on_message(two, "reset mfa")
    assert "*all* 2 MFA factors on" in offer.text and "(s)" not in offer.text
    [done] = await world.conv.on_button(two, ActionId.CONFIRM, button(offer, ActionId.CONFIRM))
    assert "removed 2 MFA factors from" in done.text
    assert "removed 2 factors from" in world.notifier.notices[-1]
    world.directory.add_user("one@example.com", factors=[MfaFactor("f9", "push", "Okta Verify")])
    one = actor("one@example.com", "U4")
    [offer] = await world.conv.on_message(one, "reset mfa")
    assert "*all* 1 MFA factor on" in offer.text
    [done] = await world.conv.on_button(one, ActionId.CONFIRM, button(offer, ActionId.CONFIRM))
    assert "removed 1 MFA factor from" in done.text
    assert "removed 1 factor from" in world.notifier.notices[-1]


async def test_a_command_answers_in_the_slack_locale_and_a_button_in_its_own(
    world: World,
) -> None:
    french = Actor("U2", "locked@example.com", "Someone", locale="fr-FR")
    [done] = await world.conv.on_command(french, "unlock")
    assert done.text.startswith("Votre compte mem est débloqué.")
    assert button(done, ActionId.START) == "password_reset:fr"
    # The button answers in the language it was shown in, whoever's locale clicks it.
    [offer] = await world.conv.on_button(actor(), ActionId.START, "password_reset:de")
    assert offer.text.startswith("Ich kann Ihr mem-Passwort (ada@example.com) zurücksetzen.")
    [cancelled] = await world.conv.on_button(actor(), ActionId.CANCEL, button(offer, "hd_cancel"))
    assert cancelled.text == "Abgebrochen. Es wurde nichts geändert."
    # A button from before languages were kept: the clicker's locale, else English.
    [offer] = await world.conv.on_button(french, ActionId.START, "password_reset")
    assert offer.text.startswith("Je peux réinitialiser votre mot de passe mem")


async def test_the_organisations_language_when_nothing_else_says(tmp_path: Path) -> None:
    async with _conversation(tmp_path, organisation={"language": "es"}) as conv:
        [help_reply] = await conv.on_command(actor(), "help")
        assert help_reply.text.startswith("Soy el bot del servicio de ayuda de IT.")
        assert "pregunta a la mesa de ayuda de IT en #it-help" in help_reply.text
