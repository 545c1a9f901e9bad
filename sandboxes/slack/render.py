"""Slack-shaped JSON for users, conversations, messages and views (pure functions).

Field sets follow Slack's object reference pages (api.slack.com/types/user, /types/conversation,
/reference/surfaces/views) and stay within what the published OpenAPI schemas allow.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sandboxes.slack.model import SEED_EPOCH, Channel, User, Workspace
from sandboxes.slack.records import Dm, Message, View


def _avatar(user_id: str) -> tuple[str, str]:
    digest = hashlib.md5(user_id.encode(), usedforsecurity=False).hexdigest()
    return "g" + digest[:11], f"https://secure.gravatar.com/avatar/{digest}"


def user_profile(ws: Workspace, user: User, *, with_email: bool) -> dict[str, Any]:
    """A user's ``profile``; ``email`` only when the token holds ``users:read.email``."""
    avatar_hash, image = _avatar(user.id)
    real = user.real_name or user.name
    first, _, last = real.partition(" ")
    profile: dict[str, Any] = {
        "title": user.title,
        "phone": user.phone,
        "skype": "",
        "real_name": real,
        "real_name_normalized": real,
        "display_name": user.display_name,
        "display_name_normalized": user.display_name,
        "fields": {},
        "status_text": "",
        "status_emoji": "",
        "status_expiration": 0,
        "avatar_hash": avatar_hash,
        "first_name": first,
        "last_name": last,
        "image_24": f"{image}?s=24",
        "image_72": f"{image}?s=72",
        "image_192": f"{image}?s=192",
        "team": ws.team_id,
    }
    if with_email and user.email:
        profile["email"] = user.email
    if user.is_bot:
        profile.update(bot_id=user.bot_id or "", api_app_id=user.app_id or "", always_active=True)
    return profile


def user_object(
    ws: Workspace, user: User, *, with_email: bool, with_locale: bool = False
) -> dict[str, Any]:
    """Slack's user object. A deactivated user carries fewer fields, as in Slack.

    ``with_locale``: the call asked for ``include_locale`` (users.info, users.list).
    """
    obj: dict[str, Any] = {
        "id": user.id,
        "team_id": user.team_id or ws.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "real_name": user.real_name or user.name,
        "profile": user_profile(ws, user, with_email=with_email),
        "is_bot": user.is_bot,
        "is_app_user": user.is_app_user,
        "updated": user.updated,
    }
    if user.deleted:
        return obj
    tz_offset, tz_label = ws.tz_of(user)
    obj.update(
        color="9f69e7",
        tz=user.tz,
        tz_label=tz_label,
        tz_offset=tz_offset,
        is_admin=user.is_admin,
        is_owner=user.is_owner,
        is_primary_owner=False,
        is_restricted=user.is_restricted,
        is_ultra_restricted=user.is_ultra_restricted,
    )
    if user.is_external:
        obj["is_external"] = True
    if with_locale:
        obj["locale"] = user.locale
    return obj


def channel_object(ws: Workspace, channel: Channel, *, num_members: bool = False) -> dict[str, Any]:
    """Slack's conversation object for a public or private channel."""

    def about(value: str) -> dict[str, Any]:
        return {
            "value": value,
            "creator": channel.creator if value else "",
            "last_set": channel.created if value else 0,
        }

    obj: dict[str, Any] = {
        "id": channel.id,
        "name": channel.name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": channel.is_private,
        "created": channel.created,
        "is_archived": channel.is_archived,
        "is_general": channel.is_general,
        "unlinked": 0,
        "name_normalized": channel.name,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "parent_conversation": None,
        "creator": channel.creator,
        "shared_team_ids": [ws.team_id],
        "is_member": ws.app.bot_user_id in channel.members,
        "topic": about(channel.topic),
        "purpose": about(channel.purpose),
        "previous_names": [],
    }
    if num_members:
        obj["num_members"] = len(channel.members)
    return obj


def im_object(ws: Workspace, dm: Dm) -> dict[str, Any]:
    """Slack's conversation object for the app's DM with a user."""
    user = ws.users.get(dm.user)
    return {
        "id": dm.id,
        "created": dm.created,
        "is_archived": False,
        "is_im": True,
        "is_org_shared": False,
        "user": dm.user,
        "is_user_deleted": bool(user and user.deleted),
        "last_read": "0000000000.000000",
        "is_open": True,
        "priority": 0,
    }


def bot_profile(ws: Workspace) -> dict[str, Any]:
    """The ``bot_profile`` Slack attaches to the app's messages."""
    icon = "https://a.slack-edge.com/80588/img/plugins/app/bot_{}.png"
    return {
        "id": ws.app.bot_id,
        "app_id": ws.app.id,
        "name": ws.app.name,
        "icons": {size: icon.format(size[-2:]) for size in ("image_36", "image_48", "image_72")},
        "deleted": False,
        "updated": SEED_EPOCH,
        "team_id": ws.team_id,
    }


def message_object(ws: Workspace, message: Message) -> dict[str, Any]:
    """Slack's message object for a message the app posted."""
    obj: dict[str, Any] = {
        "type": "message",
        "user": message.user,
        "text": message.text,
        "ts": message.ts,
        "team": ws.team_id,
    }
    if message.bot_id:
        obj.update(bot_id=message.bot_id, bot_profile=bot_profile(ws))
    if message.blocks is not None:
        obj["blocks"] = message.blocks
    if message.attachments:
        obj["attachments"] = [{"id": i + 1, **a} for i, a in enumerate(message.attachments)]
    if message.thread_ts:
        obj["thread_ts"] = message.thread_ts
    return obj


def view_object(ws: Workspace, view: View) -> dict[str, Any]:
    """Slack's view object as views.open/update/publish return it."""
    spec = view.definition
    obj: dict[str, Any] = {
        "id": view.id,
        "team_id": ws.team_id,
        "type": view.type,
        "blocks": spec.get("blocks", []),
        "private_metadata": spec.get("private_metadata", ""),
        "callback_id": spec.get("callback_id", ""),
        "state": {"values": {}},
        "hash": view.hash,
        "clear_on_close": bool(spec.get("clear_on_close", False)),
        "notify_on_close": bool(spec.get("notify_on_close", False)),
        "root_view_id": view.root_view_id,
        "previous_view_id": None,
        "app_id": ws.app.id,
        "external_id": view.external_id,
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.app.bot_id,
    }
    for key in ("title", "submit", "close"):
        if key in spec:
            obj[key] = spec[key]
    return obj
