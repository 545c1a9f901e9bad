"""Verification in words: the push and its number; an identity check's card and news."""

from __future__ import annotations

from actions.access import AccessSnapshot, Event, RequestState
from bot.replies import ActionId, Button, Reply
from bot.routing import Intent
from bot.views.text import escape, when
from config.i18n import N_, current, t, tn
from connectors.base import PushChallenge
from store.models import AccessRequest


def push_prompt(challenge: PushChallenge, label: str) -> Reply:
    """The DM sent with a push: which device, and the number to pick there."""
    device = f"{label} Verify" if label in {"Okta"} else label
    if challenge.number is not None:
        return Reply(
            t(
                "Before I change anything I need to check it's you: I sent a push to {device} "
                "on your phone. Open it and pick *{number}*. If you didn't ask for this, deny "
                "it and the security team will be told.",
                device=device, number=challenge.number,
            )
        )
    return Reply(
        t(
            "Before I change anything I need to check it's you: I sent a push to {device} on "
            "your phone. Approve it there. If you didn't ask for this, deny it.",
            device=device,
        )
    )




# -- identity checks (the ``approval`` method): the approvers' card and the employee's news --
_INTENT_OF_CHECK: dict[str, Intent] = {
    "password_reset": Intent.PASSWORD_RESET,
    "unlock": Intent.ACCOUNT_UNLOCK,
    "mfa_reset": Intent.MFA_RESET,
}
_GO_AHEAD: dict[str, str] = {
    "password_reset": N_("Reset my password"),
    "unlock": N_("Unlock my account"),
    "mfa_reset": N_("Reset my MFA"),
}


def _first_name(snap: AccessSnapshot) -> str:
    return f"<@{snap.request.requester}>"


def identity_card(snap: AccessSnapshot) -> Reply:
    """The approvers' card of an identity check: who asks for what, and what to confirm."""
    req = snap.request
    who = _first_name(snap)
    text = t(
        "*Identity check*: {who} ({email}) asks for: {what} ({provider}). Confirm "
        "you verified it is them, e.g. on a video call, before you approve: whoever holds "
        "their Slack session could be asking.",
        who=who, email=req.requester_email, what=t(req.group_name), provider=req.provider,
    ) + f"\n{identity_status(snap)}"
    fields = [
        (t("Reason, in their words"), escape(req.justification or t("Not given"))),
        (t("Approvals needed"), str(req.approvals_required)),
        (t("Requested"), when(req.created_at)),
        (t("Expires"), when(req.expires_at)),
    ]
    buttons: list[Button] = []
    if req.state == RequestState.PENDING:
        buttons = [
            Button(
                t("I verified it's them: approve"), ActionId.ACCESS_APPROVE, req.id, "primary"
            ),
            Button(t("Deny"), ActionId.ACCESS_DENY, req.id, "danger"),
        ]
    return Reply(text, buttons, fields=tuple(fields))


def identity_status(snap: AccessSnapshot) -> str:
    req = snap.request
    approved = ", ".join(f"<@{u}>" for u in snap.approved_by)
    if req.state == RequestState.PENDING:
        if snap.approved_by:
            return t(
                "Confirmed by {who} ({done} of {needed}); waiting for another approver.",
                who=approved, done=req.approvals, needed=req.approvals_required,
            )
        return t("Waiting for a decision.")
    if req.state in (RequestState.APPROVED, RequestState.FULFILLED):
        return t("Confirmed by {who}.", who=approved or t("the approvers"))
    if req.state == RequestState.REVOKED:
        return t("Confirmed by {who}; the change was made.", who=approved or t("the approvers"))
    if req.state == RequestState.DENIED:
        return t(
            "Denied by <@{decider}>: {reason}",
            decider=req.decided_by, reason=escape(req.reason or t("no reason given")),
        )
    if req.state == RequestState.EXPIRED:
        return t("Expired: nobody decided in time.")
    if req.state == RequestState.CANCELLED:
        return t("Cancelled by the requester.")
    return str(req.state)


def identity_news(snap: AccessSnapshot, event: Event) -> Reply:
    """What the employee is told about their identity check."""
    req = snap.request
    check = req.provider_group
    name = t(req.group_name)
    if event is Event.FULFILLED:
        intent = _INTENT_OF_CHECK.get(check)
        buttons = (
            [Button(t(_GO_AHEAD[check]), ActionId.START, f"{intent.value}:{current()}",
                    "primary")]
            if intent
            else []
        )
        by = ", ".join(f"<@{u}>" for u in snap.approved_by) or t("an approver")
        return Reply(
            t("{who} confirmed it's you. You can go ahead with your {name} now.",
              who=by, name=name),
            buttons,
        )
    if event is Event.APPROVAL_RECORDED:
        return Reply(
            tn(
                "One person confirmed it's you; your {name} needs {count} more.",
                "One person confirmed it's you; your {name} needs {count} more.",
                req.approvals_required - req.approvals, name=name,
            )
        )
    if event is Event.DENIED:
        return Reply(
            t(
                "Your {name} wasn't confirmed: <@{decider}> denied it ({reason}). "
                "Nothing was changed.",
                name=name, decider=req.decided_by,
                reason=escape(req.reason or t("no reason given")),
            )
        )
    if event is Event.EXPIRED:
        return Reply(
            t("Nobody confirmed your {name} in time, so nothing was changed. You can ask again.",
              name=name)
        )
    if event is Event.REMINDED:
        return Reply(
            t("Your {name} is still waiting for someone to confirm it's you; I've reminded them.",
              name=name)
        )
    return Reply(t("Your {name}: {status}", name=name, status=identity_status(snap)))


_CHECK_WORDS: dict[str, str] = {
    RequestState.PENDING: N_("waiting for someone to confirm it's you"),
    RequestState.APPROVED: N_("confirmed"),
    RequestState.FULFILLED: N_("confirmed: you can go ahead"),
    RequestState.REVOKED: N_("confirmed and done"),
    RequestState.DENIED: N_("not confirmed"),
    RequestState.EXPIRED: N_("expired"),
    RequestState.CANCELLED: N_("cancelled"),
}


def my_identity_check(req: AccessRequest) -> Reply:
    """One line of "My requests" on the App Home for an identity check."""
    words = t(_CHECK_WORDS[req.state]) if req.state in _CHECK_WORDS else req.state
    return Reply(
        t("*Identity check for your {name}*:", name=t(req.group_name))
        + f" {words} ({when(req.created_at)})"
    )
