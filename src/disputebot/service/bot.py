"""The application service: one inbound event in, replies out, one transaction in between.

For every event: load the chat's session (and, only when the engine will check abuse, the
reporter's facts), run the engine, then write the new session, any filed case with its audit
event and receipt, and the event id — and commit once. A concurrent change to the same session
(optimistic lock) re-runs the whole event. Commands that are not part of a flow (``/help``,
``/tips``, ``/status``, ``/language``) are answered here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from disputebot.cases.ids import new_case_id
from disputebot.cases.records import Status, filed_record
from disputebot.engine import machine
from disputebot.engine.context import Context, Policies
from disputebot.engine.effects import FileCase, Finish, Msg, Say
from disputebot.engine.events import ButtonPressed, CommandReceived, Event, TextReceived
from disputebot.engine.outcome import Outcome
from disputebot.engine.prompts import account_value
from disputebot.engine.spec import FlowBook
from disputebot.engine.state import Session
from disputebot.logs import bind_case, log_context
from disputebot.metrics import Metrics, UpdateOutcome
from disputebot.ports import ChatKey, Clock, ConflictError, UnitOfWork, UnitOfWorkFactory
from disputebot.service import filing
from disputebot.service.addons import Addon, AddonContext, FairnessRules, first_of
from disputebot.service.answers import DeskAnswer
from disputebot.service.appeals import Appeals
from disputebot.service.campaigns import Campaigns
from disputebot.service.desk import VIEW_VERBS, StaffDesk
from disputebot.service.followup import INFO_FLOW, Followup
from disputebot.service.inbound import Inbound, Reply
from disputebot.service.parties import Parties, forget_links
from disputebot.service.replies import CommandReplies, option_label
from disputebot.service.review import CaseActions, SettleEvidence
from disputebot.service.standing import StandingDesk
from disputebot.service.statsview import StatsView

log = logging.getLogger(__name__)

_ATTEMPTS = 3
# The cases the current attempt at an event filed; counted once the attempt commits.
_filed: ContextVar[list[str] | None] = ContextVar("disputebot_filed", default=None)
# The chat's stored locale as the current attempt leaves it (``None``: none stored, as after
# /forgetme); it enters the locale cache once the attempt commits.
_stored_locale: ContextVar[dict[ChatKey, str | None] | None] = ContextVar(
    "disputebot_stored_locale", default=None
)
# Chats whose locale is cached; past this many the oldest entries make room.
_LOCALE_CACHE_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class LocaleChoice:
    """The locales the catalogs hold, and the one to fall back to."""

    available: tuple[str, ...]
    default: str
    negotiate: Callable[[str | None, Sequence[str], str], str]


class BotService:
    """Applies inbound events; the only writer of sessions and filed cases."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        book: FlowBook,
        policies: Policies,
        *,
        clock: Clock,
        locales: LocaleChoice,
        case_ids: Callable[[], str] = new_case_id,
        metrics: Metrics | None = None,
        admins: frozenset[int] = frozenset(),
        staff_chat_id: int | None = None,
        stats: StatsView | None = None,
        reminder_after: timedelta | None = None,
        platform_events: bool = False,
        fairness: FairnessRules | None = None,
        evidence_settled: SettleEvidence | None = None,
    ) -> None:
        """``reminder_after``: how long a case may wait on staff before its reporter is told
        it is still under review (``None`` or zero: never; see ``service.reminders``).
        ``platform_events``: write case events for the marketplace's webhook to the outbox.
        ``fairness``: the settings of the reported party's channel, appeals, reporter standing
        and coordinated-report checks. ``evidence_settled``: returns once the evidence files at
        the given paths are durable (``EvidenceVault.settle``); a case waits for it before it
        is filed."""
        self._uow = uow_factory
        self._book = book
        self._policies = policies
        self._clock = clock
        self._locales = locales
        self._case_ids = case_ids
        self._commands = CommandReplies(book, locales.available)
        self._metrics = metrics if metrics is not None else Metrics()
        self._staff_chat_id = staff_chat_id
        self._actions = CaseActions(
            book,
            clock,
            default_locale=locales.default,
            staff_chat_id=staff_chat_id,
            reminder_after=reminder_after,
            platform_events=platform_events,
            admins=admins,
            evidence_settled=evidence_settled,
        )
        self._desk = StaffDesk(book, clock, self._actions, admins=admins, stats=stats)
        self._followup = Followup(self._actions, policies.profile)
        ctx = AddonContext(
            book,
            clock,
            self._actions,
            fairness or FairnessRules(),
            default_locale=locales.default,
            staff_chat_id=staff_chat_id,
            admins=admins,
            profile=policies.profile,
        )
        self._addons: list[Addon] = [
            Parties(ctx),
            Appeals(ctx),
            StandingDesk(ctx),
            Campaigns(ctx),
        ]
        self._actions.addons = self._addons
        self._desk.addons = self._addons
        # Each chat's committed locale, to spare a SELECT per event. Only this service writes a
        # chat's locale, from that chat's own events, which one process applies one at a time
        # (the sequencer): an entry is dropped before any write to it and set again only after
        # the write commits, so it is never staler than the database.
        self._chat_locales: dict[ChatKey, str] = {}

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Apply one event exactly once; return the replies for the sender's chat."""
        started = time.perf_counter()
        try:
            with log_context(case_id=None):
                replies = await self._handle_retrying(inbound)
        except Exception:
            self._observe(inbound, "error", started)
            raise
        self._observe(inbound, "duplicate" if replies is None else "applied", started)
        return replies or []

    def _observe(self, inbound: Inbound, outcome: UpdateOutcome, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._metrics.update_handled(inbound.chat.channel, outcome, elapsed)

    async def _handle_retrying(self, inbound: Inbound) -> list[Reply] | None:
        """The replies, or ``None`` for an event applied before."""
        for attempt in range(1, _ATTEMPTS + 1):
            bind_case(None)
            filed: list[str] = []
            locales: dict[ChatKey, str | None] = {}
            token = _filed.set(filed)
            locales_token = _stored_locale.set(locales)
            try:
                replies = await self._handle_once(inbound)
            except ConflictError:
                if attempt == _ATTEMPTS:
                    raise
                log.info("session changed concurrently, retrying event %s", inbound.event_id)
                continue
            finally:
                _filed.reset(token)
                _stored_locale.reset(locales_token)
            for _ in filed:  # committed with the event
                self._metrics.report_filed(inbound.chat.channel)
            return replies
        raise AssertionError("unreachable")

    def keeps_keyboard(self, data: str, *, private: bool = True) -> bool:
        """Whether a pressed button's message keeps its buttons.

        Most buttons answer the question they sit under, so channels remove them once
        pressed. A question from staff keeps its Answer button (an answer begun can be
        cancelled and begun again). Staff buttons that only show something (the evidence, a
        card from a queue page or an announcement) leave the card or page usable, and the
        staff group's announcements serve every member, so no press there removes them.
        """
        if data.startswith(("rp:ans:", "ap:", "pt:st:")):
            # An answer, a party's statement or an appeal can be begun, cancelled and begun
            # again from the message that offered it.
            return True
        if not data.startswith("sf:"):
            return False
        return not private or data.split(":", 2)[1] in VIEW_VERBS

    async def waiting_replies(self, chat: ChatKey) -> int:
        """How many messages to ``chat`` wait in the outbox (``send_later``'s among them)."""
        async with self._uow() as uow:
            return await uow.outbox.pending_to(chat)

    async def send_later(self, replies: Sequence[Reply]) -> None:
        """Hand replies a channel could not send to the outbox, which delivers them at least
        once. For the replies to an event already applied: applying it again answers nothing."""
        if not replies:
            return
        async with self._uow() as uow:
            now = self._clock.now()
            for reply in replies:
                await uow.outbox.put(reply.chat, reply.say, reply.locale, now=now)
            await uow.commit()

    async def unseen(self, channel: str, event_ids: Sequence[str]) -> set[str]:
        """Which of these event ids have not been applied yet."""
        async with self._uow() as uow:
            return {i for i in event_ids if not await uow.updates.seen(channel, i)}

    async def opening(self, chat: ChatKey, language_code: str | None = None) -> list[Reply]:
        """What a chat sees when a channel (re)connects: its draft's current step, or hello."""
        async with self._uow() as uow:
            locale = await self._locale(uow, chat, language_code)
            stored = await uow.sessions.get(chat)
        if stored is None:
            return [Reply(chat, Say((Msg("bot.welcome"),)), locale)]
        outcome = machine.resume(self._book, Session.from_json(stored.data), Msg("engine.resumed"))
        return [Reply(chat, say, locale) for say in outcome.says]

    async def _handle_once(self, inbound: Inbound) -> list[Reply] | None:
        chat = inbound.chat
        async with self._uow() as uow:
            if inbound.event_id is not None:
                # Claimed first, in the transaction of the effect: it commits with it, and a
                # second delivery finds it (or, while this one runs, waits for it).
                now = self._clock.now()
                if not await uow.updates.claim(chat.channel, inbound.event_id, now):
                    return None
                for event_id in inbound.also_ids:  # an album's other items; some may be known
                    await uow.updates.claim(chat.channel, event_id, now)
            locale = await self._locale(uow, chat, inbound.language_code)
            says, locale = await self._apply(uow, inbound, locale)
            # Someone who writes again has unblocked the bot; a no-op for everyone else.
            await uow.outbox.mark_reachable(chat)
            await uow.commit()
        self._cache_locales()
        return [Reply(chat, say, locale) for say in says]

    async def _apply(
        self, uow: UnitOfWork, inbound: Inbound, locale: str
    ) -> tuple[list[Say], str]:
        """The replies, and the locale to render them in (``/language`` may change it)."""
        chat, event = inbound.chat, inbound.event
        if not inbound.private:
            return await self._group(uow, inbound, locale), locale
        stored = await uow.sessions.get(chat)
        session = Session.from_json(stored.data) if stored else None
        if inbound.edited:
            return self._with_prompt(session, Msg("bot.edit_ignored")), locale
        if inbound.forwarded and isinstance(event, TextReceived | CommandReceived):
            # A report is the reporter's own account of events; forwarded files are fine.
            return self._with_prompt(session, Msg("bot.forward_ignored")), locale
        chosen = self._language_choice(event)
        if chosen == "" and isinstance(event, CommandReceived):
            return [self._commands.language_menu(locale, Msg("bot.language.unknown"))], locale
        if chosen is not None:
            if not chosen:
                return self._with_prompt(session, Msg("engine.stale_button")), locale
            self._write_locale(chat, chosen)
            await uow.reporters.set_locale(chat, chosen, self._clock.now())
            return self._with_prompt(session, Msg("bot.language.set")), chosen
        if isinstance(event, ButtonPressed) and event.data in {"forget:yes", "forget:no"}:
            if event.data == "forget:no":
                return self._with_prompt(session, Msg("bot.forget.kept")), locale
            # Filed cases stay: they are the platform's record. The draft, the language
            # choice and the links to accounts are this person's alone.
            if stored is not None:
                await uow.sessions.delete(chat)
            self._write_locale(chat, None)
            await uow.reporters.forget(chat)
            await forget_links(uow, chat, self._clock.now())
            return [Say((Msg("bot.forget.done"),))], locale
        revision = stored.revision if stored else None
        answer = await self._desk_answer(uow, chat, event, locale)
        if answer is not None:
            return await self._answer(uow, chat, answer, session, revision), locale
        if isinstance(event, ButtonPressed) and (
            event.data.startswith(("sf:", "rp:")) or first_of(self._addons, event.data)
        ):
            # Not this person's to press (or no longer valid): like any stale button.
            return self._with_prompt(session, Msg("engine.stale_button")), locale
        handled = await self._service_command(uow, chat, event, session, locale)
        if handled is not None:
            return handled, locale
        now = self._clock.now()
        facts = None
        checks = machine.facts_needed(self._book, session, event)
        if checks:
            facts = await uow.cases.reporter_facts(chat.user_ref, now)
            for addon in self._addons:
                if addon.fact_checks & checks:
                    facts = await addon.facts(uow, chat, facts)
        outcome = machine.handle(self._book, session, event, Context(now, self._policies, facts))
        done: list[Say] = []
        for action in outcome.actions:
            if isinstance(action, FileCase):
                done += await self._file(uow, chat, action, locale)
            else:
                done += await self._finish(uow, chat, action)
        if outcome.changed:
            await self._save(uow, chat, outcome, revision)
        return [*done, *outcome.says], locale

    async def _desk_answer(
        self, uow: UnitOfWork, chat: ChatKey, event: Event, locale: str
    ) -> DeskAnswer | None:
        """Staff and reporter commands and buttons outside any flow; ``None`` if not one."""
        if isinstance(event, ButtonPressed):
            if event.data.startswith("sf:"):
                return await self._desk.button(uow, chat, event.data)
            if event.data.startswith("rp:"):
                return await self._followup.button(uow, chat, event.data)
            addon = first_of(self._addons, event.data)
            return None if addon is None else await addon.button(uow, chat, event.data)
        if isinstance(event, CommandReceived):
            for addon in self._addons:
                answer = await addon.command(uow, chat, event, locale)
                if answer is not None:
                    return answer
            answer = await self._desk.command(uow, chat, event, locale)
            return answer or await self._followup.command(uow, chat, event)
        return None

    async def _answer(
        self,
        uow: UnitOfWork,
        chat: ChatKey,
        answer: DeskAnswer,
        session: Session | None,
        revision: int | None,
    ) -> list[Say]:
        if answer.start is None:
            if session is not None and all(not say.buttons for say in answer.says):
                # Remind where the draft stands, unless the answer asks something itself.
                return [*answer.says, *machine.resume(self._book, session).says]
            return answer.says
        ctx = Context(self._clock.now(), self._policies, None)
        outcome = machine.start(
            self._book, answer.start.flow, ctx, outer=session, context=answer.start.context
        )
        await self._save(uow, chat, outcome, revision)
        return [*answer.says, *outcome.says]

    async def _finish(self, uow: UnitOfWork, chat: ChatKey, action: Finish) -> list[Say]:
        if action.flow == INFO_FLOW:
            return await self._followup.finish(uow, chat, action)
        addon = next((a for a in self._addons if action.flow in a.flows), None)
        if addon is not None:
            return await addon.finish(uow, chat, action)
        return await self._desk.finish(uow, chat, action)

    async def _group(self, uow: UnitOfWork, inbound: Inbound, locale: str) -> list[Say]:
        """The staff group's buttons act for the person who pressed them; the answer goes to
        that person's private chat. Anything else in a group is pointed to a private chat."""
        event = inbound.event
        staff_group = (
            self._staff_chat_id is not None and inbound.chat.chat_id == self._staff_chat_id
        )
        if not (staff_group and isinstance(event, ButtonPressed) and event.data.startswith("sf:")):
            return [Say((Msg("bot.private_only"),))]
        sender = inbound.sender
        answer = await self._desk.button(uow, sender, event.data)
        if answer is None:
            return []  # not staff: nothing happens and nothing is said in the group
        if answer.start is not None:
            stored = await uow.sessions.get(sender)
            session = Session.from_json(stored.data) if stored else None
            says = await self._answer(
                uow, sender, answer, session, stored.revision if stored else None
            )
        else:
            says = answer.says
        sender_locale = await uow.reporters.locale(sender) or locale
        # Filed under the case, so that purging the case purges its cards too.
        verb, _, rest = event.data.removeprefix("sf:").partition(":")
        case_id = rest.partition(":")[0] if verb != "q" and rest else None
        for say in says:
            await uow.outbox.put(
                sender, say, sender_locale, now=self._clock.now(), case_id=case_id
            )
        return []

    async def _save(
        self, uow: UnitOfWork, chat: ChatKey, outcome: Outcome, revision: int | None
    ) -> None:
        if outcome.session is None:
            if revision is not None:
                await uow.sessions.delete(chat, revision)
            return
        await uow.sessions.put(chat, outcome.session.to_json(), revision)

    async def _file(
        self, uow: UnitOfWork, chat: ChatKey, action: FileCase, locale: str
    ) -> list[Say]:
        now = self._clock.now()
        case = filing.new_case(action, self._case_ids(), chat.user_ref, now)
        await self._actions.settle(case.evidence)
        first_event = filing.filed_event(case)
        await uow.cases.add(case, first_event)
        await self._actions.track_reminder(uow, case.public_id, Status.SUBMITTED)
        await self._actions.platform_event(
            uow,
            "case.filed",
            case.public_id,
            status=Status.SUBMITTED,
            previous=None,
            account_key=case.account_key,
            category=case.category,
            actor_role="reporter",
        )
        category = self._category_label(action, case.category)
        receipt = filing.receipt(case, category)
        await uow.outbox.put(chat, receipt, locale, now=now, case_id=case.public_id)
        summary = Msg(
            "staff.new_case.summary",
            {"category": category, "account": account_value(case.account)},
        )
        await self._actions.announce(uow, case.public_id, chat.channel, summary)
        # Nothing above changes the case: built from what was added, not read back.
        stored = filed_record(case, first_event)
        for addon in self._addons:
            await addon.on_filed(uow, stored)
        bind_case(case.public_id)
        filed = _filed.get()
        if filed is not None:
            filed.append(case.public_id)
        log.info("case %s filed by %s", case.public_id, chat.user_ref)
        return []

    def _category_label(self, action: FileCase, value: str) -> Msg:
        flow = self._book.get(action.flow, action.version)
        label = option_label(flow, "category", value)
        return label or Msg("bot.category.unknown", {"value": value})

    async def _service_command(
        self,
        uow: UnitOfWork,
        chat: ChatKey,
        event: Event,
        session: Session | None,
        locale: str,
    ) -> list[Say] | None:
        if not isinstance(event, CommandReceived) or event.name in machine.ENGINE_COMMANDS:
            return None
        if event.name == "help":
            staff = await self._desk.role(uow, chat) is not None
            extra = (Msg("bot.help.staff"),) if staff else ()
            return self._with_prompt(session, Msg("bot.help"), *extra)
        if event.name == "tips":
            return self._with_prompt(session, Msg("bot.tips"))
        if event.name == "language":
            return [self._commands.language_menu(locale)]
        if event.name == "forgetme":
            return [self._commands.forget_menu()]
        if event.name == "status":
            cases = await uow.cases.list(reporter_id=chat.user_ref, limit=20)
            return self._with_prompt(session, *self._commands.status(cases, session))
        return None

    def _language_choice(self, event: Event) -> str | None:
        """The locale a language button or ``/language CODE`` asks for ("" if not offered)."""
        if isinstance(event, ButtonPressed) and event.data.startswith("lang:"):
            wanted = event.data.removeprefix("lang:")
        elif isinstance(event, CommandReceived) and event.name == "language" and event.args:
            wanted = event.args.replace("-", "_").lower()
        else:
            return None
        by_folded = {loc.lower(): loc for loc in self._locales.available}
        return by_folded.get(wanted.lower(), "")

    def _with_prompt(self, session: Session | None, *lead: Msg) -> list[Say]:
        if session is None:
            return [Say(lead)]
        return list(machine.resume(self._book, session, *lead).says)

    async def _locale(self, uow: UnitOfWork, chat: ChatKey, language_code: str | None) -> str:
        cached = self._chat_locales.get(chat)
        if cached is not None:
            return cached
        stored = await uow.reporters.locale(chat)
        if stored in self._locales.available:
            self._note_locale(chat, stored)
            return stored
        chosen = self._locales.negotiate(
            language_code, self._locales.available, self._locales.default
        )
        self._write_locale(chat, chosen)
        await uow.reporters.set_locale(chat, chosen, self._clock.now())
        return chosen

    def _write_locale(self, chat: ChatKey, locale: str | None) -> None:
        """Before writing a chat's locale (``None``: deleting it): its cache entry goes now,
        and comes back with ``locale`` once the write commits."""
        self._chat_locales.pop(chat, None)
        self._note_locale(chat, locale)

    def _note_locale(self, chat: ChatKey, locale: str | None) -> None:
        pending = _stored_locale.get()
        if pending is not None:  # only events commit; other reads cache nothing
            pending[chat] = locale

    def _cache_locales(self) -> None:
        """The attempt committed: what it read or wrote of locales is the database's now."""
        pending = _stored_locale.get()
        if not pending:
            return
        for chat, locale in pending.items():
            if locale is None:
                self._chat_locales.pop(chat, None)
                continue
            if len(self._chat_locales) >= _LOCALE_CACHE_SIZE and chat not in self._chat_locales:
                del self._chat_locales[next(iter(self._chat_locales))]
            self._chat_locales[chat] = locale
        pending.clear()
