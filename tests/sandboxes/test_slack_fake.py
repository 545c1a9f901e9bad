"""The fake Slack Web API and the signed-event sender behave like Slack and match Slack's specs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import jsonschema
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandboxes.slack import (
    DEFAULT_BOT_SCOPES,
    EXAMPLE_WORKSPACE,
    Limit,
    ManualClock,
    RateLimits,
    SlackEventSender,
    SlackState,
    User,
    Workspace,
    create_slack_app,
    run_slack_fake,
    run_slack_fake_in_thread,
)
from sandboxes.slack.methods import METHODS
from tests.sandboxes.slack_spec import slack_spec

SIGNING_SECRET = "test-signing-secret-7f3a9c"
TOKEN = "xoxb-1000000001-2000000002-FakeSlackBotToken0001"
NARROW = "xoxb-1000000001-2000000002-ChatWriteOnly0002"
NO_EMAIL = "xoxb-1000000001-2000000002-UsersReadNoEmail03"
REVOKED = "xoxb-1000000001-2000000002-RevokedToken000004"
ALICE, BOB, CAROL, GUEST = "U0ALICE001", "U0BOB00002", "U0CAROL003", "U0GUEST004"
BOT = "U0HELPBOT1"
HELPDESK, RANDOM, PRIVATE = "C0HELPDESK1", "C0RANDOM001", "G0PRIVATE01"

SEED: dict[str, Any] = {
    "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
    "app": {"id": "A0HELPDESK1", "bot_id": "B0HELPDESK1", "bot_user_id": BOT, "name": "helpdesk"},
    "tokens": [
        {"token": TOKEN, "scopes": list(DEFAULT_BOT_SCOPES)},
        {"token": NARROW, "scopes": ["chat:write"]},
        {"token": NO_EMAIL, "scopes": ["users:read"]},
        {"token": REVOKED, "revoked": True},
    ],
    "users": [
        {
            "id": ALICE,
            "name": "alice",
            "real_name": "Alice Liddell",
            "tz": "Europe/Paris",
            "profile": {"email": "alice@example.com", "display_name": "alice"},
        },
        {"id": BOB, "name": "bob", "is_admin": True, "profile": {"email": "bob@example.com"}},
        {"id": CAROL, "name": "carol", "deleted": True, "profile": {"email": "carol@example.com"}},
        {"id": GUEST, "name": "guest", "is_restricted": True, "email": "guest@partner.example"},
    ],
    "usergroups": [
        {"id": "S0ITADMIN1", "handle": "it-admins", "name": "IT admins", "users": [BOB]},
        {"id": "S0OLDGROUP", "handle": "old", "enabled": False, "users": [ALICE]},
    ],
    "channels": [
        {"id": HELPDESK, "name": "helpdesk", "members": [ALICE, BOB, BOT], "topic": "Ask here"},
        {"id": RANDOM, "name": "random", "members": [ALICE]},
        {"id": PRIVATE, "name": "secret-ops", "is_private": True, "members": [BOB]},
    ],
}

BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "ask", "text": {"type": "mrkdwn", "text": "Reset *alice*?"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": "req-42",
                "style": "primary",
            },
            {"type": "button", "action_id": "deny", "text": {"type": "plain_text", "text": "Deny"}},
        ],
    },
]
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "reset_modal",
    "title": {"type": "plain_text", "text": "Reset password"},
    "submit": {"type": "plain_text", "text": "Reset"},
    "blocks": [
        {
            "type": "input",
            "block_id": "who",
            "label": {"type": "plain_text", "text": "Account"},
            "element": {"type": "plain_text_input", "action_id": "account"},
        }
    ],
}
HOME: dict[str, Any] = {
    "type": "home",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
}


class Web:
    """Calls the fake's ASGI app directly (no socket), the way slack_sdk would over HTTP."""

    def __init__(self, app: Starlette) -> None:
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://fake-slack")

    async def call(
        self, method: str, token: str | None = TOKEN, *, as_json: bool = False, **params: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if as_json:
            return await self.client.post(f"/api/{method}", json=params, headers=headers)
        form = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in params.items()}
        return await self.client.post(f"/api/{method}", data=form, headers=headers)

    async def ok(self, method: str, **params: Any) -> dict[str, Any]:
        body: dict[str, Any] = (await self.call(method, **params)).json()
        assert body["ok"] is True, body
        return body


@pytest.fixture
def state() -> SlackState:
    return SlackState(Workspace.from_dict(SEED))


@pytest.fixture
async def web(state: SlackState) -> AsyncIterator[Web]:
    w = Web(create_slack_app(state, tiers=RateLimits.unlimited()))
    yield w
    await w.client.aclose()


# ---- every method, success and error, against Slack's published schemas --------------------


async def _posted(web: Web) -> dict[str, Any]:
    return await web.ok("chat.postMessage", channel=ALICE, text="hello", blocks=BUTTONS)


async def _opened_view(web: Web, state: SlackState) -> dict[str, Any]:
    body = await web.ok("views.open", trigger_id=state.new_trigger_id(ALICE), view=MODAL)
    return dict(body["view"])


SuccessCase = Callable[[Web, SlackState], Awaitable[dict[str, Any]]]


async def _update(web: Web, state: SlackState) -> dict[str, Any]:
    ts = (await _posted(web))["ts"]
    return {"channel": state.dm_id(ALICE), "ts": ts, "text": "done", "blocks": []}


async def _delete(web: Web, state: SlackState) -> dict[str, Any]:
    return {"channel": state.dm_id(ALICE), "ts": (await _posted(web))["ts"]}


