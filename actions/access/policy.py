"""Who may approve a request, where the approval message goes, and how many must agree.

A catalogue entry's ``approvers`` are resolved when the request is made, for that
request: named users; the members of user groups; the requester's manager (found
through a directory attribute, then in chat by email); channels, which decide
nothing but show the message. ``approvals_required`` distinct people must approve,
and the requester is never one of them, even when they are in an approvers' group.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.access.ports import PeopleDirectory
from config.logging import get_logger
from config.settings import AccessSettings, ApproverKind, CatalogueEntry, approver_kind
from connectors.base import Directory, DirectoryUser
from connectors.errors import ConnectorError, Unavailable, UserNotFound

log = get_logger("helpdesk.access")


@dataclass(frozen=True)
class Approvers:
    """Resolved approvers: who may decide, who gets a DM, which channels show the request."""

    deciders: frozenset[str]
    direct: tuple[str, ...]
    channels: tuple[str, ...]

    def eligible(self, requester: str) -> frozenset[str]:
        """Who may decide this requester's request: every decider but themselves."""
        return self.deciders - {requester}

    def destinations(self, requester: str) -> list[str]:
        """Where the approval message is posted: DMs (never the requester's), then channels."""
        return [d for d in self.direct if d != requester] + list(self.channels)


class ApprovalPolicy:
    """Resolves an entry's approvers and says whether a request has enough of them."""

    def __init__(self, settings: AccessSettings, people: PeopleDirectory) -> None:
        self.settings = settings
        self.people = people

    def required(self, entry: CatalogueEntry) -> int:
        """How many distinct people must approve (none when it is approved automatically)."""
        return 0 if entry.auto_approve else entry.approvals_required

    def enough(self, entry: CatalogueEntry, approvers: Approvers, requester: str) -> bool:
        """Whether enough people other than the requester may approve."""
        return len(approvers.eligible(requester)) >= self.required(entry)

    async def approvers(
        self, entry: CatalogueEntry, user: DirectoryUser, directory: Directory
    ) -> Approvers:
        """Resolve the entry's approvers to chat users and channels, now, for ``user``."""
        deciders: set[str] = set()
        direct: list[str] = []
        channels: list[str] = []
        for item in entry.approvers:
            kind = approver_kind(item)
            if kind is ApproverKind.USER:
                deciders.add(item)
                direct.append(item)
            elif kind is ApproverKind.USERGROUP:
                members = await self.people.usergroup_members(item)
                if not members:
                    log.warning("approver_group_empty", group=entry.key, usergroup=item)
                deciders.update(members)
                # With a channel listed, the group sees the request there; else by DM.
                if not entry.approvers_of(ApproverKind.CHANNEL):
                    direct.extend(members)
            elif kind is ApproverKind.MANAGER:
                manager = await self.manager(user, directory)
                if manager is not None:
                    deciders.add(manager)
                    direct.append(manager)
            else:
                channels.append(item)
        return Approvers(frozenset(deciders), tuple(dict.fromkeys(direct)), tuple(channels))

    async def manager(self, user: DirectoryUser, directory: Directory) -> str | None:
        """The requester's manager in chat, from the first manager attribute that is set."""
        attributes = user.attributes
        value = next(
            (attributes[a] for a in self.settings.manager_attributes if attributes.get(a)), None
        )
        if not value:
            log.info("manager_unknown", reason="no manager attribute", user_id=user.id)
            return None
        email = value if "@" in value else None
        if email is None:
            try:
                email = (await directory.get_user(value)).email
            except (UserNotFound, Unavailable):
                log.info("manager_unknown", reason="manager not found", user_id=user.id)
                return None
            except ConnectorError:
                # Some directories hold a reference the connector can't look up (an AD DN).
                log.info("manager_unknown", reason="unresolvable reference", user_id=user.id)
                return None
        return await self.people.user_for_email(email)


def is_channel(destination: str) -> bool:
    """Whether an approval message destination is a channel (else a user's DM)."""
    return approver_kind(destination) is ApproverKind.CHANNEL
