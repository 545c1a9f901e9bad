"""``helpdesk doctor``'s notices area: change notices, report links, containment, factor checks.

Read-only, like the rest of the doctor: the SMTP server is connected to, secured and
logged in to, and nothing is sent; Okta credentials are read for their admin roles.

- ``email``: the mail server answers over TLS and accepts the login (a problem when it
  does not: the owner would not hear of changes by a channel independent of Slack);
- ``report links``: ``public_url`` is set (else notices carry no link) and served over
  https, and the signing key is readable and shared by replicas;
- ``containment``: each connector that changes accounts can take ``notices.on_report``'s
  steps, and (Okta) its credential may suspend;
- ``factor verification``: each connector that sends pushes holds a credential that may
  verify factors (Okta: a role with user lifecycle rights and, for a service app, the
  ``okta.users.manage`` scope); otherwise every push fails and the next method applies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from actions.notices.smtp import SmtpMailer
from bot.doctor.family import DoctorContext, Family
from config.secrets import MissingSecret
from config.settings import HelpdeskConfig
from config.verification import VERIFIED_CAPABILITIES, Method
from connectors.base import AccountContainer, Capability, ContainStep, Directory
from connectors.doctor import Finding, Findings

AREA = "notices"
#: Okta roles that may verify users' factors (user lifecycle rights).
VERIFY_ROLES = frozenset({"SUPER_ADMIN", "ORG_ADMIN", "USER_ADMIN", "HELP_DESK_ADMIN"})

Probe = Callable[[SmtpMailer], Awaitable[None]]


async def _probe(mailer: SmtpMailer) -> None:
    await mailer.probe()


async def notice_findings(
    cfg: HelpdeskConfig,
    environ: Mapping[str, str],
    connectors: Mapping[str, Directory | None],
    *,
    probe: Probe = _probe,
) -> list[Finding]:
    """The notices area's findings, in report order."""
    out = Findings(AREA)
    n = cfg.notices
    if not n.enabled:
        out.warn("notices", "off: nobody hears of a change by a channel independent of Slack",
                 fix="set notices.enabled: true and configure notices.smtp")
    else:
        await _email(cfg, environ, out, probe)
        _links(cfg, environ, out)
    await _containment(cfg, connectors, out)
    await _factor_verification(cfg, connectors, out)
    return out.rows


async def _email(cfg: HelpdeskConfig, environ: Mapping[str, str], out: Findings,
                 probe: Probe) -> None:
    smtp = cfg.notices.smtp
    if smtp.host is None:
        out.warn("email", "no notices.smtp.host: changes are announced only in Slack, where "
                 "whoever holds a stolen session reads them too",
                 fix="set notices.smtp (host, port, security, sender)")
        return
    try:
        password = smtp.password.resolve(environ) if smtp.password else None
    except MissingSecret as exc:
        out.fail("email", f"notices.smtp.password: {exc}", fix="provide the SMTP password")
        return
    where = f"{smtp.host}:{smtp.port} ({smtp.security.value})"
    try:
        await probe(SmtpMailer(smtp, password))
    except Exception as exc:  # any failure to connect, secure or log in is the finding
        out.fail("email", f"{where}: {type(exc).__name__}: {exc}",
                 fix="check notices.smtp host, port, security, credentials and ca_file")
        return
    login = f", logged in as {smtp.username}" if smtp.username else ""
    out.ok("email", f"{where} answers over TLS{login} (nothing sent)")


def _links(cfg: HelpdeskConfig, environ: Mapping[str, str], out: Findings) -> None:
    n = cfg.notices
    if n.public_url is None:
        out.warn("report links", "no notices.public_url: notices carry no \"This wasn't me\" "
                 "link, only the IT desk's name", fix="set notices.public_url to the bot's "
                 "public https URL")
    elif n.public_url.startswith("http://"):
        out.warn("report links", f"{n.public_url} is not https: the links travel in the clear",
                 fix="serve the bot behind TLS and use its https:// URL")
    else:
        out.ok("report links", f"{n.public_url}/notices/report, valid {n.link_ttl}, used once")
    ref = n.link_secret or cfg.slack.signing_secret
    where = "notices.link_secret" if n.link_secret else "slack.signing_secret (derived)"
    try:
        ref.resolve(environ)
    except MissingSecret as exc:
        out.warn("link key", f"{where}: {exc}; links would only work in the process that "
                 "made them", fix="set notices.link_secret, the same on every replica")
        return
    out.ok("link key", f"from {where}")


def _changing(cfg: HelpdeskConfig) -> dict[str, list[str]]:
    """Connector name -> the changes it serves (reset, unlock, MFA reset)."""
    found: dict[str, list[str]] = {}
    for label in VERIFIED_CAPABILITIES:
        name = cfg.capabilities.get(label)
        if name:
            found.setdefault(name, []).append(label)
    return found


