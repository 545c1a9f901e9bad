"""OneLogin: every helpdesk role over OneLogin's API v2 (v1 where v2 has no equivalent).

The registry (:mod:`connectors.registry`) reads these four names; importing the
package does no I/O.

- :class:`Settings`: the ``onelogin`` connector block (:mod:`connectors.onelogin.settings`);
- :func:`build`: the connector for one block (:mod:`connectors.onelogin.connector`);
- ``LABEL``: how employees and admins know the system;
- :func:`diagnose`: the doctor's credential-scope check (:mod:`connectors.onelogin.doctor`).

Inside: ``http`` (tokens, retries, rate limits, paging), ``errors`` (statuses mapped
once), ``accounts`` (user records as directory users), ``roles`` (roles as groups),
``expiry`` (which user policy applies), ``privileges`` (delegated administration),
``push`` (OneLogin Protect), ``values`` (status codes, ids, temporary passwords) and
``cache``.
"""

from connectors.onelogin.connector import build
from connectors.onelogin.doctor import diagnose
from connectors.onelogin.settings import Settings

LABEL = "OneLogin"

__all__ = ["LABEL", "Settings", "build", "diagnose"]
