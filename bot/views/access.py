"""Access requests in words, shared by Slack and the terminal: cards, news, statuses.

Pure functions of an ``AccessSnapshot`` (or a request row) to ``Reply`` or text:
the approvers' card (``approval_card``), its reminder, what the requester is
told (``requester_news``), and the lines of the App Home.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from actions.access import AccessSnapshot, Event, RequestState, Submitted
from actions.access.model import is_identity_check
from bot.replies import ActionId, Button, Reply
from bot.views.text import escape, human_duration, when
from bot.views.verification import identity_card, identity_news, my_identity_check
from config.settings import ApproverKind, CatalogueEntry, approver_kind
from store.models import AccessRequest

_STATE_WORDS: dict[str, str] = {
    RequestState.PENDING: "waiting for approval",
    RequestState.APPROVED: "approved, being added",
    RequestState.FULFILLED: "granted",
    RequestState.DENIED: "denied",
    RequestState.EXPIRED: "expired",
    RequestState.CANCELLED: "cancelled",
    RequestState.FAILED: "approved, but adding failed",
    RequestState.REVOKED: "ended",
}


def _who(users: Sequence[str]) -> str:
    names = [f"<@{u}>" for u in users]
    if len(names) <= 1:
        return names[0] if names else "an approver"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _cancel_button(request_id: str) -> Button:
    return Button("Cancel request", ActionId.ACCESS_WITHDRAW, request_id, "danger")


def approval_path(entry: CatalogueEntry) -> str:
    """Who must approve a catalogue entry, in one sentence."""
    if entry.auto_approve:
        return "It's approved automatically."
    words = {ApproverKind.USER: "named approvers", ApproverKind.USERGROUP: "the approvers' group",
             ApproverKind.MANAGER: "your manager", ApproverKind.CHANNEL: ""}
    who = [w for w in dict.fromkeys(words[approver_kind(a)] for a in entry.approvers) if w]
    many = entry.approvals_required
    needed = "one approval" if many == 1 else f"{many} approvals from different people"
    return f"It needs {needed} ({' or '.join(who)})."


def _destination(ref: str) -> str:
    if ref.startswith("#"):
        return ref
    return f"<#{ref}>" if ref[:1] in {"C", "G"} else f"<@{ref}>"


def already_open(snap: AccessSnapshot) -> Reply:
    """The requester already has an open request for this group."""
    req = snap.request
    if req.state == RequestState.APPROVED:
        return Reply(f"Your request for *{req.group_name}* is approved; I'm adding you now.")
    return Reply(
        f"You already have a request for *{req.group_name}*, sent {when(req.created_at)} and "
        f"{_progress(snap)}. I'll tell you when it's decided.",
        [_cancel_button(req.id)],
    )


def _progress(snap: AccessSnapshot) -> str:
    req = snap.request
    if req.approvals_required > 1:
        return f"waiting for approval ({req.approvals} of {req.approvals_required} so far)"
    return "waiting for approval"


def submitted_reply(submitted: Submitted, where_to_go: str) -> Reply:
    """What the requester sees once their request is sent (in place of the prompt)."""
    snap = submitted.snapshot
    req = snap.request
    if not submitted.created:
        open_reply = already_open(snap)
        return Reply(open_reply.text, open_reply.buttons, replaces_prompt=True)
    if req.state == RequestState.FULFILLED:
        return Reply(f"Done: you're now a member of *{req.group_name}*.{_until(req)}",
                     replaces_prompt=True)
    if req.state == RequestState.APPROVED:
        return Reply(
            f"Your request for *{req.group_name}* is approved. The directory isn't answering "
            "right now; I'll add you as soon as it does and tell you here.",
            replaces_prompt=True,
        )
    if req.state == RequestState.FAILED:
        return Reply(
            f"Your request for *{req.group_name}* was approved, but I couldn't add you. "
            f"Please ask {where_to_go}.",
            replaces_prompt=True,
        )
    sent_to = ", ".join(_destination(d) for d in submitted.notified) or "the approvers"
    return Reply(
        f"Sent: your request for *{req.group_name}* is with {sent_to}. I'll tell you here when "
        f"it's decided; it expires {when(req.expires_at)} if nobody does.",
        [_cancel_button(req.id)],
        replaces_prompt=True,
    )


def _until(req: AccessRequest, *, to_requester: bool = True) -> str:
    """When time-bound access ends, said to the requester or, naming them, to anyone else."""
    if not req.access_until:
        return ""
    whose = "Your" if to_requester else f"<@{req.requester}>'s"
    return f" {whose} access ends {when(req.access_until)}."


def status_line(snap: AccessSnapshot, *, to_requester: bool = False) -> str:
    """One line: what became of the request, by whom (said to an approver unless told)."""
    req = snap.request
    approved = _who(snap.approved_by) if snap.approved_by else ""
    if req.state == RequestState.PENDING:
        if snap.approved_by:
            return (f"Approved by {approved} ({req.approvals} of {req.approvals_required}); "
                    "waiting for another approver.")
        return "Waiting for a decision."
    if req.state == RequestState.APPROVED:
        return f"Approved by {approved or _who([req.decided_by or req.requester])}; adding now."
    if req.state == RequestState.FULFILLED:
        by = f" by {approved}" if approved else " automatically"
        granted = when(req.fulfilled_at or req.updated_at)
        return f"Approved{by}: access granted {granted}.{_until(req, to_requester=to_requester)}"
    if req.state == RequestState.DENIED:
        return f"Denied by <@{req.decided_by}>: {escape(req.reason or 'no reason given')}"
    if req.state == RequestState.EXPIRED:
        return f"Expired {when(req.decided_at or req.updated_at)}: nobody decided in time."
    if req.state == RequestState.CANCELLED:
        return "Cancelled by the requester."
    if req.state == RequestState.FAILED:
        return f"Approved by {approved}, but adding failed ({req.reason}). IT will follow up."
    if req.state == RequestState.REVOKED:
        ended = when(req.revoked_at or req.updated_at)
        return f"Approved by {approved or 'the approvers'}; the access ended {ended}."
    return req.state


def approval_card(snap: AccessSnapshot) -> Reply:
    """The approvers' message: who, what, why, for how long; Approve/Deny while pending."""
    if is_identity_check(snap.request.group_key):
        return identity_card(snap)
    req = snap.request
    text = (
        f"*Access request*: <@{req.requester}> ({req.requester_email}) asks to join "
        f"*{req.group_name}* ({req.provider}).\n{status_line(snap)}"
    )
    duration = (
        human_duration(timedelta(seconds=req.duration_seconds))
        if req.duration_seconds
        else "No end date"
    )
    fields = [
        ("Why", escape(req.justification or "Not given")),
        ("For how long", duration),
        ("Approvals needed", str(req.approvals_required)),
        ("Requested", when(req.created_at)),
    ]
    buttons: list[Button] = []
    if req.state == RequestState.PENDING:
        buttons = [
            Button("Approve", ActionId.ACCESS_APPROVE, req.id, "primary"),
            Button("Deny", ActionId.ACCESS_DENY, req.id, "danger"),
        ]
    return Reply(text, buttons, fields=tuple(fields))


