"""Every call Slack needs and none it doesn't: the paced client, stored profiles, DM channels.

The Slack fake enforces Slack's published tiers here (``RateLimits.slack()``) unless a
test narrows one method's budget to make a limit bite quickly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError

from bot.replies import ActionId, Form, Reply
from bot.slack.client import web_client
from bot.slack.limits import Rate, SlackLimiter
from config import metrics
from config.i18n import speaking
from sandboxes.slack import (
    Limit,
    RateLimits,
    SlackState,
    Workspace,
    run_slack_fake,
)
from store.slack_directory import StoredProfile
from tests.bot.helpers import make_config
from tests.bot.slack_world import SlackWorld, slack_world

ADA, LOCKED = "U0ADA00001", "U0LOCKED01"


def _workspace() -> Workspace:
    return Workspace.from_dict(
        {
            "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
            "users": [
                {"id": ADA, "name": "ada", "tz": "Europe/Madrid",
                 "profile": {"email": "ada@example.com", "real_name": "Ada"}},
                {"id": LOCKED, "name": "locked", "profile": {"email": "locked@example.com"}},
            ],
        }
    )


Bot = SlackWorld


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with slack_world(Bot, tmp_path, _workspace(), tiers=RateLimits.slack()) as world:
        yield world


async def _stored(bot: Bot, user_id: str, check: Callable[[StoredProfile], bool]) -> None:
    for _ in range(250):
        stored = await bot.surface.directory.store.profile(user_id)
        if stored is not None and check(stored):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{user_id}'s profile was not stored as expected")


def _count(state: SlackState, method: str) -> int:
    return len(state.calls(method))


async def test_a_known_person_costs_no_lookup_and_no_conversations_open(bot: Bot) -> None:
    assert await bot.surface.directory.refresh() >= 2  # users.list, as at start-up
    await bot.sender.dm(ADA, "I forgot my password")
    offer = await bot.state.wait_for_message(ADA, "Go ahead?")
    assert offer.channel == bot.state.dm_id(ADA)  # answered where she wrote
    await bot.sender.block_action(ADA, "hd_confirm.0")
    await bot.state.wait_for_message(ADA, "password reset link")
    assert _count(bot.state, "users.info") == 0
    assert _count(bot.state, "conversations.open") == 0
    # The clicked prompt was replaced through the click's response_url, not chat.update.
    await bot.state.wait_for(lambda st: "Confirmed" in offer.visible_text or None)
    assert _count(bot.state, "chat.update") == 0
    assert [p.status for p in bot.state.response_posts()] == [200]
    # Her time zone comes from the stored profile.
    actor = await bot.surface.identity.resolve(ADA)
    assert actor.tz == "Europe/Madrid"


async def test_someone_unknown_is_looked_up_once_then_stored(bot: Bot) -> None:
    await bot.sender.dm(LOCKED, "hello")
    await bot.state.wait_for(lambda st: st.messages_to(LOCKED) or None)
    await bot.sender.dm(LOCKED, "thanks")
    await bot.state.wait_for(lambda st: len(st.messages_to(LOCKED)) >= 2 or None)
    assert _count(bot.state, "users.info") == 1
    stored = await bot.surface.directory.store.profile(LOCKED)
    assert stored is not None and stored.email == "locked@example.com"


async def test_a_deactivation_counts_from_slacks_event(bot: Bot) -> None:
    await bot.sender.dm(ADA, "hello")
    await bot.state.wait_for(lambda st: st.messages_to(ADA) or None)
    bot.state.deactivate_user(ADA)
    d = await bot.sender.user_change(ADA)
    assert d.status_code == 200
    # The event is handled after its acknowledgement: wait until it is stored.
    await _stored(bot, ADA, lambda p: p.deleted)
    await bot.sender.dm(ADA, "I forgot my password")
    await bot.state.wait_for_message(ADA, "This Slack account is deactivated.")
    assert not any("Go ahead?" in m.visible_text for m in bot.state.messages_to(ADA))


async def test_a_new_member_is_stored_from_team_join(bot: Bot) -> None:
    from sandboxes.slack.model import User

    bot.state.add_user(
        User.from_dict({"id": "U0NEW00001", "name": "new",
                        "profile": {"email": "new@example.com"}})
    )
    await bot.sender.user_change("U0NEW00001", kind="team_join")
    await _stored(bot, "U0NEW00001", lambda p: p.email == "new@example.com")
    await bot.sender.dm("U0NEW00001", "hello")
    await bot.state.wait_for(lambda st: st.messages_to("U0NEW00001") or None)
    assert _count(bot.state, "users.info") == 0


def _throttled() -> float:
    return float(metrics.THROTTLED.labels(api="slack")._value.get())


async def test_429_waits_retry_after_and_is_sent_again_until_accepted() -> None:
    state = SlackState(_workspace())
    # Two users.info a second, two at once: eight at once get 429s (Retry-After: 1).
    async with run_slack_fake(state, tiers={"users.info": Limit(120, burst=2)}) as fake:
        client = web_client(fake.token, fake.base_url, None, retry_deadline=30)
        before = _throttled()
        started = time.monotonic()
        answers = await asyncio.gather(*(client.users_info(user=ADA) for _ in range(8)))
        elapsed = time.monotonic() - started
        assert all(a["ok"] for a in answers)
        refused = [c for c in state.calls("users.info") if c.status == 429]
        # Two pass a second: the last two waited three Retry-Afters (slack_sdk's own
        # handler would have given up), and nobody was sent again before theirs ran out.
        assert elapsed >= 2.9
        assert 4 <= len(refused) <= 12
        assert _throttled() - before == len(refused)
        # With no time left, the 429 reaches the caller.
        hurried = web_client(fake.token, fake.base_url, None, retry_deadline=0)
        await asyncio.sleep(1.0)
        await asyncio.gather(*(hurried.users_info(user=ADA) for _ in range(2)))
        with pytest.raises(SlackApiError) as caught:
            await hurried.users_info(user=ADA)
        assert caught.value.response.status_code == 429


async def test_the_limiter_keeps_calls_inside_the_tier() -> None:
    state = SlackState(_workspace())
    # The fake a little roomier than the limiter (a burst of 2): a call the loop sends a
    # little late must not make the next, on time, look early. Unpaced, 5 at once get 429s.
    async with run_slack_fake(state, tiers={"users.info": Limit(125, burst=2)}) as fake:
        limiter = SlackLimiter({"users.info": Rate(120, burst=1)})
        client = web_client(fake.token, fake.base_url, None, limiter=limiter)
        started = time.monotonic()
        await asyncio.gather(*(client.users_info(user=ADA) for _ in range(5)))
        assert time.monotonic() - started >= 1.9  # 4 waits of half a second
        assert [c.status for c in state.calls("users.info")] == [200] * 5


async def test_chat_post_message_is_paced_per_channel_and_budgets_scale() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    limiter = SlackLimiter(clock=lambda: now[0], sleep=sleep)
    # One a second per channel after a burst of 3; another channel has its own budget.
    delays = [limiter.delay("chat.postMessage", "D1") for _ in range(5)]
    assert delays == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert limiter.delay("chat.postMessage", "D2") == 0.0
    # A 429 holds the channel back for Retry-After.
    limiter.throttled("chat.postMessage", "D2", 7.0)
    assert limiter.delay("chat.postMessage", "D2") == 7.0
    # A higher plan (or a test): the factor multiplies every budget.
    fast = SlackLimiter({"users.info": Rate(60, burst=1)}, factor=10, clock=lambda: now[0])
    delays = [fast.delay("users.info") for _ in range(11)]
    assert delays[:10] == [0.0] * 10 and delays[10] == pytest.approx(0.1)


async def test_people_by_email_come_from_the_stored_profiles(bot: Bot) -> None:
    from bot.slack.app import SlackPeople
    from store.slack_directory import SlackDirectoryStore

    await bot.surface.directory.refresh()
    people = SlackPeople(
        bot.surface.client, profiles=SlackDirectoryStore(bot.surface.runtime.store.engine)
    )
    assert await people.user_for_email("ada@example.com") == ADA
    assert _count(bot.state, "users.lookupByEmail") == 0
    # Nobody stored with that email: Slack is asked (and knows nobody either).
    assert await people.user_for_email("nobody@example.com") is None
    assert _count(bot.state, "users.lookupByEmail") == 1
    # A deactivated person is nobody to send an approval to.
    bot.state.deactivate_user(ADA)
    await bot.sender.user_change(ADA)
    await _stored(bot, ADA, lambda p: p.deleted)
    assert await people.user_for_email("ada@example.com") is None


@pytest.mark.parametrize(
    ("language", "note"),
    [("en", "I couldn't open the form in time"),
     ("es", "No he podido abrir el formulario a tiempo"),
     ("fr", "Je n'ai pas pu ouvrir le formulaire à temps"),
     ("de", "Ich konnte das Formular nicht rechtzeitig öffnen"),
     ("pt", "Não consegui abrir o formulário a tempo")],
)
async def test_a_form_that_cannot_open_in_time_is_said_in_the_forms_language(
    bot: Bot, language: str, note: str
) -> None:
    """The turn that made the form has ended when it is delivered: the note about it being
    too late still speaks the form's language, not English and not the organisation's."""
    with speaking(language):
        form = Form(ActionId.ACCESS_FORM, "tok", "Title", "Send", "Intro", [])
    trigger = bot.state.new_trigger_id(ADA)
    bot.state.exchange_trigger(trigger)  # used already: Slack says exchanged_trigger_id
    await bot.surface.delivery.deliver(ADA, [Reply(form.intro, form=form)], trigger_id=trigger)
    [shown] = bot.state.ephemerals_to(ADA)
    assert shown.text.startswith(note), shown.text
    assert not bot.state.views(ADA, type="modal")


def test_budgets_come_from_the_settings(tmp_path: Path) -> None:
    from bot.serve import slack_limiter
    from config.settings import ConfigError

    cfg = make_config(
        f"sqlite:///{tmp_path}/x.sqlite3",
        slack={"rate_limits": {"users.info": {"per_minute": 200, "burst": 10},
                               "chat.postMessage:channel": {"per_minute": 30}},
               "rate_limit_factor": 2, "retry_deadline": "90s"},
    )
    limiter = slack_limiter(cfg)
    assert limiter.rates["users.info"] == Rate(400, burst=20)
    assert limiter.rates["chat.postMessage:channel"] == Rate(60, burst=60)
    assert limiter.rates["users.list"] == Rate(40, burst=40)  # the tier, doubled
    assert cfg.slack.retry_deadline.total_seconds() == 90
    with pytest.raises(ConfigError, match="not a Web API method"):
        make_config("sqlite://", slack={"rate_limits": {"postMessage": {"per_minute": 1}}})
