"""The Slack checks against the Slack fake: token, scopes against the manifest, secret, channels.

The fake does not send ``X-OAuth-Scopes``; the scope checks there go through the
harmless probes and the ``provided`` list of a ``missing_scope`` answer. The
header path is exercised by adding the header to the fake's answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

import bot.doctor.slack as doctor_slack
from bot.doctor.slack import diagnose_slack, manifest_scopes
from config.settings import HelpdeskConfig
from connectors.base import Capability
from connectors.doctor import Finding, Status
from sandboxes.slack import RunningSlackFake, SlackState, run_slack_fake
from tests.doctor.conftest import (
    BOT_TOKEN,
    MANIFEST_SCOPES,
    PROBED_SCOPES,
    SIGNING_SECRET,
    SLACK_ENV,
    make_config,
    workspace,
)

ALL = (
    Capability.GROUPS
    | Capability.PASSWORD_RESET
    | Capability.UNLOCK
    | Capability.MFA_RESET
    | Capability.PASSWORD_EXPIRY
)
DOCTOR_EXTRA = ["channels:read", "groups:read"]


def _config(fake: RunningSlackFake, **overrides: Any) -> HelpdeskConfig:
    catalogue = [
        {
            "key": key,
            "display_name": key,
            "provider_group": key,
            "approvers": ["U0ALICE001", channel],
        }
        for key, channel in (
            ("figma", "G0APPROVAL1"),
            ("vpn", "C0OUTSIDE1"),
            ("secret", "G0SECRET01"),
            ("old", "C0ARCHIVED"),
            ("named", "#it-approvals"),
        )
    ]
    values: dict[str, Any] = {"catalogue": catalogue}
    values.update(overrides)
    return make_config({"mem": {"kind": "memory"}}, slack_url=fake.base_url, **values)


def _by_check(rows: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in rows}


async def _slack(
    scopes: list[str], *, env: Mapping[str, str] = SLACK_ENV, offered: Capability = ALL, **kw: Any
) -> dict[str, Finding]:
    async with run_slack_fake(SlackState(workspace(scopes))) as fake:
        rows = await diagnose_slack(_config(fake, **kw), env, offered=offered)
    return _by_check(rows)


def test_the_manifest_is_read() -> None:
    core = {"chat:write", "im:history", "im:write", "users:read", "users:read.email", "commands"}
    assert core <= set(manifest_scopes())


async def test_exact_scopes_can_only_be_partly_confirmed_without_the_header() -> None:
    found = await _slack(MANIFEST_SCOPES)
    assert found["bot token"].status is Status.OK
    assert "U0HELPBOT1" in found["bot token"].summary
    assert found["signing secret"].status is Status.OK
    scopes = found["scopes"]
    assert scopes.status is Status.WARN
    assert scopes.data["confirmed"] == sorted(PROBED_SCOPES & set(MANIFEST_SCOPES))
    assert scopes.data["unverified"] == [s for s in MANIFEST_SCOPES if s not in PROBED_SCOPES]
    assert "im:history" in scopes.data["unverified"]
    # Channels need channels:read/groups:read to be looked at; nothing was posted.
    assert found["channel C0SECURITY"].status is Status.SKIP


async def test_a_missing_scope_is_named_from_slacks_own_answer() -> None:
    lacking = [s for s in MANIFEST_SCOPES if s != "users:read.email"] + ["files:write"]
    scopes = (await _slack(lacking))["scopes"]
    assert scopes.status is Status.FAIL
    assert scopes.data["missing"] == ["users:read.email"]
    assert scopes.data["extra"] == ["files:write"]
    assert scopes.data["source"] == "missing_scope answer"


async def test_the_header_is_used_when_slack_sends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    call = doctor_slack._call

    async def with_header(client: Any, method: str, params: Mapping[str, str]) -> Any:
        answer = await call(client, method, params)
        if method == "auth.test":
            granted = ",".join([*MANIFEST_SCOPES, "files:write"])
            answer.headers = {**dict(answer.headers), "X-OAuth-Scopes": granted}
        return answer

    monkeypatch.setattr(doctor_slack, "_call", with_header)
    scopes = (await _slack(MANIFEST_SCOPES))["scopes"]
    assert scopes.status is Status.WARN
    assert scopes.data["source"] == "X-OAuth-Scopes"
    assert scopes.data["extra"] == ["files:write"]
    assert scopes.data["missing"] == []


async def test_channels_the_bot_posts_to() -> None:
    found = await _slack([*MANIFEST_SCOPES, *DOCTOR_EXTRA])
    assert found["channel C0SECURITY"].status is Status.OK  # MFA notices
    assert found["channel G0APPROVAL1"].status is Status.OK  # private, the bot is in it
    outside = found["channel C0OUTSIDE1"]
    assert outside.status is Status.FAIL
    assert "not a member" in outside.summary
    assert found["channel G0SECRET01"].status is Status.FAIL  # private without the bot
    assert "archived" in found["channel C0ARCHIVED"].summary
    # The fake has no conversations.list, so a #name cannot be resolved: said, not guessed.
    assert found["channel #it-approvals"].status is Status.SKIP
    # The doctor's own optional scopes are not "extra".
    assert found["scopes"].status is not Status.FAIL


async def test_channels_of_capabilities_not_offered_are_not_checked() -> None:
    found = await _slack([*MANIFEST_SCOPES, *DOCTOR_EXTRA], offered=Capability.UNLOCK)
    assert found["channels"].status is Status.SKIP
    assert not [c for c in found if c.startswith("channel ")]


async def test_bad_credentials() -> None:
    found = await _slack(MANIFEST_SCOPES, env={})
    assert found["bot token"].status is Status.FAIL
    assert "SLACK_BOT_TOKEN" in found["bot token"].summary
    assert found["signing secret"].status is Status.FAIL
    env = {"SLACK_BOT_TOKEN": "xoxb-0-0-NotAToken0000000000", "SLACK_SIGNING_SECRET": "hunter2"}
    found = await _slack(MANIFEST_SCOPES, env=env)
    assert found["bot token"].status is Status.FAIL
    assert found["bot token"].data["error"] == "invalid_auth"
    assert found["signing secret"].status is Status.WARN
    assert "hunter2" not in str([f.to_dict() for f in found.values()])


async def test_revoked_token_and_socket_mode_token() -> None:
    ws = workspace(tokens=[{"token": BOT_TOKEN, "scopes": MANIFEST_SCOPES, "revoked": True}])
    async with run_slack_fake(SlackState(ws)) as fake:
        cfg = _config(fake, slack={"api_base_url": fake.base_url, "app_token": {"env": "APP"}})
        env = {**SLACK_ENV, "APP": "xoxb-wrong-kind-of-token"}
        found = _by_check(await diagnose_slack(cfg, env, offered=ALL))
    assert found["bot token"].data["error"] == "token_revoked"
    assert found["app token"].status is Status.FAIL
    assert SIGNING_SECRET not in str([f.to_dict() for f in found.values()])


async def test_the_outbox_key_is_checked_where_it_matters() -> None:
    key = "k" * 44
    found = await _slack(MANIFEST_SCOPES, env={**SLACK_ENV, "HELPDESK_OUTBOX_KEY": key})
    assert found["outbox key"].status is Status.OK
    assert key not in str([f.to_dict() for f in found.values()])
    # One SQLite process: a restart loses what waits; replicas on PostgreSQL: every hand-over.
    found = await _slack(MANIFEST_SCOPES)
    assert found["outbox key"].status is Status.WARN
    assert "restarts" in found["outbox key"].summary
    found = await _slack(MANIFEST_SCOPES, database_url="postgresql://helpdesk@db/helpdesk")
    assert found["outbox key"].status is Status.FAIL
    assert "replica" in found["outbox key"].summary
    assert "HELPDESK_OUTBOX_KEY" in (found["outbox key"].fix or "")
    # Configured but unreadable, or too short to be a key.
    found = await _slack(
        MANIFEST_SCOPES, slack={"outbox": {"key": {"env": "OUTBOX_KEY"}}}
    )
    assert found["outbox key"].status is Status.FAIL
    assert "OUTBOX_KEY" in found["outbox key"].summary
    found = await _slack(MANIFEST_SCOPES, env={**SLACK_ENV, "HELPDESK_OUTBOX_KEY": "hunter2"})
    assert found["outbox key"].status is Status.WARN
    assert "hunter2" not in str([f.to_dict() for f in found.values()])