def reminder_text(snap: AccessSnapshot) -> str:
    req = snap.request
    return (
        f"Reminder: <@{req.requester}>'s request for *{req.group_name}* is still waiting for a "
        f"decision. It expires {when(req.expires_at)}."
    )


def requester_news(snap: AccessSnapshot, event: Event) -> Reply:
    """What the requester is told when something happens to their request."""
    if is_identity_check(snap.request.group_key):
        return identity_news(snap, event)
    req = snap.request
    name = f"*{req.group_name}*"
    if event is Event.APPROVAL_RECORDED:
        more = req.approvals_required - req.approvals
        return Reply(
            f"{_who(snap.approved_by)} approved your request for {name}; it needs {more} more "
            f"approval{'s' if more != 1 else ''}.",
        )
    if event is Event.FULFILLED:
        by = f" (approved by {_who(snap.approved_by)})" if snap.approved_by else ""
        return Reply(f"You're now a member of {name}{by}.{_until(req)}")
    if event is Event.DENIED:
        return Reply(
            f"Your request for {name} was denied by <@{req.decided_by}>: "
            f"{escape(req.reason or 'no reason given')}"
        )
    if event is Event.EXPIRED:
        return Reply(
            f"Your request for {name} expired: nobody decided in time. You can ask again."
        )
    if event is Event.REMINDED:
        return Reply(
            f"Your request for {name} is still waiting; I've reminded the approvers.",
            [_cancel_button(req.id)],
        )
    if event is Event.RETRYING:
        return Reply(
            f"Your request for {name} is approved, but the directory isn't answering. I'll keep "
            "trying and tell you when you're in."
        )
    if event is Event.FAILED:
        return Reply(
            f"Your request for {name} was approved, but I couldn't add you "
            f"({req.reason}). IT has the details in the audit trail; please ask them."
        )
    if event is Event.ENDING_SOON:
        return Reply(
            f"Heads-up: your access to {name} ends {when(req.access_until or req.updated_at)}. "
            "Ask again if you still need it."
        )
    return Reply(f"Your time-bound access to {name} has ended; you've been removed from it.")


def already_decided(snap: AccessSnapshot) -> str:
    req = snap.request
    return f"This request for *{req.group_name}* was already handled: {status_line(snap)}"


def already_voted(snap: AccessSnapshot) -> str:
    if snap.request.state == RequestState.PENDING:
        return "You already approved this request; it's waiting for another approver."
    return already_decided(snap)


def my_request(req: AccessRequest) -> Reply:
    """One line of "My requests" on the App Home; a cancel button while it is pending."""
    if is_identity_check(req.group_key):
        return my_identity_check(req)
    text = f"*{req.group_name}*: {_STATE_WORDS.get(req.state, req.state)} ({when(req.created_at)})"
    if req.state == RequestState.FULFILLED and req.access_until:
        text += f", until {when(req.access_until)}"
    buttons = [_cancel_button(req.id)] if req.state == RequestState.PENDING else []
    return Reply(text, buttons)
