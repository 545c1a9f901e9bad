"""Change notices and the "This wasn't me" report, free of Slack and of SMTP.

After a reset, an unlock or an MFA reset, :meth:`ChangeNotices.changed` sends, in the
background (the employee's answer never waits for a mail server), an email to the
account's primary and secondary addresses and a DM to the employee. Both say what
changed, when, how the request was verified, and carry a "This wasn't me" link
(:mod:`actions.notices.links`): never the reset link or the temporary password.
Each send is audited (``change_notice``: ``sent`` or ``failed``); a failure is also
told to the security channel, and undoes nothing.

The link opens a page (:meth:`page`, a GET: it changes nothing, since mail scanners
follow links) whose button posts to :meth:`report`. A report is accepted once per
change (a one-time claim in the store, shared by replicas), then the account is
contained through its connector (:class:`~connectors.base.AccountContainer`:
``notices.on_report``, the steps the connector and its service account can take),
the result audited (``change_report``) and the security channel paged with what was
done and the exact steps left for a person. Forged, malformed, expired and replayed
links are refused and audited; nothing is done for them.
"""

from __future__ import annotations

import asyncio
import enum
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from actions.audit import Actor, Auditor
from actions.notices.links import BadLink, ChangeClaim, LinkSigner
from actions.notices.ports import DirectMessages, Mailer, SecurityChannel
from actions.providers import Providers
from config.i18n import N_, SOURCE, current, format_skeleton, speaking, t
from config.logging import get_logger
from config.notices import Containment, NoticeSettings
from connectors.base import AccountContainer, Capability, ContainStep, DirectoryUser
from connectors.errors import ConnectorError, PermissionDenied
from store.db import Store

log = get_logger("helpdesk.notices")

#: Audit action of each notice: ``sent``, ``failed`` (alerted) or ``skipped`` (not
#: configured), ``channel`` email or dm.
NOTICE_ACTION = "change_notice"
#: Audit action of a "This wasn't me" report: ``contained``, ``alerted``, ``refused``.
REPORT_ACTION = "change_report"
#: The path of the report page on the bot's HTTP endpoint.
REPORT_PATH = "/notices/report"

#: What each change is called in a notice.
CHANGE_WORDS: dict[str, str] = {
    "password_reset": N_("a password reset was started"),
    "unlock": N_("the account was unlocked"),
    "mfa_reset": N_("every MFA factor was removed"),
}
_SUBJECTS: dict[str, str] = {
    "password_reset": N_("password reset"),
    "unlock": N_("account unlocked"),
    "mfa_reset": N_("MFA factors removed"),
}
#: What a person does for a step the bot could not take, per step (``{who}``: the login).
MANUAL_STEPS: dict[ContainStep, str] = {
    ContainStep.CLEAR_SESSIONS: "end every session of the account (Okta: the user's page, "
    "More Actions > Clear User Sessions; OneLogin: the user's page, More Actions > Log user "
    "out; Active Directory has no central sign-out: once it is disabled, sign {who} off the "
    "computers they use, as Kerberos tickets already issued last until they expire, "
    "10 hours by default)",
    ContainStep.SUSPEND: "suspend the account (Okta: More Actions > Suspend; OneLogin: lock "
    "the user and log them out; Active Directory: disable it, in Active Directory Users and "
    "Computers > the account > Disable Account, or in PowerShell "
    "`Get-ADUser -Filter \"UserPrincipalName -eq '{who}'\" | Disable-ADAccount`)",
    ContainStep.RESET_FACTORS: "reset every MFA factor of the account (Okta: More Actions > "
    "Reset Multifactor)",
}
_DONE_WORDS: dict[ContainStep, str] = {
    ContainStep.CLEAR_SESSIONS: "signed the account out everywhere",
    ContainStep.SUSPEND: "suspended the account",
    ContainStep.RESET_FACTORS: "removed every MFA factor from it",
}


class ReportResult(enum.StrEnum):
    """How a report ended, as the page tells it."""

    CONTAINED = "contained"  # every configured step taken
    PARTLY = "partly"  # some steps taken, the rest left to a person (security paged)
    ALERTED = "alerted"  # nothing could be taken; the security channel has the steps
    ALREADY = "already"  # this change was already reported
    INVALID = "invalid"  # forged or malformed
    EXPIRED = "expired"


