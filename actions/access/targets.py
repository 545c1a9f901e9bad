"""Where a requestable group lives: its connector (as a group manager) and its label.

A catalogue entry names its connector, or leaves it to the ``groups`` capability's
route; a job names the connector the request was made against. Both end here, as a
:class:`GroupTarget`, or as a :class:`Refusal` the employee can act on.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, cast

from actions.errors import Refusal, connector_call, unavailable
from actions.providers import Providers
from config.i18n import t
from config.settings import CatalogueEntry, HelpdeskConfig
from connectors.base import Capability, Directory, GroupManager
from connectors.errors import GroupNotFound, Unavailable


@dataclass
class GroupTarget:
    """A connector that manages groups, seen both as a directory and as a group manager."""

    connector: Directory
    groups: GroupManager
    label: str


class Targets:
    """Group targets of one deployment, and the refusals that go with them."""

    def __init__(self, cfg: HelpdeskConfig, providers: Providers) -> None:
        self.cfg = cfg
        self.providers = providers

    def where_to_go(self) -> str:
        """Who to ask instead: the IT contact, channel and portal."""
        return self.cfg.organisation.where_to_go()

    def _of(self, name: str) -> GroupTarget | None:
        conn = self.providers.connectors.get(name)
        if conn is None or Capability.GROUPS not in conn.capabilities:
            return None
        return GroupTarget(conn, cast(GroupManager, conn), self.providers.label(conn))

    def for_entry_or_none(self, entry: CatalogueEntry) -> GroupTarget | None:
        """The entry's connector, if one that manages groups is configured."""
        return self._of(entry.provider or self.providers.routes.get(Capability.GROUPS) or "")

    def for_entry(self, entry: CatalogueEntry) -> GroupTarget:
        """The entry's connector; ``Refusal`` when none can handle it here."""
        target = self.for_entry_or_none(entry)
        if target is None:
            raise Refusal(
                "not_available",
                t(
                    "I can't handle requests for {group} here. Please ask {where}.",
                    group=entry.display_name, where=self.where_to_go(),
                ),
            )
        return target

    def for_provider(self, provider: str) -> GroupTarget:
        """The connector a request was made against; ``GroupNotFound`` when it is gone."""
        target = self._of(provider)
        if target is None:
            raise GroupNotFound(provider, "no groups connector of that name is configured")
        return target

    def unavailable(self, label: str) -> Refusal:
        return unavailable(label)

    async def call(self, target: GroupTarget, pending: Awaitable[Any]) -> Any:
        """Await a directory call; an outage becomes the ``unavailable`` refusal."""
        async with connector_call(target.label, self.where_to_go(), catch=Unavailable):
            return await pending