async def _info(web: Web, state: SlackState) -> dict[str, Any]:
    return {"channel": HELPDESK, "include_num_members": "true"}


async def _views_update(web: Web, state: SlackState) -> dict[str, Any]:
    view = await _opened_view(web, state)
    return {"view_id": view["id"], "hash": view["hash"], "view": {**MODAL, "blocks": []}}


async def _history(web: Web, state: SlackState) -> dict[str, Any]:
    await web.ok("chat.postMessage", channel=ALICE, text="hi",
                 metadata={"event_type": "helpdesk_outbox", "event_payload": {"key": "k1"}})
    return {"channel": state.dm_id(ALICE), "limit": 5, "include_all_metadata": "true"}


def _static(**params: Any) -> SuccessCase:
    async def build(web: Web, state: SlackState) -> dict[str, Any]:
        return params

    return build


def _views_open_case() -> SuccessCase:
    async def build(web: Web, state: SlackState) -> dict[str, Any]:
        return {"trigger_id": state.new_trigger_id(ALICE), "view": MODAL}

    return build


SUCCESS: dict[str, SuccessCase] = {
    "auth.test": _static(),
    "chat.postMessage": _static(channel=ALICE, text="hi", blocks=BUTTONS),
    "chat.update": _update,
    "chat.postEphemeral": _static(channel=HELPDESK, user=ALICE, text="only you"),
    "chat.delete": _delete,
    "conversations.open": _static(users=ALICE),
    "conversations.info": _info,
    "conversations.history": _history,
    "users.info": _static(user=ALICE),
    "users.lookupByEmail": _static(email="Alice@Example.com"),
    "users.list": _static(limit=2),
    "usergroups.users.list": _static(usergroup="S0ITADMIN1"),
    "views.open": _views_open_case(),
    "views.update": _views_update,
    "views.publish": _static(user_id=ALICE, view=HOME),
}


def test_success_cases_cover_every_implemented_method() -> None:
    assert set(SUCCESS) == set(METHODS)
    assert set(METHODS) <= set(slack_spec().methods())


@pytest.mark.parametrize("method", sorted(SUCCESS))
async def test_success_responses_match_the_spec(method: str, web: Web, state: SlackState) -> None:
    params = await SUCCESS[method](web, state)
    response = await web.call(method, **params)
    body = response.json()
    assert response.status_code == 200
    assert body["ok"] is True, body
    slack_spec().validate_response(method, body)


ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("chat.postMessage", {"channel": "C0NOSUCH001", "text": "x"}, "channel_not_found"),
    ("chat.postMessage", {"channel": RANDOM, "text": "x"}, "not_in_channel"),
    ("chat.postMessage", {"channel": PRIVATE, "text": "x"}, "channel_not_found"),
    ("chat.postMessage", {"channel": ALICE}, "no_text"),
    ("chat.postMessage", {"channel": ALICE, "text": "x" * 40_001}, "msg_too_long"),
    ("chat.postMessage", {"channel": ALICE, "blocks": [{"text": "no type"}]}, "invalid_blocks"),
    ("chat.postMessage", {"channel": ALICE, "blocks": [{"type": "sectoin"}]}, "invalid_blocks"),
    ("chat.postMessage", {"channel": ALICE, "blocks": "[{oops"}, "invalid_blocks_format"),
    (
        "chat.postMessage",
        {"channel": ALICE, "blocks": {"type": "divider"}},
        "invalid_blocks_format",
    ),
    (
        "chat.update",
        {"channel": ALICE, "ts": "1700000000.000001", "text": "x"},
        "message_not_found",
    ),
    (
        "chat.postEphemeral",
        {"channel": HELPDESK, "user": GUEST, "text": "x"},
        "user_not_in_channel",
    ),
    ("chat.delete", {"channel": ALICE, "ts": "1700000000.000001"}, "message_not_found"),
    ("conversations.open", {"users": "U0NOSUCH01"}, "user_not_found"),
    ("conversations.open", {"users": CAROL}, "user_disabled"),
    ("conversations.open", {}, "users_list_not_supplied"),
    ("conversations.info", {"channel": "C0NOSUCH001"}, "channel_not_found"),
    ("conversations.info", {"channel": PRIVATE}, "channel_not_found"),
    ("users.info", {"user": "U0NOSUCH01"}, "user_not_found"),
    ("users.lookupByEmail", {"email": "nobody@example.com"}, "users_not_found"),
    ("users.lookupByEmail", {"email": "carol@example.com"}, "users_not_found"),
    ("users.list", {"cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor"),
    ("usergroups.users.list", {"usergroup": "S0NOSUCH01"}, "no_such_subteam"),
    ("usergroups.users.list", {"usergroup": "S0OLDGROUP"}, "no_such_subteam"),
    ("views.open", {"trigger_id": "1.2.nope", "view": MODAL}, "invalid_trigger_id"),
    ("views.open", {"trigger_id": "1.2.nope", "view": {"type": "modal"}}, "invalid_arguments"),
    ("views.update", {"view_id": "V0NOSUCH01", "view": MODAL}, "not_found"),
    ("views.publish", {"user_id": "U0NOSUCH01", "view": HOME}, "invalid_arguments"),
    ("auth.test", {"token": None}, "not_authed"),
]