@dataclass(frozen=True)
class ReportPage:
    """What the page shows: the change the link is about (GET), or a report's outcome."""

    result: ReportResult | None
    claim: ChangeClaim | None = None
    done: list[ContainStep] = field(default_factory=list)
    where_to_go: str = ""
    system: str = ""
    """How the employee knows the account's system ("Okta")."""


@dataclass(frozen=True)
class Change:
    """One change made to an account, as a notice describes it."""

    actor: Actor
    user: DirectoryUser
    label: str
    capability: Capability
    verified_by: str
    at: datetime
    language: str | None = None
    """The language of the conversation that made the change: the notices are written in it."""


_UTC = ZoneInfo("UTC")


def _when(at: datetime, zone: ZoneInfo = _UTC) -> str:
    """``5 December 2026 at 09:40 CET``: in ``zone``, named (an email is read anywhere)."""
    local = at.astimezone(zone)
    name = local.tzname() or zone.key
    if current() == SOURCE:
        return f"{local.day} {local:%B %Y at %H:%M} {name}"
    day = format_skeleton("yMMMMd", local, zone)
    return t("{date} at {time}", date=day, time=f"{local:%H:%M}") + f" {name}"


def _zone(actor: Actor, default: ZoneInfo) -> ZoneInfo:
    """The employee's Slack time zone, else the organisation's."""
    try:
        return ZoneInfo(actor.tz) if actor.tz else default
    except (ZoneInfoNotFoundError, ValueError):
        return default


