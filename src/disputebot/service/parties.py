"""The reported party's channel: claim links, party notices, statements, evidence sharing.

A Telegram bot cannot write to someone who never started it, so staff hand the account's owner
a single-use, expiring claim link (``/claimlink ACCOUNT``); opening it (``/start claim_…``)
links the chat to the account. Only the token's SHA-256 is stored, so a database dump holds no
usable link.

What reaches a linked party is chosen here and nowhere else: that a report exists (its case id,
category and answer deadline), the facts staff write for them, and the evidence items staff
marked shareable. Never the reporter's id, name or username, their description, or any other
evidence. A chat that is not linked to a case's account gets the same answer as an unknown
case, so case ids cannot be probed.

Claim links are only issued for an account named with certainty (a store id or a store link):
a bare seller name could be anyone's, and a link to it would show its holder reports against
every seller of that name. A party linked after a report was filed is told of every open case
against the account when the link is claimed, and its answer window counts from that notice
(``party:notified`` events on the case: the deadline runs from the latest of the filing and the
notices). A link is personal data of the chat that holds it: ``forget_links`` ends a chat's
links, for ``/forgetme``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
from datetime import datetime

from disputebot.cases import reasons
from disputebot.cases.ids import normalize_case_id
from disputebot.cases.lifecycle import Action, ActorRole, IllegalTransition
from disputebot.cases.records import (
    OPEN_STATUSES,
    CaseChange,
    CaseEvent,
    CaseRecord,
    CaseSummary,
    ClaimLink,
    EvidenceSource,
    PartyLink,
)
from disputebot.engine.answers import evidence_list
from disputebot.engine.context import Checks
from disputebot.engine.effects import N_, Button, Finish, Media, Msg, Say
from disputebot.engine.events import CommandReceived
from disputebot.engine.prompts import account_value, when
from disputebot.policy.abuse import ReporterFacts
from disputebot.policy.accounts import AccountProblem, account_to_json, parse_account
from disputebot.ports import ChatKey, UnitOfWork
from disputebot.service import cards
from disputebot.service.addons import Addon, AddonContext, CardPart
from disputebot.service.answers import Actor, DeskAnswer, StartFlow, staff_role
from disputebot.service.replies import option_label
from disputebot.service.review import chat_of, open_button

__all__ = [
    "CLAIM_PREFIX",
    "NOTICE_FLOW",
    "STATEMENT_FLOW",
    "Parties",
    "claim_hash",
    "forget_links",
]

log = logging.getLogger(__name__)

STATEMENT_FLOW = "statement"
NOTICE_FLOW = "party_notice"
CLAIM_PREFIX = "claim_"
# Telegram's deep-link parameter: at most 64 characters of [A-Za-z0-9_-]. 32 random bytes
# are 43 characters of URL-safe base64, so ``claim_`` and the token take 49.
_TOKEN_BYTES = 32
_START_MAX = 64
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# The audit event kinds this module writes on cases.
STATEMENT_KIND = "party_statement"
NOTIFIED = "party:notified"
UNREACHABLE = "party:unreachable"
TOLD = "party:told"
SHAREABLE = "party:shareable"
# How many of an account's cases a newly linked party is told about at most (newest first).
_OPEN_CASES = 200


def claim_hash(token: str) -> str:
    """What is stored of a claim token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class Parties(Addon):
    flows = frozenset({STATEMENT_FLOW, NOTICE_FLOW})
    staff_commands = frozenset({"claimlink", "unlink"})
    staff_verbs = frozenset({"shr", "sht", "tp"})
    prefixes = ("pt:",)
    fact_checks = Checks.ACCOUNT  # the accounts linked to the chat

    def __init__(self, ctx: AddonContext) -> None:
        self._ctx = ctx

    # --- commands ------------------------------------------------------------------------------

    async def command(
        self, uow: UnitOfWork, chat: ChatKey, event: CommandReceived, locale: str
    ) -> DeskAnswer | None:
        if event.name == "start" and event.args.startswith(CLAIM_PREFIX):
            return DeskAnswer([await self._claim(uow, chat, event.args)])
        if event.name == "statement":
            case_id = normalize_case_id(event.args) if event.args else None
            if case_id is None:
                return DeskAnswer([Say((Msg("party.statement.usage"),))])
            case = await self._party_case(uow, chat, case_id)
            if case is None:  # not a case, or not about this chat's account: the same answer
                return DeskAnswer([Say((Msg("party.statement.unknown", {"case_id": case_id}),))])
            return self._begin_statement(case)
        return None  # any other /start is the engine's

    async def staff_command(
        self, uow: UnitOfWork, actor: Actor, event: CommandReceived, locale: str
    ) -> DeskAnswer | None:
        words = event.args.split(maxsplit=1)
        if event.name == "unlink":
            return DeskAnswer([await self._revoke(uow, event.args)])
        if words and words[0].lower() == "revoke":
            return DeskAnswer([await self._revoke(uow, words[1] if len(words) > 1 else "")])
        return DeskAnswer([await self._create_claim(uow, actor, event.args)])

    def _parse(self, text: str) -> tuple[str, dict[str, str | None]] | Say:
        """The account's key and JSON, or the usage with what is wrong with ``text``."""
        usage = Msg("party.claimlink.usage")
        if not text.strip() or self._ctx.profile is None:
            return Say((usage,))
        parsed = parse_account(text, self._ctx.profile)
        if isinstance(parsed, AccountProblem):
            # The same explanations the report flow and /check give for this text.
            key = "policy.account." + parsed.code
            return Say((Msg(key, {"item_id": parsed.item_id or ""}), usage))
        return parsed.key, account_to_json(parsed)

    async def _create_claim(self, uow: UnitOfWork, actor: Actor, text: str) -> Say:
        parsed = self._parse(text)
        if isinstance(parsed, Say):
            return parsed
        key, account = parsed
        if account.get("confidence") != "high":
            # A seller name is not an account: whoever claimed it would hear of reports
            # against every seller of that name.
            refusal = Msg("party.claimlink.not_a_store", {"account": account_value(account)})
            return Say((refusal, Msg("party.claimlink.usage")))
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        start = CLAIM_PREFIX + token
        now = self._ctx.clock.now()
        expires = now + self._ctx.rules.claim_link_ttl
        await uow.parties.add_claim(
            ClaimLink(
                token_hash=claim_hash(token),
                account_key=key,
                account=account,
                created_by=actor.ref,
                created_at=now,
                expires_at=expires,
            )
        )
        bot = self._ctx.rules.bot_username
        link = f"https://t.me/{bot.lstrip('@')}?start={start}" if bot else f"/start {start}"
        log.info("claim link created for %s by %s", key, actor.ref)  # never the token
        params: dict[str, str | int | Msg] = {
            "account": account_value(account),
            "link": link,
            "expires": when(expires),
        }
        return Say((Msg("party.claimlink.created", params),))

    async def _revoke(self, uow: UnitOfWork, text: str) -> Say:
        parsed = self._parse(text)
        if isinstance(parsed, Say):
            return parsed
        key, account = parsed
        linked = await uow.parties.links(key)
        now = self._ctx.clock.now()
        ended = await uow.parties.revoke(key, now)
        for link in linked:
            chat = chat_of(link.chat_ref)
            if chat is not None:
                say = Say((Msg("party.unlinked", {"account": account_value(link.account)}),))
                await uow.outbox.put(chat, say, await self._locale(uow, chat), now=now)
        log.info("claim links and links of %s revoked: %d", key, ended)
        params: dict[str, str | int | Msg] = {
            "account": account_value(account),
            "count": ended,
            "chats": len(linked),
        }
        return Say((Msg("party.claimlink.revoked", params),))

    async def _claim(self, uow: UnitOfWork, chat: ChatKey, args: str) -> Say:
        token = args.removeprefix(CLAIM_PREFIX).strip()
        unknown = Say((Msg("party.claim.unknown"),))
        if not token or len(CLAIM_PREFIX + token) > _START_MAX or not set(token) <= _TOKEN_CHARS:
            return unknown
        digest = claim_hash(token)
        claim = await uow.parties.claim(digest)
        if claim is None:
            return unknown
        now = self._ctx.clock.now()
        refusal = _claim_refusal(claim, now)
        if refusal is not None:
            return Say((refusal,))
        if not await uow.parties.use_claim(digest, chat.user_ref, now):
            return Say((Msg("party.claim.used"),))  # another chat got there first
        await uow.parties.link(
            PartyLink(claim.account_key, claim.account, chat.user_ref, linked_at=now)
        )
        account = account_value(claim.account)
        creator = chat_of(claim.created_by)
        if creator is not None and await self._is_staff(uow, creator):
            say = Say((Msg("party.claimlink.claimed", {"account": account}),))
            await uow.outbox.put(creator, say, await self._locale(uow, creator), now=now)
        told = await self._tell_open_cases(uow, chat, claim, now)
        log.info("%s linked to %s (%d open cases)", chat.user_ref, claim.account_key, told)
        text = [Msg("party.claim.linked", {"account": account}), Msg("party.claim.explain")]
        if told:
            text.append(Msg("party.claim.open_cases", {"count": told}))
        return Say(tuple(text))

    async def _tell_open_cases(
        self, uow: UnitOfWork, chat: ChatKey, claim: ClaimLink, now: datetime
    ) -> int:
        """Send the newly linked chat the notice of every open case against the account it was
        not told of yet; each case records the notice, from which its answer window counts."""
        summaries: list[CaseSummary] = await uow.cases.against_account(
            claim.account_key, limit=_OPEN_CASES
        )
        link = PartyLink(claim.account_key, claim.account, chat.user_ref, linked_at=now)
        locale = await self._locale(uow, chat)
        told = 0
        for summary in reversed(summaries):  # oldest first
            if summary.status not in OPEN_STATUSES:
                continue
            case = await uow.cases.get(summary.public_id)
            if case is None or chat.user_ref in _notified_chats(case):
                continue
            say = self._notice(case, link, notified_at=now)
            await uow.outbox.put(chat, say, locale, now=now, case_id=case.public_id)
            await self._record(uow, case, NOTIFIED, "system", chat.user_ref)
            told += 1
        return told

    # --- the reporter's side -------------------------------------------------------------------

    async def facts(self, uow: UnitOfWork, chat: ChatKey, facts: ReporterFacts) -> ReporterFacts:
        """A chat linked to an account may not report it (the ``self_report`` refusal)."""
        own = {link.account_key for link in await uow.parties.accounts_of(chat.user_ref)}
        if not own:
            return facts
        return dataclasses.replace(facts, own_account_keys=facts.own_account_keys | own)

    # --- a case filed --------------------------------------------------------------------------

    async def on_filed(self, uow: UnitOfWork, case: CaseRecord) -> None:
        """Tell every chat linked to the account; say on the case whether anyone was told."""
        now = self._ctx.clock.now()
        reached: list[str] = []
        for link in await uow.parties.links(case.account_key):
            chat = chat_of(link.chat_ref)
            if chat is None:
                continue
            await uow.outbox.put(
                chat,
                self._notice(case, link),
                await self._locale(uow, chat),
                now=now,
                case_id=case.public_id,
            )
            reached.append(link.chat_ref)
        kind = NOTIFIED if reached else UNREACHABLE
        await self._record(uow, case, kind, "system", ", ".join(reached))

    def _notice(
        self, case: CaseRecord, link: PartyLink, *, notified_at: datetime | None = None
    ) -> Say:
        """The notice of a report: the case id, its category and the deadline (counted from
        ``notified_at`` when the notice comes after the filing). Nothing from the reporter: not
        who they are, not what they wrote, no evidence."""
        params: dict[str, str | int | Msg] = {
            "account": account_value(link.account),
            "case_id": case.public_id,
            "category": self._category(case),
            "deadline": when(self._deadline(case, notified_at)),
        }
        return Say(
            (Msg("party.notice", params), Msg("party.notice.answer_by", params)),
            ((Button(Msg("party.notice.answer_button"), f"pt:st:{case.public_id}"),),),
        )

    def _category(self, case: CaseRecord) -> Msg:
        flow = self._ctx.book.get(case.flow, case.flow_version)
        label = option_label(flow, "category", case.category)
        return label or Msg("bot.category.unknown", {"value": case.category})

    def _deadline(self, case: CaseRecord, notified_at: datetime | None = None) -> datetime:
        """The end of the party's answer window: counted from the latest of the filing, the
        notices recorded on the case and ``notified_at`` (a notice being sent now), so a party
        linked late still gets the whole window."""
        start = max(
            [
                case.created_at,
                *(e.at for e in case.events if e.kind == NOTIFIED and e.note),
                *([notified_at] if notified_at is not None else []),
            ]
        )
        return start + self._ctx.rules.party_answer

    # --- the party's statement -----------------------------------------------------------------

    async def button(self, uow: UnitOfWork, chat: ChatKey, data: str) -> DeskAnswer | None:
        """``pt:st:<case>``: answer a report; ``None`` (a stale button) if not this chat's."""
        _, verb, case_id = ([*data.split(":", 2), "", ""])[:3]
        case = await self._party_case(uow, chat, case_id) if verb == "st" else None
        return None if case is None else self._begin_statement(case)

    def _begin_statement(self, case: CaseRecord) -> DeskAnswer:
        closed = self._closed(case)
        if closed is not None:
            return DeskAnswer([closed])
        return DeskAnswer(start=StartFlow(STATEMENT_FLOW, {"case_id": case.public_id}))

    async def _party_case(self, uow: UnitOfWork, chat: ChatKey, case_id: str) -> CaseRecord | None:
        """The case, if this chat is linked to the account it reports; else ``None``."""
        case = await uow.cases.get(case_id) if case_id else None
        if case is None:
            return None
        linked = {link.account_key for link in await uow.parties.accounts_of(chat.user_ref)}
        return case if case.account_key in linked else None

    def _closed(self, case: CaseRecord) -> Say | None:
        """Why the party may no longer answer ``case``; ``None`` while they may."""
        deadline = self._deadline(case)
        if case.status in OPEN_STATUSES and self._ctx.clock.now() <= deadline:
            return None
        params = {"case_id": case.public_id, "deadline": when(deadline)}
        return Say((Msg("party.statement.closed", params),))

    async def finish(self, uow: UnitOfWork, chat: ChatKey, action: Finish) -> list[Say]:
        if action.flow == NOTICE_FLOW:
            return await self._finish_notice(uow, chat, action)
        case_id = str(action.context.get("case_id", ""))
        case = await self._party_case(uow, chat, case_id)
        if case is None:  # unlinked while writing
            return [Say((Msg("party.statement.unknown", {"case_id": case_id}),))]
        closed = self._closed(case)
        if closed is not None:
            return [closed]
        text = str(action.answers.get("text") or "")
        files = evidence_list(action.answers.get("files"))
        try:
            await self._ctx.actions.act(
                uow,
                case,
                Action.STATEMENT,
                Actor(chat, ActorRole.PARTY),
                note=text,
                evidence=files,
                evidence_source=EvidenceSource.PARTY,
                kind=STATEMENT_KIND,
            )
        except IllegalTransition:
            return [
                self._closed(case) or Say((Msg("party.statement.unknown", {"case_id": case_id}),))
            ]
        await self._tell_staff(uow, case, chat.channel)
        params: dict[str, str | int | Msg] = {"case_id": case.public_id, "count": len(files)}
        return [Say((Msg("party.statement.sent", params),))]

    async def _tell_staff(self, uow: UnitOfWork, case: CaseRecord, channel: str) -> None:
        """The case's assignee, if still staff, else the staff group (as for a reporter's
        answer)."""
        target = chat_of(case.assignee) if case.assignee else None
        if target is not None and not await self._is_staff(uow, target):
            target = None  # no longer staff: case news must not reach them
        if target is None and self._ctx.staff_chat_id is not None:
            target = ChatKey(channel, self._ctx.staff_chat_id)
        if target is None:
            return
        say = Say(
            (Msg("party.staff.statement", {"case_id": case.public_id}),),
            ((open_button(case.public_id),),),
        )
        now = self._ctx.clock.now()
        locale = await self._locale(uow, target)
        await uow.outbox.put(target, say, locale, now=now, case_id=case.public_id)

    # --- staff: the card, sharing evidence, telling the party ----------------------------------

    async def card(self, uow: UnitOfWork, case: CaseRecord, actor: Actor) -> CardPart:
        links = await uow.parties.links(case.account_key)
        lines = [
            Msg("card.party.linked", {"count": len(links)})
            if links
            else Msg("card.party.unreachable")
        ]
        lines += [
            Msg("card.party.statement", {"at": when(e.at), "text": e.note or "-"})
            for e in case.events
            if e.kind == STATEMENT_KIND
        ]
        from_party = [
            i
            for i in range(1, len(case.evidence) + 1)
            if case.source_of(i - 1) is EvidenceSource.PARTY
        ]
        if from_party:
            lines.append(Msg("card.party.files", {"items": _numbers(from_party)}))
        if case.evidence:
            shared = sorted(i + 1 for i in case.shareable if i < len(case.evidence))
            lines.append(
                Msg("card.party.shared", {"items": _numbers(shared)})
                if shared
                else Msg("card.party.shared.none")
            )
        row = []
        if case.evidence:
            row.append(Button(Msg("card.party.share_button"), f"sf:shr:{case.public_id}"))
        if links:
            row.append(Button(Msg("card.party.tell_button"), f"sf:tp:{case.public_id}"))
        return CardPart(lines=tuple(lines), rows=(tuple(row),) if row else ())

    async def staff_button(
        self, uow: UnitOfWork, actor: Actor, case: CaseRecord, verb: str, arg: str
    ) -> DeskAnswer | None:
        if verb == "shr":
            return DeskAnswer([_share_list(case)])
        if verb == "sht":
            # ``<n>:1`` makes item n shareable, ``<n>:0`` not: the wanted state, so a double tap
            # or a list pressed twice sets it once. Anything else (forged, or the toggles of an
            # earlier version) is a stale button.
            number, _, wanted = arg.partition(":")
            if (
                not number.isdigit()
                or not 1 <= int(number) <= len(case.evidence)
                or wanted not in {"0", "1"}
            ):
                return None
            position = int(number) - 1
            on = wanted == "1"
            if (position in case.shareable) != on:
                await uow.cases.set_shareable(case.public_id, position, on)
                note = f"{number}: {'on' if on else 'off'}"
                await self._record(uow, case, SHAREABLE, actor.ref, note)
            fresh = await uow.cases.get(case.public_id)
            return DeskAnswer([_share_list(fresh or case)])
        if verb == "tp":
            if not await uow.parties.links(case.account_key):
                return DeskAnswer(
                    [Say((Msg("party.tell.no_links", {"case_id": case.public_id}),))]
                )
            return DeskAnswer(start=StartFlow(NOTICE_FLOW, {"case_id": case.public_id}))
        return None

    async def _finish_notice(self, uow: UnitOfWork, chat: ChatKey, action: Finish) -> list[Say]:
        """Staff's facts for the party, with the shareable evidence only; the role is checked
        again now."""
        role = await staff_role(uow, chat, self._ctx.admins)
        if role is None:
            return [Say((Msg("staff.not_staff_anymore"),))]
        case_id = str(action.context.get("case_id", ""))
        case = await uow.cases.get(case_id)
        if case is None:
            return [Say((Msg("staff.case.unknown", {"case_id": case_id}),))]
        links = await uow.parties.links(case.account_key)
        if not links:
            return [Say((Msg("party.tell.no_links", {"case_id": case.public_id}),))]
        # What staff wrote, without any reporter's chat in it (as in the statements of reasons).
        merged = await uow.cases.merged_from(case.public_id)
        reporters = [case.reporter_id, *(m.reporter_id for m in merged)]
        facts = reasons.redact(str(action.answers.get("facts") or ""), reporters)
        media = shared_media(case)
        now = self._ctx.clock.now()
        told: list[str] = []
        for link in links:
            target = chat_of(link.chat_ref)
            if target is None:
                continue
            params: dict[str, str | int | Msg] = {
                "case_id": case.public_id,
                "account": account_value(link.account),
            }
            text = [Msg("party.told", params), Msg("party.told.facts", {"text": facts})]
            if media:
                text.append(Msg("party.told.files", {"count": len(media)}))
            say = Say(tuple(text), media=media)
            locale = await self._locale(uow, target)
            await uow.outbox.put(target, say, locale, now=now, case_id=case.public_id)
            told.append(link.chat_ref)
        await self._record(uow, case, TOLD, chat.user_ref, facts)
        done: dict[str, str | int | Msg] = {
            "case_id": case.public_id,
            "count": len(told),
            "files": len(media),
        }
        return [Say((Msg("party.tell.sent", done),))]

    # --- helpers -------------------------------------------------------------------------------

    async def _record(
        self, uow: UnitOfWork, case: CaseRecord, kind: str, actor: str, note: str
    ) -> None:
        """An audit line on the case that changes nothing else."""
        event = CaseEvent(
            at=self._ctx.clock.now(),
            actor=actor,
            kind=kind,
            from_status=None,
            to_status=None,
            note=note,
        )
        await uow.cases.apply(case.public_id, CaseChange(event=event))

    async def _locale(self, uow: UnitOfWork, chat: ChatKey) -> str:
        return await uow.reporters.locale(chat) or self._ctx.default_locale

    async def _is_staff(self, uow: UnitOfWork, chat: ChatKey) -> bool:
        return await staff_role(uow, chat, self._ctx.admins) is not None


