"""The doctor's Slack checks: token, scopes against the manifest, secrets, channels.

Scopes: Slack answers Web API calls, ``auth.test`` included, with the token's
granted scopes in the ``X-OAuth-Scopes`` header ("Working with Scopes",
https://docs.slack.dev/legacy/legacy-authentication/legacy-oauth-scopes; slack_sdk
exposes it as ``response.headers``). Where that header is absent, each manifest scope that can
be probed without an effect is probed: a call that needs it and names nothing that
exists (``chat.update`` of a message that isn't there, ``users.lookupByEmail`` of
an impossible address). A refused probe answers ``missing_scope`` with the full
``provided`` list, which then stands in for the header. ``im:history`` (an event
subscription) and ``commands`` have no such probe and are reported as unverified.

Channels: the bot posts MFA-reset notices to ``organisation.security_channel``
and approval requests to the catalogue's approval channels. Each is looked up
with ``conversations.info`` (an id) or ``conversations.list`` (a ``#name``); both
need ``channels:read``/``groups:read``, which the manifest does not ask for, so
without them a channel is reported as unverified rather than posted to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.doctor.family import DoctorContext, Family
from config.outbox import KEY_ENV, outbox_key
from config.secrets import MissingSecret
from config.settings import HelpdeskConfig
from connectors.base import Capability
from connectors.doctor import Finding, Findings, join

MANIFEST = Path(__file__).resolve().parents[2] / "config" / "slack-manifest.yaml"
PROBE_EMAIL = "helpdesk-doctor-probe@invalid.invalid"
# Scopes the doctor itself can use when granted (to find and check channels); the
# bot does not need them, so they are not reported as extra.
DOCTOR_SCOPES = frozenset({"channels:read", "groups:read"})
_AUTH_ERRORS = frozenset(
    {"not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive"}
)
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_CHANNEL_NAME = re.compile(r"^#[a-z0-9][a-z0-9._-]*$")
_SIGNING_SECRET = re.compile(r"^[0-9a-f]{32}$")
MIN_OUTBOX_KEY = 24  # characters; `openssl rand -base64 32` gives 44


def manifest_scopes(path: Path = MANIFEST) -> list[str]:
    """The bot scopes the app manifest asks for (``oauth_config.scopes.bot``)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    scopes = ((data.get("oauth_config") or {}).get("scopes") or {}).get("bot") or []
    return [str(s) for s in scopes]


@dataclass(frozen=True, slots=True)
class _Probe:
    scope: str
    method: str
    params: Mapping[str, str]


def _probes(bot_user_id: str) -> list[_Probe]:
    # Each call needs exactly the scope named and changes nothing: the message,
    # channel, address and user group it names do not exist, and conversations.open
    # without users is refused before it opens anything.
    return [
        _Probe("users:read", "users.info", {"user": bot_user_id}),
        _Probe("users:read.email", "users.lookupByEmail", {"email": PROBE_EMAIL}),
        _Probe("chat:write", "chat.update", {"channel": "C0DOCTOR00", "ts": "1.000000"}),
        _Probe("im:write", "conversations.open", {}),
        _Probe("usergroups:read", "usergroups.users.list", {"usergroup": "S0DOCTOR00"}),
    ]


@dataclass(slots=True)
class _Answer:
    ok: bool
    error: str | None
    body: Mapping[str, Any]
    headers: Mapping[str, Any]


async def _call(client: AsyncWebClient, method: str, params: Mapping[str, str]) -> _Answer:
    try:
        response = await client.api_call(method, params=dict(params))
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _Answer(False, f"unreachable ({type(exc).__name__})", {}, {})
    except SlackApiError as exc:
        body = exc.response.data if isinstance(exc.response.data, dict) else {}
        return _Answer(False, str(body.get("error") or "unknown_error"), body, exc.response.headers)
    body = response.data if isinstance(response.data, dict) else {}
    return _Answer(bool(body.get("ok")), None, body, response.headers)


def _scopes_header(headers: Mapping[str, Any]) -> list[str] | None:
    for key, value in headers.items():
        if str(key).lower() == "x-oauth-scopes":
            text = value[0] if isinstance(value, list) and value else value
            return [s.strip() for s in str(text).split(",") if s.strip()]
    return None


