"""The conversation: what the bot answers to a message, a command or a button, with no Slack in it.

The Slack surface and the terminal demo both drive ``Conversation`` and
render its ``Reply`` objects (``bot.replies``) their own way (Block Kit,
numbered choices). This module only routes: a message or a command to an
intent and its dialogue (``bot.dialogues``), a click to the handler its
action id names in one table, a form submission likewise. Every entry point
answers, even when a flow fails unexpectedly (``bot.dialogues.failures``).

The IT admins' view (extra App Home ``sections``, ``/helpdesk status``) is an
``AdminDesk`` the Slack surface plugs in (``bot.admin_view``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Protocol

from actions.access import AccessService
from actions.audit import Actor, new_correlation_id
from actions.self_service import SelfService
from actions.turns import turn_key
from actions.verification.approval import REQUEST_REASON
from bot.dialogues.access import AccessDialogue
from bot.dialogues.common import ButtonHandler, FormHandler, stale
from bot.dialogues.expiry import ExpiryDialogue
from bot.dialogues.failures import answered, as_list
from bot.dialogues.self_service import SelfServiceDialogue
from bot.replies import ActionId, Button, FormResult, Home, HomeSection, Reply
from bot.routing import Intent, Router
from config import tracing
from config.i18n import N_, current, speak, speaking, t
from config.logging import get_logger
from connectors.base import Capability
from store.db import Store
from store.models import ConfirmationState

log = get_logger("helpdesk.conversation")


class AdminDesk(Protocol):
    """The IT admins' view (``bot.admin_view.AdminView``), plugged in by the Slack surface."""

    async def home_sections(self, actor: Actor) -> Sequence[HomeSection]:
        """The admin sections of ``actor``'s App Home; none unless they are an IT admin."""
        ...

    async def status(self, actor: Actor) -> list[Reply]:
        """``/helpdesk status``: connector health for an IT admin, a refusal for others."""
        ...


_START_LABEL: dict[Intent, str] = {
    Intent.PASSWORD_RESET: N_("Reset my password"),
    Intent.ACCOUNT_UNLOCK: N_("Unlock my account"),
    Intent.MFA_RESET: N_("Reset my MFA"),
    Intent.PASSWORD_EXPIRY: N_("When does my password expire?"),
    Intent.GROUP_ACCESS: N_("Request access to a group"),
}

_CAPABILITY_OF: dict[Intent, Capability] = {
    Intent.PASSWORD_RESET: Capability.PASSWORD_RESET,
    Intent.ACCOUNT_UNLOCK: Capability.UNLOCK,
    Intent.MFA_RESET: Capability.MFA_RESET,
    Intent.PASSWORD_EXPIRY: Capability.PASSWORD_EXPIRY,
    Intent.GROUP_ACCESS: Capability.GROUPS,
}

_HELP_LINES: dict[Intent, str] = {
    Intent.PASSWORD_RESET: N_("reset your password (\"I forgot my password\")"),
    Intent.ACCOUNT_UNLOCK: N_("unlock your account (\"I'm locked out\")"),
    Intent.MFA_RESET: N_("reset your MFA when you've lost or replaced your phone"),
    Intent.PASSWORD_EXPIRY: N_("tell you when your password expires"),
    Intent.GROUP_ACCESS: N_(
        "request access to a group or app (\"I need Figma\"), with approval in Slack"
    ),
}

_COMMANDS: dict[str, Intent] = {
    "": Intent.HELP,
    "help": Intent.HELP,
    "reset-password": Intent.PASSWORD_RESET,
    "password": Intent.PASSWORD_RESET,
    "unlock": Intent.ACCOUNT_UNLOCK,
    "mfa": Intent.MFA_RESET,
    "reset-mfa": Intent.MFA_RESET,
    "expiry": Intent.PASSWORD_EXPIRY,
    "password-expiry": Intent.PASSWORD_EXPIRY,
}

