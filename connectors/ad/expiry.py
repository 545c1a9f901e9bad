"""The password-expiry sweep over Active Directory: one paged search, narrowed on the server.

AD cannot search on the computed expiry time, so the server narrows by
``pwdLastSet`` against the shortest maximum password age it knows (domain and
readable PSOs, or ``shortest_max_password_age``) and each candidate's exact expiry
is read from ``msDS-UserPasswordExpiryTimeComputed``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

from connectors.ad.directory import USER_ATTRIBUTES, AdDirectory
from connectors.ad.policy import DomainPolicy, password_status
from connectors.ad.values import MATCH_BIT_AND, PERSON_FILTER, UAC, datetime_to_filetime
from connectors.base import ExpiringUser


class ExpirySweep(AdDirectory):
    """The ``ExpiryReporter`` sweep: pages of users whose password expires soon."""

    def expiring_filter(self, before: datetime, policy: DomainPolicy) -> str | None:
        """The server-side filter for passwords expiring before ``before``; None if none can.

        pwdLastSet <= before - (shortest maximum age) narrows on the server; the
        exact expiry of each candidate is then read from the computed attribute.
        pwdLastSet>=1 skips must-change accounts; DONT_EXPIRE_PASSWORD (0x10000)
        and disabled (0x2) accounts are excluded with the bitwise AND rule.
        """
        if policy.shortest_max_age is None:
            return None
        cutoff = datetime_to_filetime(before - policy.shortest_max_age)
        if cutoff < 1:
            return None
        return (
            f"(&{PERSON_FILTER}(pwdLastSet>=1)(pwdLastSet<={cutoff})"
            f"(!(userAccountControl:{MATCH_BIT_AND}:={int(UAC.DONT_EXPIRE_PASSWORD)}))"
            f"(!(userAccountControl:{MATCH_BIT_AND}:={int(UAC.ACCOUNTDISABLE)})))"
        )

    async def iter_expiring(self, before: datetime) -> AsyncGenerator[list[ExpiringUser], None]:
        """Yield non-empty pages of users whose password expires before ``before``.

        A paged search (``page_size`` entries per server page) on one connection.
        """
        if before.tzinfo is None:
            raise ValueError("before must be timezone-aware")
        policy = await self.domain_policy()
        flt = self.expiring_filter(before, policy)
        if flt is None:
            return
        pages = self._transport.paged_search(
            self._users_base, flt, USER_ATTRIBUTES, self._settings.page_size
        )
        try:
            async for entries in pages:
                now = self._now()
                page: list[ExpiringUser] = []
                for entry in entries:
                    status = password_status(entry, policy, now)
                    if status.expires_at is not None and status.expires_at < before:
                        page.append(ExpiringUser(self._user(entry, policy), status))
                if page:
                    yield page
        finally:
            await pages.aclose()
