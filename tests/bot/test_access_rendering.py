"""Access-request wording and Block Kit: pure functions, no Slack and no store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from actions.access import AccessSnapshot, Event
from bot.replies import ActionId, Form, FormField, Home, Reply
from bot.views.access import approval_card, requester_news
from bot.views.blocks import form_view, parse_submission, reply_blocks
from bot.views.home import home_view
from bot.views.text import dates_as_text, when
from store.models import AccessDecision, AccessRequest

NOW = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)


def _snap(state: str = "pending", votes: tuple[str, ...] = (), **kw: Any) -> AccessSnapshot:
    values: dict[str, Any] = {
        "id": "r" * 16, "requester": "U0ADA00001", "requester_email": "ada@example.com",
        "directory_user_id": "u1", "group_key": "vpn", "group_name": "VPN", "provider": "okta",
        "provider_group": "vpn", "provider_group_id": "g1", "justification": "Remote work",
        "duration_seconds": 7 * 86400, "state": state, "approvals_required": 2,
        "approvals": len(votes), "channels": [], "decided_by": votes[-1] if votes else None,
        "reason": None, "correlation_id": "c", "created_at": NOW, "updated_at": NOW,
        "expires_at": NOW + timedelta(days=3), "fulfilled_at": None, "access_until": None,
        "revoked_at": None, "decided_at": None,
    }
    values.update(kw)
    decisions = tuple(
        AccessDecision(request_id="r" * 16, approver=v, decision="approve", at=NOW) for v in votes
    )
    return AccessSnapshot(AccessRequest(**values), ("U0ANNA0001", "U0BERT0001"), decisions)


def test_card_while_pending_has_buttons_and_the_facts() -> None:
    card = approval_card(_snap(votes=("U0ANNA0001",)))
    assert [b.action for b in card.buttons] == [ActionId.ACCESS_APPROVE, ActionId.ACCESS_DENY]
    assert "<@U0ADA00001>" in card.text and "*VPN*" in card.text
    assert "Approved by <@U0ANNA0001> (1 of 2)" in card.text
    assert dict(card.fields)["Why"] == "Remote work"
    assert dict(card.fields)["For how long"] == "1 week"
    blocks = reply_blocks(card)
    assert [b["type"] for b in blocks] == ["section", "section", "actions"]
    assert blocks[2]["elements"][0]["style"] == "primary"


def test_card_once_decided_shows_who_and_no_buttons() -> None:
    done = approval_card(_snap("fulfilled", ("U0ANNA0001", "U0BERT0001"), fulfilled_at=NOW))
    assert done.buttons == [] and "Approved by <@U0ANNA0001> and <@U0BERT0001>" in done.text
    denied = approval_card(_snap("denied", decided_by="U0BERT0001", reason="Not needed"))
    assert "Denied by <@U0BERT0001>: Not needed" in denied.text
    assert "Expired" in approval_card(_snap("expired", decided_at=NOW)).text
    assert "Cancelled by the requester" in approval_card(_snap("cancelled")).text


def test_employee_text_cannot_ping_or_link() -> None:
    card = approval_card(_snap(justification="<!channel> see <https://evil.example|here>"))
    why = dict(card.fields)["Why"]
    assert "<!channel>" not in why and "&lt;!channel&gt;" in why
    news = requester_news(_snap("denied", decided_by="U1", reason="<@U0EVERYONE>"), Event.DENIED)
    assert "<@U0EVERYONE>" not in news.text


def test_requester_news() -> None:
    until = NOW + timedelta(days=7)
    granted = requester_news(_snap("fulfilled", ("U0ANNA0001",), access_until=until),
                             Event.FULFILLED)
    assert "You're now a member of *VPN*" in granted.text and "ends" in granted.text
    assert "1 more approval" in requester_news(_snap(votes=("U0ANNA0001",)),
                                                Event.APPROVAL_RECORDED).text
    assert requester_news(_snap(), Event.REMINDED).buttons  # can still cancel
    for event in Event:
        assert requester_news(_snap(access_until=until, reason="x", decided_by="U1"), event).text


def test_form_round_trip_through_a_modal() -> None:
    form = Form(
        ActionId.ACCESS_FORM, "token123", "Request access with a long title", "Send request",
        "Why?",
        [FormField("justification", "Why do you need it?", multiline=True, min_length=10),
         FormField("duration", "For how long?", choices=[("1 day", "86400")])],
    )
    view = form_view(form, ("D123", "1.2"))
    assert len(view["title"]["text"]) <= 24 and view["callback_id"] == "hd_form"
    view["state"] = {"values": {
        "justification": {"justification": {"type": "plain_text_input", "value": "Because"}},
        "duration": {"duration": {"type": "static_select",
                                  "selected_option": {"value": "86400"}}},
    }}
    parsed = parse_submission(view)
    assert parsed is not None
    assert (parsed.action, parsed.value) == (ActionId.ACCESS_FORM, "token123")
    assert parsed.prompt == ("D123", "1.2")
    assert parsed.values == {"justification": "Because", "duration": "86400"}


def test_forged_or_malformed_submissions_are_rejected() -> None:
    base = {"callback_id": "hd_form", "state": {"values": {}}}
    assert parse_submission({**base, "private_metadata": "{not json"}) is None
    assert parse_submission({**base, "private_metadata": json.dumps({"a": 1, "v": "x"})}) is None
    assert parse_submission({**base, "callback_id": "other", "private_metadata": "{}"}) is None
    assert parse_submission({**base, "private_metadata": json.dumps(["a"])}) is None


def test_home_view_sections_and_block_limit() -> None:
    home = Home(Reply("help"), [Reply(f"mine {i}") for i in range(3)],
                [approval_card(_snap()) for _ in range(60)])
    view = home_view(home)
    text = json.dumps(view)
    assert view["type"] == "home" and "Waiting for me" in text and len(view["blocks"]) <= 100
    assert view["blocks"][-1]["type"] == "context"


def test_a_card_with_an_end_date_speaks_of_the_requester_not_to_the_approver() -> None:
    until = NOW + timedelta(days=7)
    snap = _snap("fulfilled", ("U0ANNA0001", "U0BERT0001"), fulfilled_at=NOW, access_until=until)
    card = approval_card(snap)
    assert "Your access" not in card.text
    assert "<@U0ADA00001>'s access ends Wed 09 Jan 2030, 03:04 UTC." in dates_as_text(card.text)
    news = requester_news(snap, Event.FULFILLED)
    assert "Your access ends Wed 09 Jan 2030" in dates_as_text(news.text)


def test_times_are_read_in_each_readers_own_time_zone() -> None:
    """Slack renders a date token in whoever reads it's zone: a card in a channel, the Home."""
    moment = datetime(2026, 12, 13, 9, 40, tzinfo=ZoneInfo("Europe/Berlin"))
    token = when(moment)
    assert token == (
        f"<!date^{int(moment.timestamp())}^{{date_short_pretty}}, {{time}} your time"
        "|Sun 13 Dec 2026, 08:40 UTC>"
    )
    assert dates_as_text(f"ends {token}.") == "ends Sun 13 Dec 2026, 08:40 UTC."
    until = NOW + timedelta(days=7)
    snap = _snap("fulfilled", ("U0ANNA0001",), fulfilled_at=NOW, access_until=until)
    texts = [approval_card(snap).text, requester_news(snap, Event.FULFILLED).text,
             json.dumps(home_view(Home(Reply("help"), mine=[approval_card(snap)])))]
    for text in texts:
        assert " UTC" not in text.replace("UTC>", ""), text
        assert f"<!date^{int(until.timestamp())}^" in text
