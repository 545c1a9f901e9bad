"""The only upward flow of the access workflow: messages out, and who people are in chat.

``AccessNotifier`` posts approval messages, updates them in place, reminds and
tells the requester; ``PeopleDirectory`` reads chat user groups and finds users by
email. The Slack surface implements both (``bot.slack.app``); the null and static
versions here serve the demo and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from actions.access.model import AccessSnapshot, Event


@dataclass(frozen=True)
class MessageRef:
    """Where a posted message lives, so it can be updated in place."""

    channel: str
    ts: str
    #: Already kept with its request by the notifier (its outbox did, on delivery).
    kept: bool = False


class AccessNotifier(Protocol):
    async def post_request(
        self, snapshot: AccessSnapshot, destination: str
    ) -> MessageRef | None:
        """Post the approval request, with Approve and Deny, to a user's DM or a channel.

        Returns where it was posted, for the caller to keep unless ``kept``; None when it
        is stored to be sent later, the notifier then keeping where it lands (a durable
        outbox sending it until Slack has it).
        """
        ...

    async def update_request(self, snapshot: AccessSnapshot, ref: MessageRef) -> None:
        """Replace an approval message with the request's current state."""
        ...

    async def remind(
        self, snapshot: AccessSnapshot, ref: MessageRef, recipient: str | None
    ) -> None:
        """Remind an approver (``recipient``) or a channel (``None``) of a waiting request."""
        ...

    async def tell_requester(self, snapshot: AccessSnapshot, event: Event) -> None:
        """Tell the requester what happened to their request."""
        ...

    async def security_notice(self, text: str) -> None:
        """Tell the security team about something a person must look at."""
        ...


class PeopleDirectory(Protocol):
    async def usergroup_members(self, usergroup: str) -> list[str]:
        """Slack user ids in a user group (``S123`` or ``@handle``); empty if unknown."""
        ...

    async def user_for_email(self, email: str) -> str | None:
        """The active Slack user with this email, if any."""
        ...


@dataclass
class NullAccessNotifier:
    """Records what would have been sent; where no chat surface is attached (the demo, tests)."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    async def post_request(self, snapshot: AccessSnapshot, destination: str) -> MessageRef:
        self.sent.append(("post", snapshot.request.id, destination))
        return MessageRef(destination, f"{len(self.sent)}.000000")

    async def update_request(self, snapshot: AccessSnapshot, ref: MessageRef) -> None:
        self.sent.append(("update", snapshot.request.id, snapshot.request.state))

    async def remind(
        self, snapshot: AccessSnapshot, ref: MessageRef, recipient: str | None
    ) -> None:
        self.sent.append(("remind", snapshot.request.id, recipient or ref.channel))

    async def tell_requester(self, snapshot: AccessSnapshot, event: Event) -> None:
        self.sent.append(("tell", snapshot.request.id, event.value))

    async def security_notice(self, text: str) -> None:
        self.sent.append(("security", "", text))


@dataclass
class StaticPeople:
    """A fixed user-group and email table (tests, the demo)."""

    groups: dict[str, list[str]] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)

    async def usergroup_members(self, usergroup: str) -> list[str]:
        return list(self.groups.get(usergroup, []))

    async def user_for_email(self, email: str) -> str | None:
        return self.emails.get(email.lower())


__all__ = [
    "AccessNotifier",
    "MessageRef",
    "NullAccessNotifier",
    "PeopleDirectory",
    "StaticPeople",
]
