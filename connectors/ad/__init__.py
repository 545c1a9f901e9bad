"""Active Directory: users, groups, temporary passwords, unlock and expiry over LDAP (ldap3).

The registry (:mod:`connectors.registry`) reads these four names; importing the
package does no I/O.

- :class:`Settings`: the ``ad`` connector block (:mod:`connectors.ad.settings`);
- :func:`build`: the connector for one block (:mod:`connectors.ad.connector`);
- ``LABEL``: how employees and admins know the system;
- :func:`diagnose`: the doctor's delegated-rights check (:mod:`connectors.ad.doctor`).

Inside: ``directory``, ``groups``, ``accounts`` and ``expiry`` (the connector's
parts), ``policy`` (domain password and lockout policy), ``ldap`` and ``ldap3``
(pooled connections, TLS, retries), ``errors`` (LDAP results mapped once),
``values`` (AD's encodings) and, for the doctor, ``acl`` and ``rights``.
"""

from connectors.ad.connector import build
from connectors.ad.doctor import diagnose
from connectors.ad.settings import Settings

LABEL = "Active Directory"

__all__ = ["LABEL", "Settings", "build", "diagnose"]