class ChangeNotices:
    """Sends change notices and handles "This wasn't me" reports for one deployment."""

    def __init__(
        self,
        settings: NoticeSettings,
        store: Store,
        providers: Providers,
        security: SecurityChannel,
        signer: LinkSigner,
        *,
        dms: DirectMessages | None = None,
        mailer: Mailer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        where_to_go: Callable[[], str] = lambda: "the IT service desk",
        zone: ZoneInfo = _UTC,
    ) -> None:
        self.settings = settings
        self.store = store
        self.auditor = Auditor(store)
        self.providers = providers
        self.security = security
        self.dms = dms
        self.signer = signer
        self.mailer = mailer
        self.clock = clock
        self.where_to_go = where_to_go
        self.zone = zone
        self._tasks: set[asyncio.Task[None]] = set()

    # -- after a change ---------------------------------------------------------
    def link_for(self, change: Change) -> str | None:
        """The signed report link of ``change`` (None without ``notices.public_url``)."""
        if self.settings.public_url is None:
            return None
        claim = self.signer.claim(
            slack_user=change.actor.slack_user_id, provider=change.user.provider,
            user_id=change.user.id, capability=change.capability.label,
            ttl=self.settings.link_ttl,
        )
        return f"{self.settings.public_url}{REPORT_PATH}?t={self.signer.sign(claim)}"

    def changed(self, change: Change) -> None:
        """Send the notices of ``change`` in the background (``drain`` waits for them)."""
        if not self.settings.enabled:
            return
        task = asyncio.create_task(self.send(change))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the notices being sent (tests, a graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def send(self, change: Change) -> None:
        """Send the email and the DM of ``change``; each failure is audited and alerted."""
        link = self.link_for(change)
        await asyncio.gather(self._email(change, link), self._dm(change, link))

    def email_text(self, change: Change, link: str | None) -> tuple[str, str]:
        """The subject and body of the email (no secret of the change is in either)."""
        with speaking(change.language):
            return self._email_text(change, link)

    def _email_text(self, change: Change, link: str | None) -> tuple[str, str]:
        what = t(CHANGE_WORDS.get(change.capability.label, change.capability.label))
        subject = t(
            "Your {label} account: {what}", label=change.label,
            what=t(_SUBJECTS.get(change.capability.label, what)),
        )
        name = change.user.display_name or change.user.login
        zone = _zone(change.actor, self.zone)
        lines = [
            t("Hello {name},", name=name),
            "",
            t(
                "On {at}, {what} for your {label} account ({login}) through the IT helpdesk "
                "bot in Slack (verified by: {verified}).",
                at=_when(change.at, zone), what=what, label=change.label,
                login=change.user.login, verified=t(change.verified_by),
            ),
            "",
            t("If this was you, there is nothing to do."),
            "",
        ]
        if link:
            lines += [
                t("If this wasn't you, open this link and confirm:"),
                link,
                "",
                t(
                    "Your account will be locked down and the security team told at once. "
                    "The link works once, until {until}.",
                    until=_when(change.at + self.settings.link_ttl, zone),
                ),
            ]
        else:
            lines += [t("If this wasn't you, tell {where} at once.", where=self.where_to_go())]
        lines += ["", t("This message was sent automatically; replies are not read.")]
        return subject, "\n".join(lines)

    def dm_text(self, change: Change, link: str | None) -> str:
        with speaking(change.language):
            what = t(CHANGE_WORDS.get(change.capability.label, change.capability.label))
            zone = _zone(change.actor, self.zone)
            head = t(
                "*Security notice*: on {at}, {what} for your {label} account ({login}) "
                "through this bot.",
                at=_when(change.at, zone), what=what, label=change.label,
                login=change.user.login,
            )
            if link:
                return head + " " + t("If that wasn't you: <{link}|This wasn't me>.", link=link)
            return head + " " + t(
                "If that wasn't you, tell {where} at once.", where=self.where_to_go()
            )

    async def _email(self, change: Change, link: str | None) -> None:
        to = change.user.notice_addresses
        if self.mailer is None:
            # Not configured (``helpdesk doctor`` warns): recorded, not an incident each time.
            await self._skipped(change, "email", "no mail server configured")
            return
        if not to:
            await self._failed(change, "email", "no email address in the directory profile")
            return
        subject, text = self.email_text(change, link)
        try:
            await self.mailer.send(to, subject, text)
        except Exception as exc:  # any failure of the mail path: audited, alerted, never raised
            await self._failed(change, "email", type(exc).__name__)
            return
        await self._sent(change, "email", {"recipients": len(to)})

    async def _dm(self, change: Change, link: str | None) -> None:
        if self.dms is None:
            await self._skipped(change, "dm", "no chat surface for direct messages")
            return
        try:
            await self.dms.direct_message(change.actor.slack_user_id, self.dm_text(change, link))
        except Exception as exc:
            await self._failed(change, "dm", type(exc).__name__)
            return
        await self._sent(change, "dm", {})

    async def _sent(self, change: Change, channel: str, extra: dict[str, Any]) -> None:
        await self.auditor.record(
            change.actor, NOTICE_ACTION, "sent", target=change.user,
            detail={"capability": change.capability.label, "channel": channel, **extra},
        )

    async def _skipped(self, change: Change, channel: str, why: str) -> None:
        await self.auditor.record(
            change.actor, NOTICE_ACTION, "skipped", target=change.user,
            detail={"capability": change.capability.label, "channel": channel, "why": why},
        )

    async def _failed(self, change: Change, channel: str, why: str) -> None:
        log.error("change_notice_failed", channel=channel, error=why,
                  capability=change.capability.label)
        await self.auditor.record(
            change.actor, NOTICE_ACTION, "failed", target=change.user,
            detail={"capability": change.capability.label, "channel": channel, "error": why},
        )
        what = change.capability.label.replace("_", " ")
        medium = "email" if channel == "email" else "Slack DM"
        await self._security(
            f"Change notice not sent: the {medium} telling <@{change.actor.slack_user_id}> "
            f"({change.user.login}) about the {what} of their {change.label} account on "
            f"{_when(change.at, self.zone)} failed ({why}). The change stands; please let them "
            "know another way so they can say if it wasn't them."
        )

    async def _security(self, text: str) -> None:
        try:
            await self.security.security_notice(text)
        except Exception as exc:
            log.error("security_notice_failed", error=type(exc).__name__, action=REPORT_ACTION)

    # -- the report page ----------------------------------------------------------
    def _check(self, token: str) -> ChangeClaim | ReportResult:
        try:
            return self.signer.verify(token)
        except BadLink as bad:
            return ReportResult.EXPIRED if bad.reason == "expired" else ReportResult.INVALID

    async def page(self, token: str) -> ReportPage:
        """The GET: what the link is about, or why it can't be used; changes nothing."""
        checked = self._check(token)
        if isinstance(checked, ReportResult):
            return ReportPage(checked, where_to_go=self.where_to_go())
        system = self._system(checked)
        state = await self.store.leases.state(_claim_name(checked))
        if state is not None and state.live:
            return ReportPage(ReportResult.ALREADY, checked, where_to_go=self.where_to_go(),
                              system=system)
        return ReportPage(None, checked, where_to_go=self.where_to_go(), system=system)

    def _system(self, claim: ChangeClaim) -> str:
        conn = self.providers.connectors.get(claim.provider)
        return self.providers.label(conn) if conn is not None else claim.provider

    async def report(self, token: str) -> ReportPage:
        """The POST: accept the report once, contain the account, audit, page security."""
        where = self.where_to_go()
        checked = self._check(token)
        if isinstance(checked, ReportResult):
            await self.auditor.record(
                Actor("anonymous", ""), REPORT_ACTION, "refused",
                detail={"reason": checked.value},
            )
            return ReportPage(checked, where_to_go=where)
        claim = checked
        actor = Actor(claim.slack_user, "")
        ttl = claim.expires_at - self.clock() + timedelta(days=1)
        if not await self.store.leases.take(_claim_name(claim), secrets.token_hex(8), ttl):
            await self.auditor.record(
                actor, REPORT_ACTION, "refused", provider=claim.provider,
                detail={"reason": "replayed", "event": claim.event},
            )
            return ReportPage(ReportResult.ALREADY, claim, where_to_go=where)
        done, left, user, why = await self._contain(claim)
        result = (ReportResult.CONTAINED if not left else
                  ReportResult.PARTLY if done else ReportResult.ALERTED)
        await self.auditor.record(
            actor, REPORT_ACTION, result.value, target=user, provider=claim.provider,
            detail={"event": claim.event, "capability": claim.capability,
                    "done": ",".join(s.value for s in done),
                    "left": ",".join(s.value for s in left), "why": why},
        )
        await self._security(self._page_text(claim, user, done, left, why))
        return ReportPage(result, claim, done, where, self._system(claim))

    async def _contain(
        self, claim: ChangeClaim
    ) -> tuple[list[ContainStep], list[ContainStep], DirectoryUser | None, str]:
        wanted = [ContainStep(step.value) for step in self.settings.on_report
                  if isinstance(step, Containment)]
        conn = self.providers.connectors.get(claim.provider)
        if conn is None:
            return [], wanted, None, "the account's connector is no longer configured"
        try:
            user = await conn.get_user(claim.user_id)
        except ConnectorError as exc:
            return [], wanted, None, f"couldn't read the account ({type(exc).__name__})"
        if not isinstance(conn, AccountContainer) or Capability.CONTAIN not in conn.capabilities:
            label = self.providers.label(conn)
            return [], wanted, user, f"the bot can't contain {label} accounts"
        able = conn.containment_steps()
        done: list[ContainStep] = []
        reasons: list[str] = []
        for step in wanted:
            words = step.value.replace("_", " ")
            if step not in able:
                reasons.append(f"{self.providers.label(conn)} offers the bot no way to {words}")
                continue
            try:
                done += await conn.contain(user, [step])
            except PermissionDenied:
                reasons.append(f"the bot's service account may not {words}")
            except ConnectorError as exc:
                reasons.append(f"{words} failed ({type(exc).__name__})")
        left = [s for s in wanted if s not in done]
        if len(reasons) < len(left):
            reasons.append("not possible for the account in its current state")
        return done, left, user, "; ".join(reasons)

    def _page_text(
        self, claim: ChangeClaim, user: DirectoryUser | None, done: Sequence[ContainStep],
        left: Sequence[ContainStep], why: str,
    ) -> str:
        what = claim.capability.replace("_", " ")
        who = user.login if user else claim.user_id
        text = (f":rotating_light: <@{claim.slack_user}> reports that the {what} of their "
                f"{self._system(claim)} account {who} through the helpdesk bot wasn't them: "
                "treat it as an account takeover.")
        if done:
            text += " Done: " + "; ".join(_DONE_WORDS[s] for s in done) + "."
        if left:
            text += (f" Not done ({why}), please do it now: "
                     + "; ".join(MANUAL_STEPS[s].format(who=who) for s in left) + ".")
        return text + " Then contact them by phone or in person, not over Slack."


def _claim_name(claim: ChangeClaim) -> str:
    return f"change-report:{claim.event}"


__all__ = [
    "CHANGE_WORDS",
    "NOTICE_ACTION",
    "REPORT_ACTION",
    "REPORT_PATH",
    "Change",
    "ChangeNotices",
    "ReportPage",
    "ReportResult",
]
