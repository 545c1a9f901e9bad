"""Group membership in Active Directory: find a group, read and change its ``member``.

Membership calls are idempotent (an existing member is ``ALREADY_MEMBER``, a
non-member ``NOT_MEMBER``), change direct membership only, and refuse protected
groups (adminCount=1, or a configured protected group).
"""

from __future__ import annotations

from config.logging import get_logger
from connectors.ad.directory import GROUP_ATTRIBUTES, AdDirectory
from connectors.ad.errors import error_from_result
from connectors.ad.ldap import Conn, modify, search
from connectors.ad.ldap3 import ldap3
from connectors.ad.values import GROUP_FILTER, Entry, escape, guid_to_str, looks_like_dn
from connectors.base import DirectoryGroup, DirectoryUser, MembershipChange
from connectors.errors import (
    ConnectorError,
    GroupNotFound,
    OutcomeUnknown,
    PermissionDenied,
    Unavailable,
)

log = get_logger("connectors.ad")


class GroupOperations(AdDirectory):
    """The ``GroupManager`` role over AD groups."""

    async def find_group(self, name: str) -> DirectoryGroup:
        """The group whose sAMAccountName or cn (or DN) is ``name``."""
        value = name.strip()
        if not value:
            raise GroupNotFound(self.name, "no group with an empty name")
        v = escape(value)
        match = (
            f"(distinguishedName={v})"
            if looks_like_dn(value)
            else (f"(|(sAMAccountName={v})(cn={v}))")
        )
        flt = f"(&{GROUP_FILTER}{match})"
        found = await self._transport.run(
            "find group",
            lambda c: search(
                c,
                self.name,
                "find group",
                self._groups_base,
                flt,
                GROUP_ATTRIBUTES,
                size_limit=2,
                missing=GroupNotFound,
            ),
        )
        if not found:
            raise GroupNotFound(self.name, f"no group named {value!r}")
        if len(found) > 1:
            raise GroupNotFound(self.name, f"more than one group named {value!r}", code="ambiguous")
        return self._group(found[0])

    def _group(self, entry: Entry) -> DirectoryGroup:
        guid = entry.first("objectGUID")
        assert guid is not None
        return DirectoryGroup(
            provider=self.name,
            id=guid_to_str(guid),
            name=entry.text("sAMAccountName") or entry.text("cn"),
            description=entry.text("description"),
        )

    def _is_direct_member(self, conn: Conn, group_dn: str, user_dn: str) -> bool:
        found = search(
            conn,
            self.name,
            "check membership",
            group_dn,
            f"(member={escape(user_dn)})",
            ["1.1"],
            scope=ldap3.BASE,
            missing=GroupNotFound,
        )
        return bool(found)

    async def is_member(self, user: DirectoryUser, group: DirectoryGroup) -> bool:
        """Direct membership (the kind ``add_to_group``/``remove_from_group`` change)."""
        user_entry = await self._user_entry(user.id)
        group_entry = await self._group_entry(group.id)
        return await self._transport.run(
            "check membership",
            lambda c: self._is_direct_member(c, group_entry.dn, user_entry.dn),
        )

    async def _settle(
        self,
        user: DirectoryUser,
        group: DirectoryGroup,
        lost: OutcomeUnknown,
        done: MembershipChange,
        *,
        wanted: bool,
    ) -> MembershipChange:
        """Every answer to a membership change was lost: re-read ``member`` to learn the
        outcome (``done``, or a plain ``Unavailable``: nothing was changed)."""
        try:
            member = await self.is_member(user, group)
        except ConnectorError:
            raise lost from None  # still unknown
        if member is wanted:
            return done
        raise Unavailable(self.name, lost.message, code=lost.code)

    async def _guard_group(self, group_entry: Entry) -> None:
        reasons = await self._protection(group_entry, self._settings.protected_groups)
        if reasons:
            raise PermissionDenied(
                self.name,
                f"refusing to change membership of protected group {group_entry.dn}: "
                + "; ".join(map(str, reasons)),
                code="protected_group",
            )

    async def add_to_group(self, user: DirectoryUser, group: DirectoryGroup) -> MembershipChange:
        """Add ``user`` to the group's ``member``; an existing member is ``ALREADY_MEMBER``."""
        user_entry = await self._user_entry(user.id)
        group_entry = await self._group_entry(group.id)
        await self._guard_group(group_entry)

        sent: list[bool] = []  # an earlier attempt's modify, whose answer was lost

        def add(conn: Conn) -> MembershipChange:
            if self._is_direct_member(conn, group_entry.dn, user_entry.dn):
                return MembershipChange.ADDED if sent else MembershipChange.ALREADY_MEMBER
            sent.append(True)
            ok, result = modify(
                conn, group_entry.dn, {"member": [(ldap3.MODIFY_ADD, [user_entry.dn])]}
            )
            if ok:
                return MembershipChange.ADDED
            # A concurrent add: AD answers entryAlreadyExists (Samba too), some servers
            # attributeOrValueExists.
            if result.get("description") in ("entryAlreadyExists", "attributeOrValueExists"):
                return MembershipChange.ALREADY_MEMBER
            raise error_from_result(self.name, "add member", result, missing=GroupNotFound)

        try:
            change = await self._transport.run("add member", add, writes=True)
        except OutcomeUnknown as exc:
            change = await self._settle(user, group, exc, MembershipChange.ADDED, wanted=True)
        log.info(
            "ad.membership",
            provider=self.name,
            user_id=user.id,
            group_id=group.id,
            change=change.value,
        )
        return change

    async def remove_from_group(
        self, user: DirectoryUser, group: DirectoryGroup
    ) -> MembershipChange:
        """Remove ``user`` from the group's ``member``; a non-member is ``NOT_MEMBER``."""
        user_entry = await self._user_entry(user.id)
        group_entry = await self._group_entry(group.id)
        await self._guard_group(group_entry)

        sent: list[bool] = []  # an earlier attempt's modify, whose answer was lost

        def remove(conn: Conn) -> MembershipChange:
            if not self._is_direct_member(conn, group_entry.dn, user_entry.dn):
                return MembershipChange.REMOVED if sent else MembershipChange.NOT_MEMBER
            sent.append(True)
            ok, result = modify(
                conn, group_entry.dn, {"member": [(ldap3.MODIFY_DELETE, [user_entry.dn])]}
            )
            if ok:
                return MembershipChange.REMOVED
            # Removing a value that is not there: AD answers unwillingToPerform
            # (ERROR_MEMBER_NOT_IN_ALIAS), other servers noSuchAttribute. Only a
            # re-check tells a concurrent removal from a real refusal.
            if result.get("description") in ("unwillingToPerform", "noSuchAttribute") and (
                not self._is_direct_member(conn, group_entry.dn, user_entry.dn)
            ):
                return MembershipChange.NOT_MEMBER
            raise error_from_result(self.name, "remove member", result, missing=GroupNotFound)

        try:
            change = await self._transport.run("remove member", remove, writes=True)
        except OutcomeUnknown as exc:
            change = await self._settle(user, group, exc, MembershipChange.REMOVED, wanted=False)
        log.info(
            "ad.membership",
            provider=self.name,
            user_id=user.id,
            group_id=group.id,
            change=change.value,
        )
        return change