@pytest.mark.parametrize(
    ("method", "params", "error"), ERRORS, ids=[f"{m}-{e}" for m, _, e in ERRORS]
)
async def test_error_responses_match_the_spec(
    method: str, params: dict[str, Any], error: str, web: Web
) -> None:
    params = dict(params)
    token = params.pop("token", TOKEN)
    response = await web.call(method, token, **params)
    body = response.json()
    assert response.status_code == 200
    assert body["ok"] is False
    assert body["error"] == error
    slack_spec().validate_response(method, body)


async def test_invalid_blocks_explain_where(web: Web) -> None:
    blocks = [{"type": "section"}, {"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]
    body = (await web.call("chat.postMessage", channel=ALICE, text="t", blocks=blocks)).json()
    assert body["error"] == "invalid_blocks"
    messages = body["response_metadata"]["messages"]
    assert any("/blocks/0" in m for m in messages)
    assert any("/blocks/1/text/type" in m for m in messages)
    slack_spec().validate_response("chat.postMessage", body)


async def test_too_many_blocks_are_refused(web: Web) -> None:
    blocks = [{"type": "divider"}] * 51
    body = (await web.call("chat.postMessage", channel=ALICE, text="t", blocks=blocks)).json()
    assert body["error"] == "invalid_blocks"
    assert (await web.call("chat.postMessage", channel=ALICE, text="t", blocks=blocks[:50])).json()[
        "ok"
    ]


def test_the_spec_checks_are_not_vacuous() -> None:
    spec = slack_spec()
    user = {"ok": True, "user": {"id": ALICE, "name": "alice", "is_bot": False, "updated": 1}}
    with pytest.raises(jsonschema.ValidationError):
        spec.validate_response("users.info", user)  # no profile, no is_app_user
    with pytest.raises(jsonschema.ValidationError):
        spec.validate_response("conversations.open", {"ok": True, "channel": {"id": "X1"}})
    with pytest.raises(jsonschema.ValidationError):
        spec.validate_response("users.info", {"ok": False, "error": "no_such_error_code"})
    with pytest.raises(jsonschema.ValidationError):
        spec.validate_event({"type": "event_callback", "token": "t", "team_id": "T1"})


# ---- authentication, scopes, request bodies ---------------------------------------------------


@pytest.mark.parametrize(
    ("token", "error"),
    [(None, "not_authed"), ("xoxb-wrong", "invalid_auth"), (REVOKED, "token_revoked")],
)
async def test_bad_tokens_are_refused_with_http_200(
    token: str | None, error: str, web: Web
) -> None:
    response = await web.call("chat.postMessage", token, channel=ALICE, text="x")
    assert (response.status_code, response.json()) == (200, {"ok": False, "error": error})
    slack_spec().validate_response("chat.postMessage", response.json())


async def test_token_may_be_a_form_or_query_parameter_but_not_inside_json(web: Web) -> None:
    form = await web.client.post("/api/auth.test", data={"token": TOKEN})
    assert form.json()["ok"] is True
    query = await web.client.get("/api/users.info", params={"token": TOKEN, "user": ALICE})
    assert query.json()["user"]["id"] == ALICE
    in_json = await web.client.post("/api/auth.test", json={"token": TOKEN})
    assert in_json.json() == {"ok": False, "error": "not_authed"}


async def test_missing_scope_names_needed_and_provided(web: Web) -> None:
    body = (await web.call("users.info", NARROW, user=ALICE)).json()
    assert body == {
        "ok": False,
        "error": "missing_scope",
        "needed": "users:read",
        "provided": "chat:write",
    }
    slack_spec().validate_response("users.info", body)
    info = (await web.call("conversations.info", NARROW, channel=HELPDESK)).json()
    assert (info["error"], info["needed"]) == ("missing_scope", "channels:read")


async def test_email_is_shown_only_with_the_email_scope(web: Web) -> None:
    with_scope = (await web.call("users.info", user=ALICE)).json()["user"]["profile"]
    without = (await web.call("users.info", NO_EMAIL, user=ALICE)).json()["user"]["profile"]
    assert with_scope["email"] == "alice@example.com"
    assert "email" not in without


async def test_json_bodies_and_malformed_requests(web: Web) -> None:
    posted = await web.call(
        "chat.postMessage", as_json=True, channel=ALICE, text="hi", blocks=BUTTONS
    )
    assert posted.json()["message"]["blocks"] == BUTTONS
    auth = {"Authorization": f"Bearer {TOKEN}"}
    cases: list[tuple[bytes, str | None, str]] = [
        (b"{nope", "application/json", "invalid_json"),
        (b"[1]", "application/json", "json_not_object"),
        (b"a=b", None, "missing_post_type"),
        (b"a", "image/png", "invalid_post_type"),
        (b"a=b", "application/x-www-form-urlencoded; charset=koi8-r", "invalid_charset"),
    ]
    for content, content_type, error in cases:
        headers = {**auth, "Content-Type": content_type} if content_type else auth
        response = await web.client.post("/api/chat.postMessage", content=content, headers=headers)
        assert response.json() == {"ok": False, "error": error}


async def test_unknown_method(web: Web, state: SlackState) -> None:
    body = (await web.call("chat.postMesage", channel=ALICE, text="x")).json()
    assert body == {"ok": False, "error": "unknown_method", "req_method": "chat.postMesage"}
    assert state.calls("chat.postMesage")[0].error == "unknown_method"


# ---- behaviour -----------------------------------------------------------------------------------


async def test_users_list_pages_with_cursors(state: SlackState, web: Web) -> None:
    for i in range(4):
        state.add_user(User(id=f"U0EXTRA00{i}", name=f"x{i}"))
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        body = (await web.call("users.list", limit=3, cursor=cursor)).json()
        slack_spec().validate_response("users.list", body)
        assert 0 < len(body["members"]) <= 3
        seen += [m["id"] for m in body["members"]]
        pages += 1
        cursor = body["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == 3  # 4 seeded + the bot + 4 added = 9 users
    assert seen == list(state.workspace.users)
    everyone = (await web.call("users.list")).json()
    assert [m["id"] for m in everyone["members"]] == seen
    assert everyone["response_metadata"]["next_cursor"] == ""
    deleted = next(m for m in everyone["members"] if m["id"] == CAROL)
    assert deleted["deleted"] is True and "is_admin" not in deleted


async def test_dm_by_user_id_and_conversations_open_share_one_stable_channel(
    web: Web, state: SlackState
) -> None:
    posted = await web.ok("chat.postMessage", channel=ALICE, text="hi")
    first = await web.ok("conversations.open", users=ALICE)
    again = await web.ok("conversations.open", users=ALICE, return_im="true")
    assert (
        posted["channel"] == first["channel"]["id"] == again["channel"]["id"] == state.dm_id(ALICE)
    )
    assert again["already_open"] is True and again["channel"]["user"] == ALICE
    assert SlackState(Workspace.from_dict(SEED)).dm_id(ALICE) == state.dm_id(ALICE)
    slack_spec().validate_response("conversations.open", again)
    info = await web.ok("conversations.info", channel=state.dm_id(ALICE))
    slack_spec().validate_response("conversations.info", info)
    by_name = await web.ok("chat.postMessage", channel="#helpdesk", text="hello all")
    assert by_name["channel"] == HELPDESK


async def test_deactivated_users_still_receive_dms_as_in_slack(web: Web) -> None:
    assert (await web.call("chat.postMessage", channel=CAROL, text="x")).json()["ok"] is True


async def test_chat_update_replaces_what_is_on_screen_and_keeps_history(
    web: Web, state: SlackState
) -> None:
    secret = "Temp-Pa55word-91"
    posted = await web.ok("chat.postMessage", channel=ALICE, text=f"Your password: {secret}")
    assert secret in state.visible_text(ALICE)
    await web.ok(
        "chat.update",
        channel=posted["channel"],
        ts=posted["ts"],
        text="Password shown once, now hidden.",
    )
    message = state.last_message(ALICE)
    assert message is not None
    assert secret not in state.visible_text(ALICE)
    assert [r.text for r in message.revisions] == [f"Your password: {secret}"]
    assert message.revisions[0].replaced_by == "chat.update"
    # Omitted text keeps the old text (blocks too), so a careless update leaves the secret visible.
    careless = await web.ok("chat.postMessage", channel=ALICE, text=f"again {secret}")
    await web.ok("chat.update", channel=careless["channel"], ts=careless["ts"], blocks=BUTTONS)
    assert secret in state.visible_text(ALICE)
    await web.ok("chat.delete", channel=careless["channel"], ts=careless["ts"])
    assert secret not in state.visible_text(ALICE)
    assert len(state.messages_to(ALICE, include_deleted=True)) == 2


async def test_the_bot_cannot_edit_other_peoples_messages(web: Web, state: SlackState) -> None:
    async with SlackEventSender(
        SIGNING_SECRET, "http://bot/slack/events", state=state, transport=_Receiver().transport
    ) as sender:
        await sender.dm(ALICE, "my message")
    users_msg = state.messages_in(ALICE)[-1]
    assert users_msg.user == ALICE
    update = await web.call("chat.update", channel=users_msg.channel, ts=users_msg.ts, text="x")
    delete = await web.call("chat.delete", channel=users_msg.channel, ts=users_msg.ts)
    assert (update.json()["error"], delete.json()["error"]) == (
        "cant_update_message",
        "cant_delete_message",
    )


async def test_recorder_helpers(web: Web, state: SlackState) -> None:
    await web.ok("chat.postMessage", channel=ALICE, text="one")
    await web.ok("chat.postMessage", channel=state.dm_id(ALICE), text="two", blocks=BUTTONS)
    await web.ok("chat.postEphemeral", channel=HELPDESK, user=ALICE, text="psst")
    assert [m.text for m in state.messages_to(ALICE)] == ["one", "two"]
    assert state.last_text(ALICE) == "two"
    assert state.last_blocks(ALICE) == BUTTONS
    assert [e.text for e in state.ephemerals_to(ALICE)] == ["psst"]
    calls = state.calls("chat.postMessage")
    assert [c.params["text"] for c in calls] == ["one", "two"]
    assert calls[1].params["blocks"] == BUTTONS  # decoded from the form field
    assert calls[1].response["ts"] == state.messages_to(ALICE)[1].ts
    assert "Reset *alice*?" in state.visible_text(ALICE)


async def test_wait_for_returns_the_first_truthy_result_or_times_out(
    web: Web, state: SlackState
) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await web.ok("chat.postMessage", channel=BOB, text="done: ticket 7")

    task = asyncio.create_task(later())
    message = await state.wait_for_message(BOB, "ticket 7", timeout=2)
    await task
    assert message.text == "done: ticket 7"
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"chat\.postMessage:ok"):
        await state.wait_for(lambda s: s.last_message(ALICE), timeout=0.1)
    assert time.monotonic() - started < 1


# ---- rate limits ---------------------------------------------------------------------------------


async def test_rate_limit_429_retry_after_and_recovery(state: SlackState) -> None:
    clock = ManualClock()
    web = Web(create_slack_app(state, tiers={"users.info": Limit(2, burst=2)}, clock=clock))
    statuses = [(await web.call("users.info", user=ALICE)).status_code for _ in range(2)]
    limited = await web.call("users.info", user=ALICE)
    assert statuses == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "30"
    assert limited.json() == {"ok": False, "error": "ratelimited"}
    slack_spec().validate_response("users.info", limited.json())
    clock.advance(29)
    assert (await web.call("users.info", user=ALICE)).headers["Retry-After"] == "1"
    clock.advance(1)
    assert (await web.call("users.info", user=ALICE)).status_code == 200
    assert [c.status for c in state.calls("users.info")] == [200, 200, 429, 429, 200]
    # Other methods have their own budget.
    assert (await web.call("users.lookupByEmail", email="bob@example.com")).status_code == 200
    await web.client.aclose()


async def test_retry_after_rounds_a_partial_second_up(state: SlackState) -> None:
    clock = ManualClock()
    web = Web(create_slack_app(state, tiers={"users.info": Limit(50, burst=1)}, clock=clock))
    await web.call("users.info", user=ALICE)
    limited = await web.call("users.info", user=ALICE)
    assert limited.headers["Retry-After"] == "2"  # one request per 1.2 s
    clock.advance(1.0)
    assert (await web.call("users.info", user=ALICE)).status_code == 429
    clock.advance(0.2)
    assert (await web.call("users.info", user=ALICE)).status_code == 200
    await web.client.aclose()


async def test_post_message_is_limited_per_channel_with_a_short_burst(state: SlackState) -> None:
    clock = ManualClock()
    web = Web(create_slack_app(state, clock=clock))
    codes = [
        (await web.call("chat.postMessage", channel=ALICE, text=str(i))).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    assert (
        await web.call("chat.postMessage", channel=BOB, text="other channel")
    ).status_code == 200
    clock.advance(1)
    assert (
        await web.call("chat.postMessage", channel=state.dm_id(ALICE), text="later")
    ).status_code == 200
    await web.client.aclose()


async def test_tier_defaults_and_budget_helpers(state: SlackState) -> None:
    clock = ManualClock()
    web = Web(create_slack_app(state, clock=clock))
    codes = [(await web.call("users.list", limit=1)).status_code for _ in range(21)]
    assert codes.count(200) == 20 and codes[-1] == 429  # Tier 2
    roomy = Web(create_slack_app(state, tiers=RateLimits.slack().scaled(10), clock=clock))
    assert all([(await roomy.call("users.list", limit=1)).status_code == 200 for _ in range(100)])
    tiny = Web(create_slack_app(state, tiers=RateLimits.uniform(Limit(1, burst=1)), clock=clock))
    assert [(await tiny.call("auth.test")).status_code for _ in range(2)] == [200, 429]
    for w in (web, roomy, tiny):
        await w.client.aclose()


async def test_history_bounds_are_exclusive_unless_inclusive_and_tier_3(
    state: SlackState,
) -> None:
    clock = ManualClock()
    web = Web(create_slack_app(state, clock=clock))
    sent = [(await web.ok("chat.postMessage", channel=ALICE, text=str(i)))["ts"]
            for i in range(3)]
    dm = state.dm_id(ALICE)

    async def texts(**bounds: Any) -> list[str]:
        found = await web.ok("conversations.history", channel=dm, **bounds)
        return [m["text"] for m in found["messages"]]

    assert await texts(oldest=sent[0], latest=sent[2]) == ["1"]
    assert await texts(oldest=sent[0], latest=sent[2], inclusive="true") == ["2", "1", "0"]
    assert await texts(oldest=sent[1], inclusive="1") == ["2", "1"]
    # Tier 3 (50 a minute): three calls above, 47 more, then a 429.
    codes = [(await web.call("conversations.history", channel=dm)).status_code
             for _ in range(48)]
    assert codes.count(200) == 47 and codes[-1] == 429
    await web.client.aclose()


# ---- response URLs -------------------------------------------------------------------------------


async def _respond(web: Web, url: str, body: dict[str, Any]) -> httpx.Response:
    return await web.client.post(httpx.URL(url).path, json=body)


async def test_response_url_replace_delete_ephemeral_and_in_channel(
    web: Web, state: SlackState
) -> None:
    posted = await web.ok("chat.postMessage", channel=ALICE, text="Approve?", blocks=BUTTONS)
    url = state.new_response_url(channel=ALICE, user=ALICE, message_ts=posted["ts"])
    assert (await _respond(web, url, {"text": "only you see this"})).json() == {"ok": True}
    assert [e.text for e in state.ephemerals_to(ALICE)] == ["only you see this"]
    await _respond(web, url, {"text": "for everyone", "response_type": "in_channel"})
    assert state.last_text(ALICE) == "for everyone"
    await _respond(web, url, {"replace_original": True, "text": "Approved by bob"})
    original = state.messages_to(ALICE)[0]
    assert (original.text, original.blocks) == ("Approved by bob", None)
    assert original.revisions[0].blocks == BUTTONS
    assert original.revisions[0].replaced_by == "response_url"
    await _respond(web, url, {"delete_original": True})
    assert original.deleted
    assert (await _respond(web, url, {"text": "fifth use"})).status_code == 200
    sixth = await _respond(web, url, {"text": "sixth use"})
    assert (sixth.status_code, sixth.json()["error"]) == (404, "used_url")
    assert [p.outcome for p in state.response_posts()] == [
        "ephemeral",
        "in_channel",
        "replaced",
        "deleted",
        "ephemeral",
        "used_url",
    ]


async def test_response_url_expires_and_rejects_garbage(state: SlackState) -> None:
    clock = ManualClock()
    state.clock = clock
    web = Web(create_slack_app(state, tiers=RateLimits.unlimited()))
    url = state.new_response_url(channel=ALICE, user=ALICE)
    assert (await web.client.post(httpx.URL(url).path, content=b"{bad")).status_code == 400
    assert (await _respond(web, url, {})).json()["error"] == "no_text"
    clock.advance(30 * 60 + 1)
    assert (await _respond(web, url, {"text": "late"})).json()["error"] == "expired_url"
    assert (await web.client.post("/response/unknown", json={"text": "x"})).status_code == 404
    await web.client.aclose()


# ---- slack_sdk against the real server -----------------------------------------------------------


async def test_async_web_client_round_trip(state: SlackState) -> None:
    async with run_slack_fake(state, tiers=RateLimits.unlimited()) as fake:
        assert fake.base_url.endswith("/api/") and fake.port > 0
        client = AsyncWebClient(token=fake.token, base_url=fake.base_url)
        auth = await client.auth_test()
        assert auth["user_id"] == BOT
        posted = await client.chat_postMessage(channel=ALICE, text="hi", blocks=BUTTONS)
        slack_spec().validate_response("chat.postMessage", posted.data)  # type: ignore[arg-type]
        assert state.last_message(ALICE) is not None
        found = await client.users_lookupByEmail(email="bob@example.com")
        assert found["user"]["id"] == BOB
        ids = [m["id"] async for page in await client.users_list(limit=2) for m in page["members"]]
        assert ids == list(state.workspace.users)
        view = await client.views_open(trigger_id=state.new_trigger_id(ALICE), view=MODAL)
        assert state.views(ALICE)[0].id == view["view"]["id"]
        with pytest.raises(SlackApiError) as err:
            await client.users_info(user="U0NOSUCH01")
        assert err.value.response["error"] == "user_not_found"
        assert [c.http_method for c in state.calls("users.info")] == ["GET"]


async def test_rate_limit_retry_handler_waits_and_retries(state: SlackState) -> None:
    async with run_slack_fake(state, tiers={"users.info": Limit(60, burst=1)}) as fake:
        bare = AsyncWebClient(token=fake.token, base_url=fake.base_url)
        await bare.users_info(user=ALICE)
        with pytest.raises(SlackApiError) as err:
            await bare.users_info(user=ALICE)
        assert err.value.response.status_code == 429
        assert err.value.response.headers["Retry-After"] in ("1", ["1"])
        patient = AsyncWebClient(
            token=fake.token,
            base_url=fake.base_url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        started = time.monotonic()
        assert (await patient.users_info(user=ALICE))["user"]["id"] == ALICE
        assert time.monotonic() - started >= 1.0
        assert [c.status for c in state.calls("users.info")] == [200, 429, 429, 200]


def test_thread_runner_serves_sync_clients(state: SlackState) -> None:
    with run_slack_fake_in_thread(state, latency=0.02) as fake:
        client = WebClient(token=fake.token, base_url=fake.base_url)
        started = time.monotonic()
        assert client.chat_postMessage(channel=BOB, text="from sync code")["ok"]
        assert time.monotonic() - started >= 0.02
    assert state.last_text(BOB) == "from sync code"


# ---- the signed-event sender ---------------------------------------------------------------------


class _Receiver:
    """A stand-in app that keeps every request and answers like a minimal Slack app."""

    def __init__(self, answer: Callable[[dict[str, Any]], Response] | None = None) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.answer = answer
        app = Starlette(routes=[Route("/slack/events", self.handle, methods=["POST"])])
        self.transport = httpx.ASGITransport(app=app)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append((body, dict(request.headers)))
        payload = _payload_of(body, request.headers.get("content-type", ""))
        if payload.get("type") == "url_verification":
            return JSONResponse({"challenge": payload["challenge"]})
        return self.answer(payload) if self.answer else Response(status_code=200)


def _payload_of(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        parsed: dict[str, Any] = json.loads(body)
        return parsed
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    return json.loads(form["payload"]) if "payload" in form else form


@pytest.fixture
async def receiver() -> _Receiver:
    return _Receiver()


@pytest.fixture
async def sender(state: SlackState, receiver: _Receiver) -> AsyncIterator[SlackEventSender]:
    async with SlackEventSender(
        SIGNING_SECRET, "http://bot.test/slack/events", state=state, transport=receiver.transport
    ) as s:
        yield s


async def test_dm_events_are_signed_like_slack_and_match_the_spec(
    sender: SlackEventSender, receiver: _Receiver, state: SlackState
) -> None:
    first = await sender.dm(ALICE, "reset my password")
    second = await sender.dm(ALICE, "again")
    verifier = SignatureVerifier(SIGNING_SECRET)
    body, headers = receiver.requests[0]
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + b" ", headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    assert first.acked_in_time and 0 < first.elapsed < 3
    payload = first.payload
    assert payload is not None and second.payload is not None
    slack_spec().validate_event(payload)
    event = payload["event"]
    assert (event["type"], event["channel_type"], event["user"]) == ("message", "im", ALICE)
    assert event["channel"] == state.dm_id(ALICE)
    assert payload["authorizations"][0]["user_id"] == BOT
    assert payload["event_id"] != second.payload["event_id"]
    assert [m.text for m in state.messages_in(ALICE)] == ["reset my password", "again"]


async def test_retries_stale_and_forged_requests(
    sender: SlackEventSender, receiver: _Receiver
) -> None:
    verifier = SignatureVerifier(SIGNING_SECRET)
    original = await sender.dm(ALICE, "hello")
    retry = await sender.redeliver(original, retry_num=2, reason="http_error")
    body, headers = receiver.requests[-1]
    assert (headers["x-slack-retry-num"], headers["x-slack-retry-reason"]) == ("2", "http_error")
    assert body == original.body and verifier.is_valid_request(body, headers)
    assert retry.payload == original.payload
    await sender.post(
        original.body, timestamp=int(time.time()) - 301, content_type="application/json"
    )
    assert not verifier.is_valid_request(*receiver.requests[-1])
    await sender.post(b"{}", {"X-Slack-Signature": "v0=" + "0" * 64})
    assert not verifier.is_valid_request(*receiver.requests[-1])
    await sender.post(b"{}", sign=False)
    assert "x-slack-signature" not in receiver.requests[-1][1]


async def test_url_verification_and_app_home_opened(
    sender: SlackEventSender, state: SlackState, web: Web
) -> None:
    handshake = await sender.url_verification("challenge-123")
    assert handshake.json() == {"challenge": "challenge-123"}
    assert handshake.payload is not None
    slack_spec().validate_event(handshake.payload)
    await web.ok("views.publish", user_id=ALICE, view=HOME)
    opened = await sender.app_home_opened(ALICE)
    assert opened.payload is not None
    slack_spec().validate_event(opened.payload)
    assert opened.payload["event"]["view"]["type"] == "home"


async def test_block_action_clicks_the_latest_button_with_working_response_url_and_trigger(
    sender: SlackEventSender, receiver: _Receiver, state: SlackState, web: Web
) -> None:
    posted = await web.ok("chat.postMessage", channel=ALICE, text="Approve?", blocks=BUTTONS)
    delivery = await sender.block_action(ALICE, "approve")
    body, headers = receiver.requests[-1]
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(body, headers)
    payload = delivery.payload
    assert payload is not None and payload == _payload_of(body, headers["content-type"])
    action = payload["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"]) == (
        "approve",
        "decide",
        "req-42",
    )
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": state.dm_id(ALICE),
        "is_ephemeral": False,
    }
    assert payload["message"]["blocks"] == BUTTONS and payload["user"]["id"] == ALICE
    await _respond(web, payload["response_url"], {"replace_original": True, "text": "Approved"})
    assert state.last_text(ALICE) == "Approved"
    assert (await web.ok("views.open", trigger_id=payload["trigger_id"], view=MODAL))["view"]["id"]
    reused = await web.call("views.open", trigger_id=payload["trigger_id"], view=MODAL)
    assert reused.json()["error"] == "exchanged_trigger_id"
    with pytest.raises(LookupError):
        await sender.block_action(ALICE, "no-such-button")


async def test_clicks_in_home_tabs_and_ephemeral_messages(
    sender: SlackEventSender, state: SlackState, web: Web
) -> None:
    home = {**HOME, "blocks": HOME["blocks"] + [BUTTONS[1]]}
    published = await web.ok("views.publish", user_id=ALICE, view=home)
    in_home = await sender.block_action(ALICE, "deny")
    assert in_home.payload is not None
    assert in_home.payload["container"] == {"type": "view", "view_id": published["view"]["id"]}
    assert "response_url" not in in_home.payload and in_home.payload["view"]["type"] == "home"
    await web.ok("chat.postEphemeral", channel=HELPDESK, user=ALICE, text="Sure?", blocks=BUTTONS)
    in_ephemeral = await sender.block_action(ALICE, "approve", channel=HELPDESK)
    payload = in_ephemeral.payload
    assert payload is not None and "message" not in payload
    assert payload["container"]["is_ephemeral"] is True
    assert payload["channel"] == {"id": HELPDESK, "name": "helpdesk"}
    await _respond(web, payload["response_url"], {"replace_original": True, "text": "Done"})
    assert [e.text for e in state.ephemerals_to(ALICE)] == ["Done"]


async def test_a_sender_without_state_still_signs_and_shapes_payloads(receiver: _Receiver) -> None:
    async with SlackEventSender(
        SIGNING_SECRET, "http://bot.test/slack/events", transport=receiver.transport
    ) as sender:
        dm = await sender.dm(ALICE, "hi")
        click = await sender.block_action(
            ALICE, "approve", message={"ts": "1700000000.000100", "blocks": BUTTONS}
        )
    assert dm.payload is not None and click.payload is not None
    slack_spec().validate_event(dm.payload)
    assert click.payload["actions"][0]["value"] == "req-42"
    assert click.payload["response_url"].startswith("https://hooks.slack.com/actions/")
    assert all(SignatureVerifier(SIGNING_SECRET).is_valid_request(*r) for r in receiver.requests)


async def test_trigger_ids_expire_after_three_seconds(state: SlackState, web: Web) -> None:
    clock = ManualClock()
    state.clock = clock
    trigger = state.new_trigger_id(ALICE)
    clock.advance(3.5)
    assert (await web.call("views.open", trigger_id=trigger, view=MODAL)).json()[
        "error"
    ] == "expired_trigger_id"


async def test_slash_command_and_view_submission(
    state: SlackState, web: Web, sender: SlackEventSender, receiver: _Receiver
) -> None:
    command = await sender.slash_command(ALICE, "/helpdesk", "reset")
    fields = command.payload
    assert fields is not None
    assert (fields["command"], fields["text"], fields["user_id"]) == ("/helpdesk", "reset", ALICE)
    assert fields["channel_id"] == state.dm_id(ALICE) and fields["channel_name"] == "directmessage"
    await _respond(web, fields["response_url"], {"text": "Working on it"})
    assert state.ephemerals_to(ALICE)[-1].text == "Working on it"
    opened = await web.ok("views.open", trigger_id=fields["trigger_id"], view=MODAL)
    submitted = await sender.view_submission(ALICE, {"who": {"account": "alice@example.com"}})
    assert submitted.payload is not None
    view = submitted.payload["view"]
    assert view["id"] == opened["view"]["id"] and view["callback_id"] == "reset_modal"
    assert view["state"]["values"] == {
        "who": {"account": {"type": "plain_text_input", "value": "alice@example.com"}}
    }
    assert state.views(ALICE, type="modal")[0].closed  # an empty ack closes the modal


async def test_view_submission_errors_keep_the_modal_open(state: SlackState, web: Web) -> None:
    errors = {"response_action": "errors", "errors": {"who": "Unknown account"}}
    receiver = _Receiver(lambda payload: JSONResponse(errors))
    async with SlackEventSender(
        SIGNING_SECRET, "http://bot.test/slack/events", state=state, transport=receiver.transport
    ) as sender:
        await web.ok("views.open", trigger_id=state.new_trigger_id(ALICE), view=MODAL)
        answer = await sender.view_submission(ALICE, {"who": {"account": "nobody"}})
    assert answer.json() == errors
    assert not state.views(ALICE)[0].closed


# ---- a real Bolt app between the sender and the fake -------------------------------------------


def _helpdesk_bot(client: AsyncWebClient) -> AsyncApp:
    app = AsyncApp(signing_secret=SIGNING_SECRET, client=client)

    @app.event("message")
    async def on_dm(event: dict[str, Any], say: Callable[..., Awaitable[Any]]) -> None:
        await say(text="Approve?", blocks=BUTTONS)

    @app.action("approve")
    async def on_approve(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(replace_original=True, text="Approved")

    @app.command("/helpdesk")
    async def on_command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.view("reset_modal")
    async def on_submit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        account = view["state"]["values"]["who"]["account"]["value"]
        await client.chat_postMessage(
            channel=body["user"]["id"], text=f"Reset link sent for {account}"
        )

    return app


async def test_a_bolt_app_runs_a_whole_conversation_against_the_fake(state: SlackState) -> None:
    async with run_slack_fake(state) as fake:
        bolt = _helpdesk_bot(AsyncWebClient(token=fake.token, base_url=fake.base_url))
        handler = AsyncSlackRequestHandler(bolt)

        async def endpoint(request: Request) -> Response:
            return await handler.handle(request)

        asgi = Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])
        async with SlackEventSender(
            SIGNING_SECRET,
            "http://bot.test/slack/events",
            state=state,
            transport=httpx.ASGITransport(app=asgi),
        ) as sender:
            assert (await sender.dm(ALICE, "please reset my password")).acked_in_time
            question = await state.wait_for_message(ALICE, "Approve?")
            assert question.blocks == BUTTONS
            assert (await sender.block_action(ALICE, "approve")).status_code == 200
            await state.wait_for(lambda s: s.last_text(ALICE) == "Approved", timeout=5)
            assert (
                state.last_message(ALICE) is question and question.revisions[0].text == "Approve?"
            )
            assert (await sender.slash_command(ALICE, "/helpdesk")).status_code == 200
            modal = await state.wait_for(lambda s: s.views(ALICE, type="modal"), timeout=5)
            submitted = await sender.view_submission(
                ALICE, {"who": {"account": "alice"}}, view=modal[0]
            )
            assert submitted.status_code == 200
            await state.wait_for_message(ALICE, "Reset link sent for alice", timeout=5)
        other_tokens = [c for c in state.calls() if c.token != fake.token]
        assert other_tokens == []
        assert {c.method for c in state.calls()} >= {"auth.test", "chat.postMessage", "views.open"}


def test_workspace_seed_from_yaml_and_typos() -> None:
    ws = Workspace.from_yaml(
        """
team: {id: T0YAML0001, name: Yaml Inc, domain: yaml}
users:
  - {id: U0YAML0001, name: ann, profile: {email: ann@yaml.example, display_name: Ann}}
"""
    )
    assert ws.users["U0YAML0001"].display_name == "Ann"
    assert ws.users[ws.app.bot_user_id].is_bot
    assert ws.user_by_email("ANN@yaml.example") is ws.users["U0YAML0001"]
    with pytest.raises(ValueError, match="emial"):
        Workspace.from_dict({"users": [{"id": "U0X", "name": "x", "profile": {"emial": "x@y"}}]})


async def test_the_example_workspace_serves_spec_valid_users() -> None:
    state = SlackState(Workspace.from_yaml(EXAMPLE_WORKSPACE))
    web = Web(create_slack_app(state))
    body = (await web.call("users.list", state.workspace.bot_token)).json()
    slack_spec().validate_response("users.list", body)
    assert {m["name"] for m in body["members"]} >= {"alice", "bob", "carol", "guest", "helpdesk"}
    for channel in state.workspace.channels:
        info = (await web.call("conversations.info", channel=channel)).json()
        slack_spec().validate_response("conversations.info", info)
    await web.client.aclose()