async def diagnose_slack(
    cfg: HelpdeskConfig,
    environ: Mapping[str, str],
    *,
    offered: Capability,
    manifest: Path = MANIFEST,
) -> list[Finding]:
    """Check the Slack side for ``cfg``; ``offered`` are the capabilities the bot offers.

    Reads only: no message is posted, no conversation opened.
    """
    out = Findings("slack")
    _check_signing_secret(cfg, environ, out)
    _check_outbox_key(cfg, environ, out)
    if cfg.slack.app_token is not None:
        _check_app_token(cfg, environ, out)
    try:
        token = cfg.slack.bot_token.resolve(environ)
    except MissingSecret as exc:
        out.fail(
            "bot token",
            str(exc),
            fix=f"set the xoxb- bot token ({cfg.slack.bot_token.describe()}); see README, "
            "'Connect it to Slack'",
        )
        return out.rows
    client = AsyncWebClient(
        token=token.reveal(), base_url=cfg.slack.api_base_url or AsyncWebClient.BASE_URL
    )
    answer = await _call(client, "auth.test", {})
    if not answer.ok:
        fix = "reinstall the app and update the bot token" if answer.error in _AUTH_ERRORS else None
        out.fail("bot token", f"auth.test failed: {answer.error}", fix=fix, error=answer.error)
        return out.rows
    body = answer.body
    team, user = str(body.get("team") or ""), str(body.get("user") or "")
    bot_user_id = str(body.get("user_id") or "")
    summary = f"valid: workspace {team} ({body.get('team_id')}), bot @{user} ({bot_user_id})"
    if not token.reveal().startswith("xoxb-"):
        out.warn(
            "bot token",
            summary + "; not a bot token (xoxb-): it acts as a person",
            fix="use the Bot User OAuth Token (xoxb-) from OAuth & Permissions",
        )
    else:
        out.ok("bot token", summary, team_id=body.get("team_id"), bot_user_id=bot_user_id)
    granted = await _granted_scopes(client, answer, bot_user_id, manifest, out)
    await _check_channels(client, cfg, offered, granted, out)
    return out.rows


def _check_signing_secret(cfg: HelpdeskConfig, environ: Mapping[str, str], out: Findings) -> None:
    try:
        secret = cfg.slack.signing_secret.resolve(environ)
    except MissingSecret as exc:
        out.fail(
            "signing secret",
            str(exc),
            fix="set it from the app's Basic Information > Signing Secret",
        )
        return
    if _SIGNING_SECRET.fullmatch(secret.reveal()):
        out.ok("signing secret", f"present ({cfg.slack.signing_secret.describe()})")
    else:
        out.warn(
            "signing secret",
            f"present ({cfg.slack.signing_secret.describe()}) but not shaped like one "
            "(32 hex characters): every request would fail verification",
            fix="copy the Signing Secret (not the client secret or a token)",
        )


def _check_outbox_key(cfg: HelpdeskConfig, environ: Mapping[str, str], out: Findings) -> None:
    """The key sealing stored reset links and temporary passwords (``slack.outbox.key``)."""
    fix = (
        f"set slack.outbox.key (or {KEY_ENV}) to the same long random string on every replica "
        "(`openssl rand -base64 32`)"
    )
    try:
        key = outbox_key(cfg.slack.outbox, environ)
    except MissingSecret as exc:
        out.fail("outbox key", str(exc), fix=fix)
        return
    where = cfg.slack.outbox.key.describe() if cfg.slack.outbox.key is not None else KEY_ENV
    if key is None:
        shared = cfg.database_url.split(":", 1)[0].startswith("postgres")
        consequence = (
            "each replica makes up its own, so a link or temporary password stored by one "
            "cannot be sent by another, or by the same one after a restart: it expires "
            "undelivered"
            if shared
            else "the bot makes one up at each start, so a link or temporary password waiting "
            "when it restarts expires undelivered"
        )
        (out.fail if shared else out.warn)("outbox key", f"not set: {consequence}", fix=fix)
    elif len(key.reveal()) < MIN_OUTBOX_KEY:
        out.warn(
            "outbox key",
            f"present ({where}) but only {len(key.reveal())} characters",
            fix=fix,
        )
    else:
        out.ok("outbox key", f"present ({where})")


def _check_app_token(cfg: HelpdeskConfig, environ: Mapping[str, str], out: Findings) -> None:
    assert cfg.slack.app_token is not None
    try:
        token = cfg.slack.app_token.resolve(environ)
    except MissingSecret as exc:
        out.fail("app token", str(exc), fix="create an app-level token with connections:write")
        return
    if token.reveal().startswith("xapp-"):
        out.ok("app token", f"present ({cfg.slack.app_token.describe()}), Socket Mode")
    else:
        out.fail(
            "app token",
            "not an app-level token (xapp-)",
            fix="Basic Information > App-Level Tokens, scope connections:write",
        )


async def _granted_scopes(
    client: AsyncWebClient,
    auth: _Answer,
    bot_user_id: str,
    manifest: Path,
    out: Findings,
) -> set[str] | None:
    """The token's scopes (``None`` when unknown), reported against the manifest."""
    wanted = manifest_scopes(manifest)
    header = _scopes_header(auth.headers)
    confirmed: set[str] = set()
    granted: set[str] | None = set(header) if header is not None else None
    source = "X-OAuth-Scopes"
    if granted is None:
        source = "probes"
        for probe in _probes(bot_user_id):
            if probe.scope not in wanted:
                continue
            answer = await _call(client, probe.method, probe.params)
            if answer.error == "missing_scope":
                provided = str(answer.body.get("provided") or "")
                granted = {s.strip() for s in provided.split(",") if s.strip()}
                source = "missing_scope answer"
                break
            if answer.error not in _AUTH_ERRORS:
                confirmed.add(probe.scope)
    data: dict[str, Any] = {"manifest": wanted, "source": source}
    if granted is not None:
        missing = [s for s in wanted if s not in granted]
        extra = sorted(granted - set(wanted) - DOCTOR_SCOPES)
        data.update(granted=sorted(granted), missing=missing, extra=extra)
        if missing:
            out.fail(
                "scopes",
                f"missing {join(missing)} (read from the {source})",
                fix="add them under OAuth & Permissions (or paste config/slack-manifest.yaml) "
                "and reinstall the app",
                **data,
            )
        elif extra:
            out.warn(
                "scopes",
                f"every manifest scope granted, plus {join(extra)}, which the bot does not use",
                fix="remove them from the app's scopes and reinstall",
                **data,
            )
        else:
            out.ok("scopes", f"exactly the manifest's: {join(wanted)}", **data)
        return granted
    unverified = [s for s in wanted if s not in confirmed]
    data.update(confirmed=sorted(confirmed), unverified=unverified)
    out.warn(
        "scopes",
        f"confirmed {join(sorted(confirmed))}; the API did not list the granted scopes, "
        f"so {join(unverified)} (and any extra scope) could not be checked",
        fix="compare OAuth & Permissions > Scopes with config/slack-manifest.yaml",
        **data,
    )
    return None


