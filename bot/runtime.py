"""Everything a running bot needs, built once from the configuration."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from actions.access import (
    AccessNotifier,
    AccessService,
    NullAccessNotifier,
    PeopleDirectory,
    StaticPeople,
)
from actions.providers import Providers
from actions.self_service import Notifier, SelfService
from actions.verification import PushPrompter
from actions.verification.approval import ApprovalVerifier
from bot.conversation import Conversation
from bot.routing import Router, build_router
from config.settings import HelpdeskConfig
from store.db import Store


@dataclass
class Runtime:
    cfg: HelpdeskConfig
    store: Store
    providers: Providers
    service: SelfService
    router: Router
    conversation: Conversation
    access: AccessService

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
    ) -> Runtime:
        environ = os.environ if environ is None else environ
        store = await Store.open(cfg.database_url)
        providers = providers or Providers.from_config(cfg, environ)
        # Without a chat surface approval messages go nowhere (the demo passes its own).
        access = AccessService(
            cfg, providers, store, access_notifier or NullAccessNotifier(), people or StaticPeople()
        )
        # The ``approval`` verification method runs on the access engine.
        service = SelfService(
            cfg, providers, store, notifier, prompter=prompter,
            approval=ApprovalVerifier(cfg, access),
        )
        router = build_router(cfg)
        conversation = Conversation(service, router, store, access)
        return cls(cfg, store, providers, service, router, conversation, access)

    async def aclose(self) -> None:
        await self.providers.aclose()
        await self.store.close()
