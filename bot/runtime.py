"""Everything a running bot needs, built once from the configuration."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from actions.access import (
    AccessNotifier,
    AccessService,
    NullAccessNotifier,
    PeopleDirectory,
    StaticPeople,
)
from actions.notices import ChangeNotices, DirectMessages, LinkSigner, Mailer, derive_key
from actions.notices.smtp import SmtpMailer
from actions.providers import Providers
from actions.self_service import Notifier, SelfService
from actions.verification import PushPrompter
from actions.verification.approval import ApprovalVerifier
from bot.conversation import Conversation
from bot.routing import Router, build_router
from config.logging import get_logger
from config.secrets import MissingSecret
from config.settings import HelpdeskConfig
from store.db import Store

log = get_logger("helpdesk.runtime")


def _where_to_go(cfg: HelpdeskConfig) -> str:
    return cfg.organisation.where_to_go()


def _link_key(cfg: HelpdeskConfig, environ: Mapping[str, str], given: bytes | None) -> bytes:
    """The "This wasn't me" links' key: ``notices.link_secret``, else the one given (the
    surface's, from the Slack signing secret), else a key for this process only."""
    if cfg.notices.link_secret is not None:
        return derive_key(cfg.notices.link_secret.resolve(environ).reveal())
    if given is not None:
        return given
    try:
        return derive_key(cfg.slack.signing_secret.resolve(environ).reveal())
    except MissingSecret:
        # The demo and tests without Slack: links work until this process ends.
        return secrets.token_bytes(32)


def _mailer(cfg: HelpdeskConfig, environ: Mapping[str, str]) -> Mailer | None:
    smtp = cfg.notices.smtp
    if smtp.host is None:
        return None
    password = smtp.password.resolve(environ) if smtp.password else None
    return SmtpMailer(smtp, password)


@dataclass
class Runtime:
    cfg: HelpdeskConfig
    store: Store
    providers: Providers
    service: SelfService
    router: Router
    conversation: Conversation
    access: AccessService
    notices: ChangeNotices

    @classmethod
    async def start(
        cls,
        cfg: HelpdeskConfig,
        notifier: Notifier,
        environ: Mapping[str, str] | None = None,
        *,
        providers: Providers | None = None,
        access_notifier: AccessNotifier | None = None,
        people: PeopleDirectory | None = None,
        prompter: PushPrompter | None = None,
        notice_chat: DirectMessages | None = None,
        mailer: Mailer | None = None,
        link_key: bytes | None = None,
    ) -> Runtime:
        environ = os.environ if environ is None else environ
        store = await Store.open(cfg.database_url)
        providers = providers or Providers.from_config(cfg, environ)
        dms = notice_chat or (notifier if isinstance(notifier, DirectMessages) else None)
        notices = ChangeNotices(
            cfg.notices, store, providers, notifier,
            LinkSigner(_link_key(cfg, environ, link_key)), dms=dms,
            mailer=mailer if mailer is not None else _mailer(cfg, environ),
            where_to_go=lambda: _where_to_go(cfg), zone=cfg.default_zone,
        )
        # Without a chat surface approval messages go nowhere (the demo passes its own).
        access = AccessService(
            cfg, providers, store, access_notifier or NullAccessNotifier(), people or StaticPeople()
        )
        # The ``approval`` verification method runs on the access engine.
        service = SelfService(
            cfg, providers, store, notifier, prompter=prompter,
            approval=ApprovalVerifier(cfg, access), notices=notices,
        )
        router = build_router(cfg)
        conversation = Conversation(service, router, store, access)
        return cls(cfg, store, providers, service, router, conversation, access, notices)

    async def aclose(self) -> None:
        await self.notices.drain()
        await self.providers.aclose()
        await self.store.close()
