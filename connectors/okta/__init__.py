"""Okta: every helpdesk role over Okta's management API, through the Okta SDK.

The registry (:mod:`connectors.registry`) reads these four names; importing the
package does no I/O.

- :class:`Settings`: the ``okta`` connector block (:mod:`connectors.okta.settings`);
- :func:`build`: the connector for one block (:mod:`connectors.okta.connector`);
- ``LABEL``: how employees and admins know the system;
- :func:`diagnose`: the doctor's least-privilege check (:mod:`connectors.okta.doctor`).

Inside: ``api`` (the SDK client and its one error path), ``http`` and ``pacing``
(retries, rate limits), ``errors`` (Okta's codes mapped once), ``policy``
(password policies), ``expiry`` (which policy governs whom, the expiry sweep),
``push`` (Okta Verify pushes), ``values`` (Okta's answers read as values) and
``privilege`` (what admin roles and scopes grant).
"""

from connectors.okta.connector import build
from connectors.okta.doctor import diagnose
from connectors.okta.settings import Settings

LABEL = "Okta"

__all__ = ["LABEL", "Settings", "build", "diagnose"]
