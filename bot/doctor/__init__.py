"""``helpdesk doctor``: does every credential work, hold what it needs, and no more?

For the configuration, the audit trail, Slack and each configured connector the
doctor runs read-only checks and reports one :class:`~connectors.doctor.Finding`
per aspect: ``ok``, ``warn`` (works, but should change: least privilege,
hygiene), ``fail`` (a capability will not work, or a credential is far stronger
than needed) or ``skip`` (could not or need not be checked).

The package: ``family`` (what a family of checks is), ``registry`` (the families,
one line each: ``config``, ``verification``, ``slack``, ``audit``), ``connectors``
(each connector's area, through its kind's ``diagnose`` in the registry of kinds:
``connectors/okta/doctor.py``...), ``run`` (:func:`diagnose`, and
:func:`connector_health`, the same report for an admin view in Slack, connectors
only, reusing the running bot's connectors), ``report`` (the report, as a table or
JSON) and ``cli`` (:func:`run_doctor`: exit 0 when nothing failed, 1 when something
did, warnings too with ``--strict``, 2 when the doctor could not run).
"""

from bot.doctor.cli import run_doctor
from bot.doctor.report import DoctorReport, render_json, render_table
from bot.doctor.run import DEFAULT_TIMEOUT, connector_health, diagnose

__all__ = [
    "DEFAULT_TIMEOUT",
    "DoctorReport",
    "connector_health",
    "diagnose",
    "render_json",
    "render_table",
    "run_doctor",
]
