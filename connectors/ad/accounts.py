"""Account operations in Active Directory: temporary passwords, unlock, password status.

Both changes refuse protected accounts themselves (adminCount=1, or a member of a
protected group, nested or primary), as a second line of defence behind the
helpdesk's own check.
"""

from __future__ import annotations

from typing import Any

from config.logging import get_logger
from config.secrets import Secret
from connectors.ad.directory import AdDirectory
from connectors.ad.errors import error_from_result
from connectors.ad.ldap import Conn, modify
from connectors.ad.ldap3 import ldap3
from connectors.ad.policy import is_locked, password_status
from connectors.ad.values import UAC, forbidden_tokens, generate_temp_password
from connectors.base import (
    DirectoryUser,
    PasswordResetGrant,
    PasswordStatus,
    ResetDelivery,
    UnlockResult,
)
from connectors.errors import InvalidState, NotSupported

log = get_logger("connectors.ad")


class AccountOperations(AdDirectory):
    """The ``PasswordResetter`` (temporary passwords only) and ``Unlocker`` roles."""

    async def start_password_reset(
        self, user: DirectoryUser, delivery: ResetDelivery
    ) -> PasswordResetGrant:
        """Set a generated temporary password (unicodePwd) and pwdLastSet=0 in one modify.

        Only ``TEMP_PASSWORD``: AD has no reset links, and falling back silently would
        hand a password to a flow that expected a link. The password meets the domain
        policy (at least minPwdLength, all four character classes, no part of the
        account's names); a refusal by a stricter policy (a PSO, a password filter)
        is ``PolicyRejected`` with a message safe to show.
        """
        if delivery is not ResetDelivery.TEMP_PASSWORD:
            raise NotSupported(
                self.name,
                "Active Directory cannot send reset links; configure "
                "password_reset.delivery: temp_password for this connector",
                code="link_unsupported",
            )
        entry = await self._user_entry(user.id)
        await self._refuse_if_protected(entry, "reset the password of")
        uac = entry.integer("userAccountControl") or 0
        if uac & UAC.ACCOUNTDISABLE:
            raise InvalidState(self.name, f"user {user.id} is disabled", code="disabled")
        policy = await self.domain_policy()
        length = max(self._settings.temp_password_length, policy.min_pwd_length)
        banned = forbidden_tokens(entry.text("sAMAccountName"), entry.text("displayName"))
        secret = Secret(generate_temp_password(length, banned))
        # unicodePwd takes the password in double quotes, UTF-16LE, over an encrypted
        # connection; a single replace is an administrative reset.
        # https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/change-windows-active-directory-user-password
        changes: dict[str, list[tuple[str, list[Any]]]] = {
            "unicodePwd": [(ldap3.MODIFY_REPLACE, [f'"{secret.reveal()}"'.encode("utf-16-le")])],
            "pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0"])],
        }

        def reset(conn: Conn) -> None:
            ok, result = modify(conn, entry.dn, changes)
            if not ok:
                raise error_from_result(
                    self.name,
                    "reset password",
                    result,
                    password_change=True,
                    secrets=[secret.reveal()],
                )

        try:
            await self._transport.run("reset password", reset, idempotent=False)
        finally:
            changes.clear()
        # DONT_EXPIRE_PASSWORD overrides "must change at next logon": say so honestly.
        must_change = not uac & UAC.DONT_EXPIRE_PASSWORD
        if not must_change:
            log.warning("ad.reset_without_forced_change", provider=self.name, user_id=user.id)
        log.info("ad.password_reset", provider=self.name, user_id=user.id)
        return PasswordResetGrant(
            ResetDelivery.TEMP_PASSWORD, secret, None, must_change_at_next_login=must_change
        )

    # -- Unlocker ------------------------------------------------------------
    async def unlock(self, user: DirectoryUser) -> UnlockResult:
        """Write lockoutTime=0, only when the account is locked out now."""
        entry = await self._user_entry(user.id)
        await self._refuse_if_protected(entry, "unlock")
        policy = await self.domain_policy()
        if not is_locked(entry, policy, self._now()):
            return UnlockResult.NOT_LOCKED

        def clear(conn: Conn) -> None:
            ok, result = modify(conn, entry.dn, {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]})
            if not ok:
                raise error_from_result(self.name, "unlock", result)

        # Replaying lockoutTime=0 is harmless, so a lost answer is retried; when every
        # attempt's answer is lost the outcome is unknown (the caller re-reads lockoutTime).
        await self._transport.run("unlock", clear, writes=True)
        log.info("ad.unlock", provider=self.name, user_id=user.id)
        return UnlockResult.UNLOCKED

    # -- ExpiryReporter (one account) -----------------------------------------
    async def password_status(self, user: DirectoryUser) -> PasswordStatus:
        entry = await self._user_entry(user.id)
        return password_status(entry, await self.domain_policy(), self._now())
