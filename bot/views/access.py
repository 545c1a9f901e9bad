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
from config.i18n import N_, format_number, t, tn
from config.settings import ApproverKind, CatalogueEntry, approver_kind
from store.models import AccessRequest

_STATE_WORDS: dict[str, str] = {
    RequestState.PENDING: N_("waiting for approval"),
    RequestState.APPROVED: N_("approved, being added"),
    RequestState.FULFILLED: N_("granted"),
    RequestState.DENIED: N_("denied"),
    RequestState.EXPIRED: N_("expired"),
    RequestState.CANCELLED: N_("cancelled"),
    RequestState.FAILED: N_("approved, but adding failed"),
    RequestState.REVOKED: N_("ended"),
}


def _who(users: Sequence[str]) -> str:
    names = [f"<@{u}>" for u in users]
    if len(names) <= 1:
        return names[0] if names else t("an approver")
    return t("{names} and {last}", names=", ".join(names[:-1]), last=names[-1])


def _cancel_button(request_id: str) -> Button:
    return Button(t("Cancel request"), ActionId.ACCESS_WITHDRAW, request_id, "danger")


def approval_path(entry: CatalogueEntry) -> str:
    """Who must approve a catalogue entry, in one sentence."""
    if entry.auto_approve:
        return t("It's approved automatically.")
    words = {ApproverKind.USER: N_("named approvers"),
             ApproverKind.USERGROUP: N_("the approvers' group"),
             ApproverKind.MANAGER: N_("your manager"), ApproverKind.CHANNEL: ""}
    who = [t(w) for w in dict.fromkeys(words[approver_kind(a)] for a in entry.approvers) if w]
    return tn(
        "It needs one approval ({who}).",
        "It needs {count} approvals from different people ({who}).",
        entry.approvals_required,
        who=t(" or ").join(who),
    )


def _destination(ref: str) -> str:
    if ref.startswith("#"):
        return ref
    return f"<#{ref}>" if ref[:1] in {"C", "G"} else f"<@{ref}>"


def already_open(snap: AccessSnapshot) -> Reply:
    """The requester already has an open request for this group."""
    req = snap.request
    if req.state == RequestState.APPROVED:
        return Reply(
            t("Your request for *{group}* is approved; I'm adding you now.", group=req.group_name)
        )
    return Reply(
        t(
            "You already have a request for *{group}*, sent {sent} and {progress}. "
            "I'll tell you when it's decided.",
            group=req.group_name, sent=when(req.created_at), progress=_progress(snap),
        ),
        [_cancel_button(req.id)],
    )


def _progress(snap: AccessSnapshot) -> str:
    req = snap.request
    if req.approvals_required > 1:
        return t(
            "waiting for approval ({done} of {needed} so far)",
            done=req.approvals, needed=req.approvals_required,
        )
    return t("waiting for approval")


def submitted_reply(submitted: Submitted, where_to_go: str) -> Reply:
    """What the requester sees once their request is sent (in place of the prompt)."""
    snap = submitted.snapshot
    req = snap.request
    if not submitted.created:
        open_reply = already_open(snap)
        return Reply(open_reply.text, open_reply.buttons, replaces_prompt=True)
    if req.state == RequestState.FULFILLED:
        return Reply(
            t("Done: you're now a member of *{group}*.", group=req.group_name) + _until(req),
            replaces_prompt=True,
        )
    if req.state == RequestState.APPROVED:
        return Reply(
            t(
                "Your request for *{group}* is approved. The directory isn't answering right "
                "now; I'll add you as soon as it does and tell you here.",
                group=req.group_name,
            ),
            replaces_prompt=True,
        )
    if req.state == RequestState.FAILED:
        return Reply(
            t(
                "Your request for *{group}* was approved, but I couldn't add you. "
                "Please ask {where}.",
                group=req.group_name, where=where_to_go,
            ),
            replaces_prompt=True,
        )
    sent_to = ", ".join(_destination(d) for d in submitted.notified) or t("the approvers")
    return Reply(
        t(
            "Sent: your request for *{group}* is with {sent_to}. I'll tell you here when "
            "it's decided; it expires {expires} if nobody does.",
            group=req.group_name, sent_to=sent_to, expires=when(req.expires_at),
        ),
        [_cancel_button(req.id)],
        replaces_prompt=True,
    )


def _until(req: AccessRequest, *, to_requester: bool = True) -> str:
    """When time-bound access ends, said to the requester or, naming them, to anyone else."""
    if not req.access_until:
        return ""
    ends = when(req.access_until)
    if to_requester:
        return " " + t("Your access ends {ends}.", ends=ends)
    return " " + t("<@{requester}>'s access ends {ends}.", requester=req.requester, ends=ends)


def status_line(snap: AccessSnapshot, *, to_requester: bool = False) -> str:
    """One line: what became of the request, by whom (said to an approver unless told)."""
    req = snap.request
    approved = _who(snap.approved_by) if snap.approved_by else ""
    if req.state == RequestState.PENDING:
        if snap.approved_by:
            return t(
                "Approved by {who} ({done} of {needed}); waiting for another approver.",
                who=approved, done=req.approvals, needed=req.approvals_required,
            )
        return t("Waiting for a decision.")
    if req.state == RequestState.APPROVED:
        return t(
            "Approved by {who}; adding now.",
            who=approved or _who([req.decided_by or req.requester]),
        )
    if req.state == RequestState.FULFILLED:
        granted = when(req.fulfilled_at or req.updated_at)
        line = (
            t("Approved by {who}: access granted {granted}.", who=approved, granted=granted)
            if approved
            else t("Approved automatically: access granted {granted}.", granted=granted)
        )
        return line + _until(req, to_requester=to_requester)
    if req.state == RequestState.DENIED:
        return t(
            "Denied by <@{decider}>: {reason}",
            decider=req.decided_by, reason=escape(req.reason or t("no reason given")),
        )
    if req.state == RequestState.EXPIRED:
        return t(
            "Expired {at}: nobody decided in time.", at=when(req.decided_at or req.updated_at)
        )
    if req.state == RequestState.CANCELLED:
        return t("Cancelled by the requester.")
    if req.state == RequestState.FAILED:
        return t(
            "Approved by {who}, but adding failed ({reason}). IT will follow up.",
            who=approved, reason=req.reason,
        )
    if req.state == RequestState.REVOKED:
        return t(
            "Approved by {who}; the access ended {ended}.",
            who=approved or t("the approvers"), ended=when(req.revoked_at or req.updated_at),
        )
    return req.state