async def forget_links(uow: UnitOfWork, chat: ChatKey, now: datetime) -> int:
    """End every link of ``chat`` to an account (``/forgetme``: a link is this person's data,
    and they can be linked again only by a new claim link from staff); how many ended."""
    ended = 0
    for link in await uow.parties.accounts_of(chat.user_ref):
        ended += await uow.parties.revoke(link.account_key, now, chat_ref=chat.user_ref)
    return ended


def _notified_chats(case: CaseRecord) -> set[str]:
    """The chats told of ``case`` (the notes of its ``party:notified`` events)."""
    return {
        chat.strip()
        for e in case.events
        if e.kind == NOTIFIED
        for chat in e.note.split(",")
        if chat.strip()
    }


def _claim_refusal(claim: ClaimLink, now: datetime) -> Msg | None:
    if claim.revoked_at is not None:
        return Msg("party.claim.revoked")
    if claim.used_at is not None:
        return Msg("party.claim.used")
    if now >= claim.expires_at:
        return Msg("party.claim.expired", {"expires": when(claim.expires_at)})
    return None


def shared_media(case: CaseRecord) -> tuple[Media, ...]:
    """The evidence items staff marked shareable with the reported party, as media; nothing
    else of the evidence ever goes to the party."""
    shared = tuple(f for i, f in enumerate(case.evidence) if i in case.shareable)
    if not shared:
        return ()
    return cards.evidence_media(dataclasses.replace(case, evidence=shared)).media


def _share_list(case: CaseRecord) -> Say:
    """The case's evidence, one toggle button per item (✅ shareable, ⬜ not)."""
    if not case.evidence:
        return Say((Msg("card.evidence.none"),))
    rows = tuple(
        (
            Button(
                Msg(
                    N_("party.share.on") if i in case.shareable else N_("party.share.off"),
                    {"n": i + 1, "name": f.name},
                ),
                # Pressing asks for the other state than the one shown.
                f"sf:sht:{case.public_id}:{i + 1}:{0 if i in case.shareable else 1}",
            ),
        )
        for i, f in enumerate(case.evidence)
    )
    return Say((Msg("party.share.title", {"case_id": case.public_id}),), rows, None, "choice")


def _numbers(items: list[int]) -> str:
    return ", ".join(str(i) for i in items)