async def _okta_roles(cfg: HelpdeskConfig, name: str, conn: Directory) -> object | None:
    block = cfg.connectors[name]
    if block.kind != "okta":
        return None
    from connectors.okta.doctor import credential_roles
    from connectors.okta.settings import Settings

    settings = Settings.model_validate(block.options())
    return await credential_roles(conn, settings)


async def _containment(
    cfg: HelpdeskConfig, connectors: Mapping[str, Directory | None], out: Findings
) -> None:
    wanted = [ContainStep(s.value) for s in cfg.notices.on_report]
    for name in _changing(cfg):
        conn = connectors.get(name)
        check = f"containment ({name})"
        if conn is None:
            out.skip(check, "the connector could not be built")
            continue
        if Capability.CONTAIN not in conn.capabilities or not isinstance(conn, AccountContainer):
            out.warn(check, f"{name} can't contain accounts: a report only pages the security "
                     "channel, with the steps to take by hand",
                     fix="route the changes to a connector that can, or staff the channel")
            continue
        missing = [s.value for s in wanted if s not in conn.containment_steps()]
        if missing:
            out.warn(check, f"{name} can't {', '.join(missing)}: left to a person on a report")
            continue
        creds = await _okta_roles(cfg, name, conn)
        roles = getattr(creds, "roles", None)
        if ContainStep.SUSPEND in wanted and creds is not None and roles is not None:
            from connectors.okta.doctor import SUSPEND_ROLES

            if not roles & SUSPEND_ROLES:
                out.warn(check, f"the credential's roles ({', '.join(sorted(roles)) or 'none'}) "
                         "may not suspend users: a report ends the sessions and security is "
                         "asked to suspend by hand",
                         fix="add a custom admin role with okta.users.lifecycle.suspend, or "
                         "drop suspend from notices.on_report")
                continue
        steps = ", ".join(s.value for s in wanted) or "none (security is paged only)"
        out.ok(check, f"on a report: {steps}")


async def _factor_verification(
    cfg: HelpdeskConfig, connectors: Mapping[str, Directory | None], out: Findings
) -> None:
    v = cfg.verification
    pushers: set[str] = set()
    for label, name in _changing_pairs(cfg):
        if Method.PUSH not in v.methods(label):
            continue
        conn = connectors.get(name)
        if conn is not None and Capability.PUSH_VERIFY in conn.capabilities:
            pushers.add(name)
        elif v.verifier:
            pushers.add(v.verifier)
    for name in sorted(pushers):
        conn = connectors.get(name)
        check = f"factor verification ({name})"
        if conn is None:
            out.skip(check, "the connector could not be built")
            continue
        creds = await _okta_roles(cfg, name, conn)
        if creds is None:
            out.skip(check, f"{name}: not an Okta credential, or it could not connect "
                     "(see its own area)")
            continue
        roles = getattr(creds, "roles", None)
        scopes = getattr(creds, "scopes", ())
        problems: list[str] = []
        if getattr(creds, "kind", "") == "service app" and "okta.users.manage" not in scopes:
            problems.append("the service app lacks the okta.users.manage scope")
        if roles is not None and not roles & VERIFY_ROLES:
            problems.append(f"its roles ({', '.join(sorted(roles)) or 'none'}) may not verify "
                            "factors")
        if problems:
            out.fail(check, "pushes would fail, so push never verifies anyone: "
                     + "; ".join(problems), fix="assign HELP_DESK_ADMIN (and grant "
                     "okta.users.manage to a service app)")
        elif roles is None:
            out.warn(check, "the credential's roles could not be read",
                     fix="assign REPORT_ADMIN so the doctor can check them")
        else:
            out.ok(check, f"{name} may send pushes and read their answers")


def _changing_pairs(cfg: HelpdeskConfig) -> list[tuple[str, str]]:
    return [(label, name) for name, labels in _changing(cfg).items() for label in labels]


__all__ = ["AREA", "FAMILY", "VERIFY_ROLES", "notice_findings"]



async def _family_check(ctx: DoctorContext) -> list[Finding]:
    """The family's check: build the connectors it looks at (no I/O), check, close them."""
    from bot.doctor.connectors import build

    names = set(_changing(ctx.cfg)) | ({ctx.cfg.verification.verifier}
                                       if ctx.cfg.verification.verifier else set())
    built = {n: build(n, ctx.cfg, ctx.environ, None) for n in sorted(names)
             if n in ctx.cfg.connectors}
    try:
        return await notice_findings(
            ctx.cfg, ctx.environ, {n: b.conn for n, b in built.items()}
        )
    finally:
        for b in built.values():
            if b.own and b.conn is not None:
                await b.conn.aclose()


#: Registered in ``bot.doctor.registry``: change notices, report links, containment,
#: factor verification.
FAMILY = Family(AREA, "notices", _family_check)