def approval_card(snap: AccessSnapshot) -> Reply:
    """The approvers' message: who, what, why, for how long; Approve/Deny while pending."""
    if is_identity_check(snap.request.group_key):
        return identity_card(snap)
    req = snap.request
    text = t(
        "*Access request*: <@{requester}> ({email}) asks to join *{group}* ({provider}).",
        requester=req.requester, email=req.requester_email, group=req.group_name,
        provider=req.provider,
    ) + f"\n{status_line(snap)}"
    duration = (
        human_duration(timedelta(seconds=req.duration_seconds))
        if req.duration_seconds
        else t("No end date")
    )
    fields = [
        (t("Why"), escape(req.justification or t("Not given"))),
        (t("For how long"), duration),
        (t("Approvals needed"), format_number(req.approvals_required)),
        (t("Requested"), when(req.created_at)),
    ]
    buttons: list[Button] = []
    if req.state == RequestState.PENDING:
        buttons = [
            Button(t("Approve"), ActionId.ACCESS_APPROVE, req.id, "primary"),
            Button(t("Deny"), ActionId.ACCESS_DENY, req.id, "danger"),
        ]
    return Reply(text, buttons, fields=tuple(fields))


def reminder_text(snap: AccessSnapshot) -> str:
    req = snap.request
    return t(
        "Reminder: <@{requester}>'s request for *{group}* is still waiting for a decision. "
        "It expires {expires}.",
        requester=req.requester, group=req.group_name, expires=when(req.expires_at),
    )


def requester_news(snap: AccessSnapshot, event: Event) -> Reply:
    """What the requester is told when something happens to their request."""
    if is_identity_check(snap.request.group_key):
        return identity_news(snap, event)
    req = snap.request
    name = f"*{req.group_name}*"
    if event is Event.APPROVAL_RECORDED:
        return Reply(
            tn(
                "{who} approved your request for {group}; it needs {count} more approval.",
                "{who} approved your request for {group}; it needs {count} more approvals.",
                req.approvals_required - req.approvals,
                who=_who(snap.approved_by), group=name,
            )
        )
    if event is Event.FULFILLED:
        member = (
            t(
                "You're now a member of {group} (approved by {who}).",
                group=name, who=_who(snap.approved_by),
            )
            if snap.approved_by
            else t("You're now a member of {group}.", group=name)
        )
        return Reply(member + _until(req))
    if event is Event.DENIED:
        return Reply(
            t(
                "Your request for {group} was denied by <@{decider}>: {reason}",
                group=name, decider=req.decided_by,
                reason=escape(req.reason or t("no reason given")),
            )
        )
    if event is Event.EXPIRED:
        return Reply(
            t(
                "Your request for {group} expired: nobody decided in time. You can ask again.",
                group=name,
            )
        )
    if event is Event.REMINDED:
        return Reply(
            t(
                "Your request for {group} is still waiting; I've reminded the approvers.",
                group=name,
            ),
            [_cancel_button(req.id)],
        )
    if event is Event.RETRYING:
        return Reply(
            t(
                "Your request for {group} is approved, but the directory isn't answering. "
                "I'll keep trying and tell you when you're in.",
                group=name,
            )
        )
    if event is Event.FAILED:
        return Reply(
            t(
                "Your request for {group} was approved, but I couldn't add you ({reason}). "
                "IT has the details in the audit trail; please ask them.",
                group=name, reason=req.reason,
            )
        )
    if event is Event.ENDING_SOON:
        return Reply(
            t(
                "Heads-up: your access to {group} ends {ends}. Ask again if you still need it.",
                group=name, ends=when(req.access_until or req.updated_at),
            )
        )
    return Reply(
        t(
            "Your time-bound access to {group} has ended; you've been removed from it.",
            group=name,
        )
    )


def already_decided(snap: AccessSnapshot) -> str:
    req = snap.request
    return t(
        "This request for *{group}* was already handled: {status}",
        group=req.group_name, status=status_line(snap),
    )


def already_voted(snap: AccessSnapshot) -> str:
    if snap.request.state == RequestState.PENDING:
        return t("You already approved this request; it's waiting for another approver.")
    return already_decided(snap)


def my_request(req: AccessRequest) -> Reply:
    """One line of "My requests" on the App Home; a cancel button while it is pending."""
    if is_identity_check(req.group_key):
        return my_identity_check(req)
    state = t(_STATE_WORDS[req.state]) if req.state in _STATE_WORDS else req.state
    text = f"*{req.group_name}*: {state} ({when(req.created_at)})"
    if req.state == RequestState.FULFILLED and req.access_until:
        text += ", " + t("until {ends}", ends=when(req.access_until))
    buttons = [_cancel_button(req.id)] if req.state == RequestState.PENDING else []
    return Reply(text, buttons)
