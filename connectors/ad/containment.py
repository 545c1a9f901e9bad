"""Containing an Active Directory account reported as taken over: disable it.

AD has no session to end from LDAP and no MFA of its own, so the one step the
connector takes is ``SUSPEND``: set ACCOUNTDISABLE in ``userAccountControl``
(https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/useraccountcontrol-manipulate-account-properties).
A disabled account can no longer sign in or get new Kerberos tickets; tickets
already issued run until they expire, which is why the security channel is still
asked to sign the user off their machines (``CLEAR_SESSIONS`` is left to a person).

The service account needs "Write userAccountControl" on the users' OU (Delegate
Control > "Read and write Account Restrictions", or dsacls ``WP;userAccountControl``).
Without it the modify is refused with ``insufficientAccessRights``:
:class:`~connectors.errors.PermissionDenied`, and the report pages security with the
manual steps. Only the ACCOUNTDISABLE bit is ever changed; every other flag is written
back as it was read.
"""

from __future__ import annotations

from collections.abc import Sequence

from config.logging import get_logger
from connectors.ad.directory import AdDirectory
from connectors.ad.errors import error_from_result
from connectors.ad.ldap import Conn, modify
from connectors.ad.ldap3 import ldap3
from connectors.ad.values import UAC
from connectors.base import ContainStep, DirectoryUser
from connectors.errors import ConnectorError, PermissionDenied

log = get_logger("connectors.ad")

_STEPS = frozenset({ContainStep.SUSPEND})


class AccountContainment(AdDirectory):
    """The ``AccountContainer`` role: disabling the account is the step AD offers."""

    def containment_steps(self) -> frozenset[ContainStep]:
        return _STEPS

    async def contain(
        self, user: DirectoryUser, steps: Sequence[ContainStep]
    ) -> list[ContainStep]:
        """Disable the account for ``SUSPEND``; other steps are not done (not returned).

        An account already disabled counts as done. The modify deletes the value read
        and adds the new one, so it fails rather than overwrite a concurrent change of
        another flag. When its answer is lost, the account is read again: disabled is done.
        """
        done: list[ContainStep] = []
        for step in steps:
            if step in _STEPS:
                await self._disable(user)
                log.info("ad.contained", provider=self.name, user_id=user.id, step=step.value)
                done.append(step)
        return done

    async def _disable(self, user: DirectoryUser) -> None:
        entry = await self._user_entry(user.id)
        uac = entry.integer("userAccountControl") or 0
        if uac & UAC.ACCOUNTDISABLE:
            return
        changes = {"userAccountControl": [
            (ldap3.MODIFY_DELETE, [str(uac)]),
            (ldap3.MODIFY_ADD, [str(uac | UAC.ACCOUNTDISABLE)]),
        ]}

        def disable(conn: Conn) -> None:
            ok, result = modify(conn, entry.dn, changes)
            if not ok:
                raise error_from_result(self.name, "disable account", result)

        try:
            await self._transport.run("disable account", disable, idempotent=False)
        except PermissionDenied:
            raise
        except ConnectorError as exc:
            # The answer may be what was lost, after the DC applied the change: ask it.
            try:
                again = await self._user_entry(user.id)
            except ConnectorError:
                raise exc from None
            if not (again.integer("userAccountControl") or 0) & UAC.ACCOUNTDISABLE:
                raise
            log.warning("ad.disable_answer_lost", provider=self.name, user_id=user.id)
