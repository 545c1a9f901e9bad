"""Group access: pick a group, request it (with a form when needed), decide, withdraw.

The workflow is ``actions.access``; this is its side of the conversation: which
group the employee means, the request prompt and its form, the approvers'
Approve/Deny (a denial asks for a reason in a form), and the App Home lists.
The wording of cards and news is in ``bot.views.access``.

Every call that may change a request marks the flow's progress first
(``changes_may_start``), so an unexpected failure is never answered with
"nothing was changed".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from actions.access import AccessService, Decision, DecisionOutcome, RequestState
from actions.audit import Actor
from actions.errors import Refusal, changes_may_start
from actions.turns import turn_key
from bot.dialogues.common import CONFIRM_TTL, ButtonHandler, FormHandler, stale
from bot.replies import (
    MAX_REASON,
    ActionId,
    Button,
    Form,
    FormField,
    FormResult,
    Reply,
    in_place,
)
from bot.routing import Router
from bot.views.access import (
    already_decided,
    already_open,
    already_voted,
    approval_card,
    approval_path,
    my_request,
    status_line,
    submitted_reply,
)
from bot.views.text import human_duration
from config.i18n import current, speak, t, tn
from store.db import Store

#: The kind of an access request's pending confirmation in the store.
ACCESS_KIND = "access_request"


def _duration(value: str) -> timedelta | None:
    return timedelta(seconds=int(value)) if value.isdigit() else None


def _gone() -> Reply:
    return Reply(
        t("This access request no longer exists, so nothing was changed."),
        replaces_prompt=True,
        in_place_only=True,
    )


class AccessDialogue:
    """The employee's and the approvers' side of group access requests."""

    def __init__(
        self, access: AccessService, store: Store, router: Router, where_to_go: Callable[[], str]
    ) -> None:
        self.access = access
        self.store = store
        self.router = router
        self.where_to_go = where_to_go

    def buttons(self) -> dict[ActionId, ButtonHandler]:
        """This dialogue's rows of the conversation's button table."""
        return {
            ActionId.ACCESS_PICK: self._picked,
            ActionId.ACCESS_REQUEST: self._request_clicked,
            ActionId.ACCESS_FORM: self._request_form,
            ActionId.ACCESS_WITHDRAW: self._withdraw,
            ActionId.ACCESS_DENY: self._deny_form,
            ActionId.ACCESS_APPROVE: self._approve,
        }

    def forms(self) -> dict[ActionId, FormHandler]:
        """This dialogue's rows of the conversation's form table."""
        return {
            ActionId.ACCESS_FORM: FormHandler(self._request_errors, self._request_submitted),
            ActionId.ACCESS_DENY: FormHandler(self._deny_errors, self._deny_submitted),
        }

    # -- which group --------------------------------------------------------------------
    async def start(self, actor: Actor, group: str | None, text: str) -> list[Reply]:
        """A request in words: the group named (or the one the text suggests), else a menu."""
        if group is None or group not in self.access.catalogue:
            suggestions = self._suggest(text) if text.strip() else []
            if len(suggestions) == 1:
                group = suggestions[0]
            elif suggestions:
                return [
                    Reply(t("Which one do you mean?"), [self._pick(k) for k in suggestions[:5]])
                ]
            else:
                return [self._catalogue_menu(asked=bool(text.strip()))]
        return await self._offer(actor, group)

    def _suggest(self, text: str) -> list[str]:
        """Catalogue keys the text may name, best first (forgiving about spelling)."""
        # The intent model's matcher, when the router has one (adapters keep it as ``model``).
        match = getattr(self.router, "match_groups", None) or getattr(
            getattr(self.router, "model", None), "match_groups", None
        )
        found: list[str] = []
        if callable(match):
            found = [str(key) for key, _score in match(text)]
        else:
            wanted = "".join(ch for ch in text.lower() if ch.isalnum())
            for entry in self.access.catalogue.values():
                names = (entry.key, entry.display_name, *entry.aliases)
                if wanted and any(
                    "".join(ch for ch in n.lower() if ch.isalnum()) in wanted for n in names
                ):
                    found.append(entry.key)
        return [k for k in dict.fromkeys(found) if k in self.access.catalogue]

    def _pick(self, key: str) -> Button:
        return Button(self.access.catalogue[key].display_name, ActionId.ACCESS_PICK, key)

    def _catalogue_menu(self, asked: bool) -> Reply:
        entries = list(self.access.catalogue.values())
        names = ", ".join(e.display_name for e in entries)
        head = (
            t(
                "I can only request access to groups in the catalogue, and I couldn't tell "
                "which one you mean."
            )
            + " "
            if asked
            else ""
        )
        return Reply(
            head
            + t(
                "You can ask for: {names}. For anything else, please ask {where}.",
                names=names, where=self.where_to_go(),
            ),
            [self._pick(e.key) for e in entries[:5]],
        )

    async def _picked(self, actor: Actor, key: str) -> list[Reply]:
        if key not in self.access.catalogue:
            return [stale()]
        return await self._offer(actor, key)

    # -- the request --------------------------------------------------------------------
    async def _offer(self, actor: Actor, key: str) -> list[Reply]:
        try:
            prepared = await self.access.prepare(actor, key)
        except Refusal as refusal:
            return [Reply(refusal.user_message)]
        entry = prepared.entry
        if prepared.existing is not None:
            return [already_open(prepared.existing)]
        if prepared.already_member:
            return [
                Reply(
                    t(
                        "You're already a member of *{group}*. Nothing to do.",
                        group=entry.display_name,
                    )
                )
            ]
        token = await self.store.create_pending(
            actor.slack_user_id, ACCESS_KIND, {"group": key, "lang": current()}, CONFIRM_TTL
        )
        needs_form = entry.justification_required or bool(prepared.durations)
        lines = [
            t(
                "Request access to *{group}* ({label})?",
                group=entry.display_name, label=prepared.label,
            )
        ]
        if entry.description:
            lines.append(entry.description)
        lines.append(approval_path(entry))
        if needs_form:
            why, long = entry.justification_required, bool(prepared.durations)
            lines.append(
                t("I'll ask why you need it and for how long.") if why and long
                else t("I'll ask why you need it.") if why
                else t("I'll ask for how long.")
            )
        action = ActionId.ACCESS_FORM if needs_form else ActionId.ACCESS_REQUEST
        return [
            Reply(
                "\n".join(lines),
                [
                    Button(t("Request access"), action, token, "primary"),
                    Button(t("Cancel"), ActionId.CANCEL, token),
                ],
            )
        ]

    async def _claim(self, actor: Actor, token: str) -> str | None:
        """Claim an access-request confirmation of ``actor``; the catalogue key, or None.

        Looked at before claiming, so a token of another flow is left alone.
        """
        pending = await self.store.peek_pending(token, actor.slack_user_id)
        if pending is None or pending.kind != ACCESS_KIND:
            return None
        claimed = await self.store.claim_pending(token, actor.slack_user_id, by=turn_key())
        if claimed is None:
            return None
        speak(str(claimed.payload.get("lang") or ""))
        return str(claimed.payload.get("group", ""))

    async def _request_clicked(self, actor: Actor, token: str) -> list[Reply]:
        key = await self._claim(actor, token)
        if key is None:
            return [stale()]
        return await self._submit(actor, key, "", None)

    async def _request_form(self, actor: Actor, token: str) -> list[Reply]:
        pending = await self.store.peek_pending(token, actor.slack_user_id)
        entry = self.access.catalogue.get(str(pending.payload.get("group"))) if pending else None
        if entry is None or pending is None:
            return [stale()]
        speak(str(pending.payload.get("lang") or ""))
        fields: list[FormField] = []
        if entry.justification_required:
            fields.append(
                FormField(
                    "justification", t("Why do you need it?"), multiline=True,
                    min_length=self.access.settings.justification_min_length,
                    hint=t("Your approvers will read this."),
                )
            )
        durations = self.access.durations_for(entry)
        if durations:
            fields.append(
                FormField(
                    "duration", t("For how long?"),
                    choices=[(human_duration(d), str(int(d.total_seconds()))) for d in durations],
                    hint=t("You'll be removed from the group when this ends."),
                )
            )
        form = Form(
            ActionId.ACCESS_FORM, token, t("Request access"), t("Send request"),
            t("Access to *{group}*.", group=entry.display_name) + f" {approval_path(entry)}",
            fields, close=t("Cancel"), choose=t("Choose"),
        )
        return [Reply(form.intro, form=form)]

    async def _request_errors(
        self, slack_user: str, token: str, values: Mapping[str, str]
    ) -> dict[str, str]:
        errors: dict[str, str] = {}
        pending = await self.store.peek_pending(token, slack_user)
        entry = self.access.catalogue.get(str(pending.payload.get("group"))) if pending else None
        if entry is None or pending is None:
            return errors  # stale: answered with a message once the form closes
        speak(str(pending.payload.get("lang") or ""))
        minimum = self.access.settings.justification_min_length
        if entry.justification_required and len(values.get("justification", "").strip()) < minimum:
            errors["justification"] = tn(
                "Please write at least {count} character.",
                "Please write at least {count} characters.",
                minimum,
            )
        durations = self.access.durations_for(entry)
        if durations and _duration(values.get("duration", "")) not in durations:
            errors["duration"] = t("Please choose how long you need it.")
        return errors

    async def _request_submitted(
        self, actor: Actor, token: str, values: Mapping[str, str]
    ) -> FormResult:
        key = await self._claim(actor, token)
        if key is None:
            return FormResult(replies=[stale()])
        replies = await self._submit(
            actor, key, values.get("justification", ""), _duration(values.get("duration", ""))
        )
        return FormResult(replies=replies)

    async def _submit(
        self, actor: Actor, key: str, justification: str, duration: timedelta | None
    ) -> list[Reply]:
        changes_may_start()
        try:
            submitted = await self.access.submit(actor, key, justification, duration)
        except Refusal as refusal:
            return [Reply(refusal.user_message, replaces_prompt=True)]
        return [submitted_reply(submitted, self.where_to_go())]

    async def _withdraw(self, actor: Actor, request_id: str) -> list[Reply]:
        changes_may_start()
        decision = await self.access.cancel(actor, request_id)
        snap = decision.snapshot
        if decision.outcome is DecisionOutcome.CANCELLED and snap is not None:
            return [
                Reply(
                    t(
                        "Cancelled your request for *{group}*. Nothing was changed.",
                        group=snap.request.group_name,
                    ),
                    replaces_prompt=True,
                )
            ]
        if snap is None:
            return [stale()]
        return [
            Reply(
                t(
                    "Your request for *{group}* can't be cancelled any more: {status}",
                    group=snap.request.group_name, status=status_line(snap, to_requester=True),
                ),
                replaces_prompt=True,
            )
        ]

    # -- the approvers' decision ------------------------------------------------------------
    async def _approve(self, actor: Actor, request_id: str) -> list[Reply]:
        changes_may_start()
        try:
            decision = await self.access.decide(actor, request_id, approve=True)
        except Refusal as refusal:
            return [Reply(refusal.user_message, ephemeral=True)]
        return self._decided(decision)

    async def _deny_form(self, actor: Actor, request_id: str) -> list[Reply]:
        try:
            snap = await self.access.authorise(actor, request_id)
        except Refusal as refusal:
            return [Reply(refusal.user_message, ephemeral=True)]
        if snap is None:
            return [_gone()]
        if snap.request.state != RequestState.PENDING:
            return self._decided(Decision(DecisionOutcome.ALREADY_DECIDED, snap))
        req = snap.request
        form = Form(
            ActionId.ACCESS_DENY, req.id, t("Deny access"), t("Deny"),
            t(
                "Deny <@{requester}>'s request for *{group}*? They will see your reason.",
                requester=req.requester, group=req.group_name,
            ),
            [FormField("reason", t("Reason"), multiline=True, min_length=3)],
            close=t("Cancel"),
        )
        return [Reply(form.intro, form=form)]

    async def _deny_errors(
        self, slack_user: str, request_id: str, values: Mapping[str, str]
    ) -> dict[str, str]:
        if len(values.get("reason", "").strip()) < 3:
            return {"reason": t("Please give a reason: the requester will see it.")}
        return {}

    async def _deny_submitted(
        self, actor: Actor, request_id: str, values: Mapping[str, str]
    ) -> FormResult:
        reason = " ".join(values.get("reason", "").split())[:MAX_REASON]
        changes_may_start()
        try:
            decision = await self.access.decide(actor, request_id, approve=False, reason=reason)
        except Refusal as refusal:
            return FormResult(replies=[Reply(refusal.user_message)])
        return FormResult(replies=self._decided(decision))

    def _decided(self, decision: Decision) -> list[Reply]:
        """What the clicking approver sees; the approval messages themselves are updated."""
        snap = decision.snapshot
        outcome = decision.outcome
        if outcome is DecisionOutcome.UNKNOWN or snap is None:
            return [_gone()]
        if outcome is DecisionOutcome.ALREADY_DECIDED:
            return [
                Reply(already_decided(snap), ephemeral=True),
                in_place(approval_card(snap)),
            ]
        if outcome is DecisionOutcome.ALREADY_VOTED:
            return [Reply(already_voted(snap), ephemeral=True)]
        return []

    # -- the App Home ---------------------------------------------------------------------
    async def home_lists(self, actor: Actor) -> tuple[list[Reply], list[Reply]]:
        """The employee's own requests, and the approval cards waiting for them."""
        mine = [my_request(r) for r in await self.access.my_requests(actor)]
        waiting: list[Reply] = []
        for row in await self.access.waiting_for_me(actor):
            snap = await self.access.snapshot(row.id)
            if snap is not None:
                waiting.append(approval_card(snap))
        return mine, waiting