def _channels(cfg: HelpdeskConfig, offered: Capability) -> list[tuple[str, str]]:
    """(channel, why the bot posts there), for what the bot offers."""
    purposes: dict[str, list[str]] = {}
    security = cfg.organisation.security_channel
    if security and Capability.MFA_RESET in offered:
        purposes.setdefault(security, []).append("MFA reset notices")
    approvals: dict[str, list[str]] = {}
    if Capability.GROUPS in offered:
        for entry in cfg.catalogue:
            for ref in entry.approvers:
                if _CHANNEL_ID.match(ref) or _CHANNEL_NAME.match(ref):
                    approvals.setdefault(ref, []).append(entry.key)
    for ref, keys in approvals.items():
        purposes.setdefault(ref, []).append(f"approval requests ({join(keys)})")
    return [(ref, "; ".join(whys)) for ref, whys in purposes.items()]


async def _check_channels(
    client: AsyncWebClient,
    cfg: HelpdeskConfig,
    offered: Capability,
    granted: set[str] | None,
    out: Findings,
) -> None:
    channels = _channels(cfg, offered)
    if not channels:
        out.skip("channels", "the enabled capabilities post to no channel")
        return
    public_posting = granted is not None and "chat:write.public" in granted
    names: dict[str, str] | None = None
    for ref, why in channels:
        check = f"channel {ref}"
        channel_id = ref
        if ref.startswith("#"):
            if names is None:
                names = await _channel_names(client)
            if names is None or ref[1:] not in names:
                if names is None:
                    out.skip(
                        check,
                        f"for {why}: could not resolve the name (needs channels:read and "
                        "groups:read)",
                        fix="give the channel's id (C...) instead of its name, or grant "
                        "channels:read to let the doctor check it",
                    )
                else:
                    out.fail(
                        check,
                        f"for {why}: no channel of that name the bot can see",
                        fix="create it, fix the name, or invite the bot (private channels)",
                    )
                continue
            channel_id = names[ref[1:]]
        answer = await _call(client, "conversations.info", {"channel": channel_id})
        if answer.error == "missing_scope":
            out.skip(
                check,
                f"for {why}: not checked (conversations.info needs "
                f"{answer.body.get('needed') or 'channels:read'})",
                fix="grant channels:read (and groups:read) to let the doctor check it",
            )
            continue
        if not answer.ok:
            out.fail(
                check,
                f"for {why}: {answer.error} (a private channel must have the bot as a member)",
                fix="fix the channel, or invite the bot to it",
                error=answer.error,
            )
            continue
        channel = answer.body.get("channel") or {}
        if channel.get("is_archived"):
            out.fail(check, f"for {why}: the channel is archived", fix="use a live channel")
        elif channel.get("is_member") or public_posting:
            out.ok(check, f"for {why}: the bot can post ({channel_id})", channel_id=channel_id)
        else:
            out.fail(
                check,
                f"for {why}: the bot is not a member, so posting fails with not_in_channel",
                fix=f"invite the bot: /invite @bot in #{channel.get('name') or channel_id}",
                channel_id=channel_id,
            )


async def _channel_names(client: AsyncWebClient) -> dict[str, str] | None:
    """Channel name -> id for the channels the bot can see; ``None`` when it can't list them."""
    names: dict[str, str] = {}
    cursor = ""
    for _ in range(100):
        params = {
            "types": "public_channel,private_channel",
            "exclude_archived": "true",
            "limit": "1000",
        }
        if cursor:
            params["cursor"] = cursor
        answer = await _call(client, "conversations.list", params)
        if not answer.ok:
            return None
        for channel in answer.body.get("channels") or []:
            if isinstance(channel, dict) and channel.get("name") and channel.get("id"):
                names[str(channel["name"])] = str(channel["id"])
        cursor = str((answer.body.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            break
    return names


async def _check(ctx: DoctorContext) -> list[Finding]:
    return await diagnose_slack(ctx.cfg, ctx.environ, offered=ctx.offered)


FAMILY = Family("slack", "Slack", _check)
