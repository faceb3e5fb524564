"""A chat that talks to the real service (and store) the way a channel would."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from disputebot.engine.context import Policies
from disputebot.engine.effects import Button, Msg
from disputebot.engine.events import (
    ButtonPressed,
    Event,
    FilesReceived,
    text_event,
)
from disputebot.engine.spec import FlowBook
from disputebot.i18n.negotiate import negotiate
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ChatKey, Clock, UnitOfWork, UnitOfWorkFactory
from disputebot.service.bot import BotService, LocaleChoice
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Inbound, Reply
from tests.engine.transcript import keys_of
from tests.support import png_bytes

LOCALES = LocaleChoice(available=("en", "zh_Hans"), default="en", negotiate=negotiate)


def service_for(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: Clock,
    **options: Any,
) -> BotService:
    """The service as the tests run it, English and Chinese; ``options`` as ``BotService``
    takes them (admins, staff group, reminders, …)."""
    return BotService(uow_factory, book, policies, clock=clock, locales=LOCALES, **options)


class ServiceChat:
    def __init__(
        self, service: BotService, user_id: int = 1001, language_code: str | None = "en"
    ) -> None:
        self.service = service
        self.chat = ChatKey("test", user_id)
        self.language_code = language_code
        self.last: list[Reply] = []

    async def send(
        self,
        event: Event,
        event_id: str | None = None,
        *,
        user_id: int | None = None,
        **flags: bool,
    ) -> list[Reply]:
        inbound = Inbound(self.chat, event, event_id, self.language_code, user_id=user_id, **flags)
        self.last = await self.service.handle(inbound)
        return self.last

    async def text(self, text: str, event_id: str | None = None) -> list[Reply]:
        return await self.send(text_event(text), event_id)

    async def files(self, *files: EvidenceFile, event_id: str | None = None) -> list[Reply]:
        return await self.send(FilesReceived(files), event_id)

    def buttons(self) -> list[Button]:
        return [b for r in self.last for row in r.say.buttons for b in row]

    async def click(self, label_key: str, label: str | None = None) -> list[Reply]:
        for b in self.buttons():
            inner = b.label.params.get("label")
            if b.label.key == label_key and (
                label is None or (isinstance(inner, Msg) and inner.key == label)
            ):
                return await self.send(ButtonPressed(b.data))
        raise AssertionError(f"no button {label_key}: {[b.label.key for b in self.buttons()]}")

    def said(self) -> list[str]:
        return [k for r in self.last for m in r.say.text for k in keys_of(m)]

    @property
    def step(self) -> str | None:
        return self.last[-1].say.step if self.last else None


STORE = "https://m.aliexpress.com/store/1102345678?spm=a2g0o.detail.0.0"
FACTS = (
    "Order 8161234567890123: the seller marked it shipped with tracking LP00123456789012, "
    "which the carrier has never heard of, and then opened a dispute claiming delivery."
)


async def to_evidence(chat: ServiceChat, store: str = STORE) -> None:
    """Start a report and answer every step up to the evidence."""
    await chat.text("/report")
    await chat.click("report.category.other")
    await chat.text(store)
    await chat.text(FACTS)


async def to_summary(chat: ServiceChat, vault: EvidenceVault) -> Button:
    """Answer every step with one photo; returns the summary's submit button."""
    await to_evidence(chat)
    await chat.files(await vault.keep_bytes(png_bytes(4), "a.png"))
    await chat.click("report.evidence.done")
    return next(b for b in chat.buttons() if b.label.key == "report.confirm.submit")


class FailingDisk:
    """``BotService(evidence_settled=…)`` over a real vault, with a disk that fails on demand
    (``fails``); ``settled`` keeps what each call was asked to settle."""

    def __init__(self, vault: EvidenceVault) -> None:
        self.vault = vault
        self.fails = False
        self.settled: list[list[str]] = []

    async def settle(self, paths: Iterable[str]) -> None:
        self.settled.append(list(paths))
        if self.fails:
            raise OSError(5, "Input/output error")
        await self.vault.settle(self.settled[-1])


class Crash(Exception):
    """The process dying at a chosen point (see ``CommitCrashes``)."""


class CommitCrashes:
    """A unit of work whose ``commit()`` dies (the process is killed before it commits)."""

    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        raise Crash("killed before the commit")
