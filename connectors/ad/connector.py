"""Active Directory connector (ldap3): find people, groups, temporary passwords, unlock, expiry.

Talks LDAP over TLS (ldaps:// or ldap:// with StartTLS) as a delegated service
account; certificates are verified by default. Users are keyed by objectGUID
(string form). AD has no MFA of its own and no reset links, so the connector
implements neither: ``MfaResetter`` is absent and a LINK reset is
``NotSupported`` (configure ``password_reset.delivery: temp_password``).

Accounts with ``adminCount=1`` or in a protected group (nested membership
included) are reported by ``protections``, and the connector refuses to
reset or unlock them itself as a second line of defence.

The connector is assembled from its parts: lookups and the protected-account
check (:mod:`~connectors.ad.directory`), group membership
(:mod:`~connectors.ad.groups`), passwords and unlock (:mod:`~connectors.ad.accounts`),
the expiry sweep (:mod:`~connectors.ad.expiry`) and disabling an account reported
as taken over (:mod:`~connectors.ad.containment`), over one LDAP transport
(:mod:`~connectors.ad.ldap`) and one error map (:mod:`~connectors.ad.errors`).
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.ad.accounts import AccountOperations
from connectors.ad.containment import AccountContainment
from connectors.ad.expiry import ExpirySweep
from connectors.ad.groups import GroupOperations
from connectors.ad.settings import Settings
from connectors.base import Capability


class ActiveDirectoryConnector(
    GroupOperations, AccountOperations, ExpirySweep, AccountContainment
):
    """Directory, GroupManager, PasswordResetter (temporary passwords), Unlocker,
    ExpiryReporter, AccountContainer (disable)."""

    capabilities = (
        Capability.GROUPS
        | Capability.PASSWORD_RESET
        | Capability.UNLOCK
        | Capability.PASSWORD_EXPIRY
        | Capability.CONTAIN
    )


def build(name: str, settings: Settings, environ: Mapping[str, str]) -> ActiveDirectoryConnector:
    """Resolve the bind password and make the connector (no connection until first use)."""
    return ActiveDirectoryConnector(name, settings, settings.bind_password.resolve(environ))
