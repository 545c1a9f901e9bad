"""Verification in words: the push and its number; an identity check's card and news."""

from __future__ import annotations

from actions.access import AccessSnapshot, Event, RequestState
from bot.replies import ActionId, Button, Reply
from bot.routing import Intent
from bot.views.text import escape, when
from connectors.base import PushChallenge
from store.models import AccessRequest


def push_prompt(challenge: PushChallenge, label: str) -> Reply:
    """The DM sent with a push: which device, and the number to pick there."""
    device = f"{label} Verify" if label in {"Okta"} else label
    if challenge.number is not None:
        return Reply(
            f"Before I change anything I need to check it's you: I sent a push to {device} "
            f"on your phone. Open it and pick *{challenge.number}*. If you didn't ask for "
            "this, deny it and the security team will be told."
        )
    return Reply(
        f"Before I change anything I need to check it's you: I sent a push to {device} on "
        "your phone. Approve it there. If you didn't ask for this, deny it."
    )




# -- identity checks (the ``approval`` method): the approvers' card and the employee's news --
_INTENT_OF_CHECK: dict[str, Intent] = {
    "password_reset": Intent.PASSWORD_RESET,
    "unlock": Intent.ACCOUNT_UNLOCK,
    "mfa_reset": Intent.MFA_RESET,
}
_GO_AHEAD: dict[str, str] = {
    "password_reset": "Reset my password",
    "unlock": "Unlock my account",
    "mfa_reset": "Reset my MFA",
}


def _article(name: str) -> str:
    return "an" if name[:1].lower() in "aeiou" or name.startswith("MFA") else "a"


def _first_name(snap: AccessSnapshot) -> str:
    return f"<@{snap.request.requester}>"


def identity_card(snap: AccessSnapshot) -> Reply:
    """The approvers' card of an identity check: who asks for what, and what to confirm."""
    req = snap.request
    who = _first_name(snap)
    text = (
        f"*Identity check*: {who} ({req.requester_email}) asks for {_article(req.group_name)} "
        f"{req.group_name} ({req.provider}). Confirm you verified it is them, e.g. on a video "
        "call, before you approve: whoever holds their Slack session could be asking.\n"
        f"{identity_status(snap)}"
    )
    fields = [
        ("Reason, in their words", escape(req.justification or "Not given")),
        ("Approvals needed", str(req.approvals_required)),
        ("Requested", when(req.created_at)),
        ("Expires", when(req.expires_at)),
    ]
    buttons: list[Button] = []
    if req.state == RequestState.PENDING:
        buttons = [
            Button("I verified it's them: approve", ActionId.ACCESS_APPROVE, req.id, "primary"),
            Button("Deny", ActionId.ACCESS_DENY, req.id, "danger"),
        ]
    return Reply(text, buttons, fields=tuple(fields))


def identity_status(snap: AccessSnapshot) -> str:
    req = snap.request
    approved = ", ".join(f"<@{u}>" for u in snap.approved_by)
    if req.state == RequestState.PENDING:
        if snap.approved_by:
            return (f"Confirmed by {approved} ({req.approvals} of {req.approvals_required}); "
                    "waiting for another approver.")
        return "Waiting for a decision."
    if req.state in (RequestState.APPROVED, RequestState.FULFILLED):
        return f"Confirmed by {approved or 'the approvers'}."
    if req.state == RequestState.REVOKED:
        return f"Confirmed by {approved or 'the approvers'}; the change was made."
    if req.state == RequestState.DENIED:
        return f"Denied by <@{req.decided_by}>: {escape(req.reason or 'no reason given')}"
    if req.state == RequestState.EXPIRED:
        return "Expired: nobody decided in time."
    if req.state == RequestState.CANCELLED:
        return "Cancelled by the requester."
    return str(req.state)


def identity_news(snap: AccessSnapshot, event: Event) -> Reply:
    """What the employee is told about their identity check."""
    req = snap.request
    check = req.provider_group
    name = req.group_name
    if event is Event.FULFILLED:
        intent = _INTENT_OF_CHECK.get(check)
        buttons = (
            [Button(_GO_AHEAD[check], ActionId.START, intent.value, "primary")] if intent else []
        )
        by = ", ".join(f"<@{u}>" for u in snap.approved_by) or "an approver"
        return Reply(
            f"{by} confirmed it's you. You can go ahead with your {name} now.", buttons
        )
    if event is Event.APPROVAL_RECORDED:
        more = req.approvals_required - req.approvals
        return Reply(f"One person confirmed it's you; your {name} needs {more} more.")
    if event is Event.DENIED:
        return Reply(
            f"Your {name} wasn't confirmed: <@{req.decided_by}> denied it "
            f"({escape(req.reason or 'no reason given')}). Nothing was changed."
        )
    if event is Event.EXPIRED:
        return Reply(f"Nobody confirmed your {name} in time, so nothing was changed. "
                     "You can ask again.")
    if event is Event.REMINDED:
        return Reply(f"Your {name} is still waiting for someone to confirm it's you; "
                     "I've reminded them.")
    return Reply(f"Your {name}: {identity_status(snap)}")


_CHECK_WORDS: dict[str, str] = {
    RequestState.PENDING: "waiting for someone to confirm it's you",
    RequestState.APPROVED: "confirmed",
    RequestState.FULFILLED: "confirmed: you can go ahead",
    RequestState.REVOKED: "confirmed and done",
    RequestState.DENIED: "not confirmed",
    RequestState.EXPIRED: "expired",
    RequestState.CANCELLED: "cancelled",
}


def my_identity_check(req: AccessRequest) -> Reply:
    """One line of "My requests" on the App Home for an identity check."""
    words = _CHECK_WORDS.get(req.state, req.state)
    return Reply(f"*Identity check for your {req.group_name}*: {words} ({when(req.created_at)})")