class Conversation:
    """Answers an employee. Stateless between calls except for the store."""

    def __init__(
        self,
        service: SelfService,
        router: Router,
        store: Store,
        access: AccessService | None = None,
        admin: AdminDesk | None = None,
    ) -> None:
        self.service = service
        self.router = router
        self.store = store
        self.access = access
        # The IT admins' view needs to know who they are, which only a chat surface can tell.
        self.admin = admin
        self.self_service = SelfServiceDialogue(service, store)
        self.expiry = ExpiryDialogue(service)
        self.access_dialogue = (
            AccessDialogue(access, store, router, service._where_to_go)
            if access is not None
            else None
        )
        self._flows: dict[Intent, Callable[[Actor], Awaitable[list[Reply]]]] = {
            Intent.PASSWORD_RESET: self.self_service.offer_reset,
            Intent.MFA_RESET: self.self_service.offer_mfa_reset,
            Intent.ACCOUNT_UNLOCK: self.self_service.unlock,
            Intent.PASSWORD_EXPIRY: self.expiry.answer,
        }
        self._buttons: dict[ActionId, ButtonHandler] = {
            ActionId.START: self._start_clicked,
            ActionId.CANCEL: self._cancel_clicked,
            **self.self_service.buttons(),
        }
        self._forms: dict[ActionId, FormHandler] = {}
        if self.access_dialogue is not None:
            self._buttons.update(self.access_dialogue.buttons())
            self._forms.update(self.access_dialogue.forms())

    # -- entry points ---------------------------------------------------------------
    def speaking_to(self, actor: Actor) -> contextlib.AbstractContextManager[str]:
        """Answer ``actor`` in their Slack locale's language, else the organisation's.

        A message's own language takes over once it is read (``_message``); a click on a
        flow's button, the language the flow started in (kept with its confirmation).
        """
        return speaking(actor.locale, self.service.cfg.organisation.language)

    async def on_message(self, actor: Actor, text: str) -> list[Reply]:
        with _turn("message"), self.speaking_to(actor):
            return await answered("message", lambda: self._message(actor, text), as_list)

    async def on_command(self, actor: Actor, text: str) -> list[Reply]:
        """``/helpdesk reset-password`` and friends; free text falls back to routing."""
        with _turn("command"), self.speaking_to(actor):
            return await answered("command", lambda: self._command(actor, text), as_list)

    async def on_button(self, actor: Actor, action: str, value: str) -> list[Reply]:
        """A click, dispatched through the table of action ids; unknown ids are stale."""
        with _turn("button"), self.speaking_to(actor):
            known = ActionId.parse(action)
            handler = self._buttons.get(known) if known is not None else None
            if handler is None:
                return [stale()]
            return await answered(f"button:{known}", lambda: handler(actor, value), as_list)

    async def on_form(
        self, actor: Actor, action: str, value: str, values: Mapping[str, str]
    ) -> FormResult:
        """A submitted form: the request with its justification and duration, or a denial."""
        new_correlation_id()  # a form's answer is Bolt's: its span is the request's
        known = ActionId.parse(action)
        form = self._forms.get(known) if known is not None else None

        async def submit() -> FormResult:
            errors = await form.check(actor.slack_user_id, value, values) if form else {}
            if errors:
                return FormResult(errors=errors)
            if form is None:
                return FormResult(replies=[stale()])
            return await form.submit(actor, value, values)

        with self.speaking_to(actor):
            return await answered(
                f"form:{known or 'unknown'}", submit, lambda reply: FormResult(replies=[reply])
            )

    async def form_errors(
        self, slack_user: str, action: str, value: str, values: Mapping[str, str]
    ) -> dict[str, str]:
        """Problems with a submitted form, by field; empty when it can be acted on.

        Cheap (no directory call): Slack needs the answer within three seconds. When
        the check itself fails the form is accepted: ``on_form`` checks again and
        answers that failure.
        """
        known = ActionId.parse(action)
        form = self._forms.get(known) if known is not None else None
        if form is None:
            return {}
        try:
            return await form.check(slack_user, value, values)
        except Exception as exc:
            log.warning("form_check_failed", form=str(known), error=type(exc).__name__)
            return {}

    async def home(self, actor: Actor) -> Home:
        """The App Home: help, the employee's own requests and requests waiting for them.

        An IT admin also gets the admin sections (from ``admin``); anyone else none.
        When building it fails, the help is shown under the failure's notice.
        """
        with self.speaking_to(actor):
            return await answered(
                "home", lambda: self._home(actor),
                lambda reply: Home(self.help(), notice=reply.text),
            )

    async def start(
        self, actor: Actor, intent: Intent, text: str, group: str | None = None
    ) -> list[Reply]:
        """Start the flow of ``intent``; out of scope when it has none."""
        if intent is Intent.GROUP_ACCESS:
            return await self._group_access(actor, text, group)
        if intent is Intent.THANKS:
            return [Reply(t("You're welcome! Message me any time you need help."))]
        if intent in (Intent.GREETING, Intent.HELP):
            return [self.help(greeting=intent is Intent.GREETING)]
        flow = self._flows.get(intent)
        if flow is None:
            return [self._out_of_scope()]
        # The employee's words go on an identity check's card as its reason.
        REQUEST_REASON.set(text or None)
        return await flow(actor)

    # -- routing --------------------------------------------------------------------
    async def _message(self, actor: Actor, text: str) -> list[Reply]:
        routed = self.router.classify(text, actor.locale)
        speak(routed.language)
        if routed.needs_clarification:
            return [self._clarify(routed.alternatives)]
        return await self.start(actor, routed.intent, text, routed.group)

    async def _command(self, actor: Actor, text: str) -> list[Reply]:
        word = text.strip().lower().replace("_", "-")
        if word in _COMMANDS:
            return await self.start(actor, _COMMANDS[word], text)
        if word == "status":
            return await self._admin_status(actor)
        first, _, rest = word.partition(" ")
        if first in {"request", "access"}:
            return await self._group_access(actor, rest, None)
        return await self.on_message(actor, text)

    async def _start_clicked(self, actor: Actor, value: str) -> list[Reply]:
        # ``intent`` or ``intent:language`` (the language of the menu the button was on).
        value, _, language = value.partition(":")
        speak(language)
        try:
            intent = Intent(value)
        except ValueError:
            return [stale()]
        return await self.start(actor, intent, "")

    async def _cancel_clicked(self, actor: Actor, token: str) -> list[Reply]:
        claimed = await self.store.claim_pending(
            token, actor.slack_user_id, state=ConfirmationState.CANCELLED, by=turn_key()
        )
        if claimed is None:
            return [stale()]
        speak(str(claimed.payload.get("lang") or ""))
        return [Reply(t("Cancelled. Nothing was changed."), replaces_prompt=True)]

    async def _group_access(self, actor: Actor, text: str, group: str | None) -> list[Reply]:
        if self.access_dialogue is None or self.access is None or not self.access.offered:
            return [
                Reply(
                    t(
                        "Access requests aren't handled in this chat yet. Please ask {where}.",
                        where=self.service._where_to_go(),
                    )
                )
            ]
        return await self.access_dialogue.start(actor, group, text)

    def _offered(self) -> list[Intent]:
        offered: list[Intent] = [
            i for i, cap in _CAPABILITY_OF.items()
            if i is not Intent.GROUP_ACCESS and self.service.providers.offers(cap)
        ]
        if self.access is not None and self.access.offered:
            offered.append(Intent.GROUP_ACCESS)
        return offered

    def help(self, greeting: bool = False) -> Reply:
        """What the bot can do here, with a button to start each."""
        offered = [i for i in self._offered() if i in _HELP_LINES]
        head = t("Hi!") + " " if greeting else ""
        body = "\n".join(f"• {t(_HELP_LINES[i])}" for i in offered)
        body = body or "• " + t("point you to the right people")
        text = head + t(
            "I'm the IT helpdesk bot. Here's what I can do for you, right here:\n{body}\n"
            "For anything else, ask {where}.",
            body=body, where=self.service._where_to_go(),
        )
        return Reply(text, [self._start_button(i) for i in offered])

    @staticmethod
    def _start_button(intent: Intent) -> Button:
        """A button starting ``intent``'s flow, which answers in the language it was shown in."""
        return Button(t(_START_LABEL[intent]), ActionId.START, f"{intent.value}:{current()}")

    def _out_of_scope(self) -> Reply:
        return Reply(
            t(
                "Sorry, that's not something I can help with. Please ask {where}. "
                "Type *help* to see what I can do.",
                where=self.service._where_to_go(),
            )
        )

    def _clarify(self, alternatives: Sequence[Intent]) -> Reply:
        offered = set(self._offered())
        choices = [i for i in alternatives if i in offered and i in _START_LABEL][:3]
        if not choices:
            return self._out_of_scope()
        return Reply(
            t("I'm not sure I understood. Did you mean:"),
            [self._start_button(i) for i in choices],
        )

    async def _home(self, actor: Actor) -> Home:
        sections = await self.admin.home_sections(actor) if self.admin is not None else ()
        if self.access_dialogue is None:
            return Home(self.help(), sections=sections)
        mine, waiting = await self.access_dialogue.home_lists(actor)
        return Home(self.help(), mine, waiting, sections)

    async def _admin_status(self, actor: Actor) -> list[Reply]:
        if self.admin is None:
            return [
                Reply(
                    t(
                        "Connector status isn't available here. Please ask {where}.",
                        where=self.service._where_to_go(),
                    )
                )
            ]
        return await self.admin.status(actor)


__all__ = ["AdminDesk", "Conversation"]


@contextlib.contextmanager
def _turn(kind: str) -> Iterator[None]:
    """One employee turn: a new correlation id, and the span its connector calls nest in."""
    with tracing.span("helpdesk.turn", new_correlation_id(), kind=kind):
        yield
