"""The service's per-chat locale cache never serves a locale the database does not hold."""

from __future__ import annotations

from typing import cast

import pytest

from disputebot.engine.context import Policies
from disputebot.engine.spec import FlowBook
from disputebot.ports import UnitOfWork, UnitOfWorkFactory
from tests.service.driver import CommitCrashes, Crash, ServiceChat, service_for
from tests.support import FixedClock


class Crashing:
    """A factory whose units of work crash at ``commit()`` while ``crash`` is set."""

    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self._inner = inner
        self.crash = False

    def __call__(self) -> UnitOfWork:
        if self.crash:
            return cast("UnitOfWork", CommitCrashes(self._inner()))
        return self._inner()


async def test_locale_cache_follows_language_forgetme_and_failed_commits(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> None:
    crashing = Crashing(uow_factory)
    service = service_for(cast("UnitOfWorkFactory", crashing), book, policies, clock)
    chat = ServiceChat(service, language_code="en")
    await chat.text("/help")
    assert chat.last[0].locale == "en"
    await chat.text("/language zh-hans")
    await chat.text("/help")
    assert chat.last[0].locale == "zh_Hans"

    # A change that never commits is never served.
    crashing.crash = True
    with pytest.raises(Crash):
        await chat.text("/language en")
    crashing.crash = False
    await chat.text("/help")
    assert chat.last[0].locale == "zh_Hans"
    async with uow_factory() as uow:
        assert await uow.reporters.locale(chat.chat) == "zh_Hans"

    # Forgotten, the chat's language is negotiated and stored again on its next event.
    await chat.text("/forgetme")
    await chat.click("bot.forget.yes")
    async with uow_factory() as uow:
        assert await uow.reporters.locale(chat.chat) is None
    await chat.text("/help")
    assert chat.last[0].locale == "en"
    async with uow_factory() as uow:
        assert await uow.reporters.locale(chat.chat) == "en"


async def test_a_first_locale_whose_commit_fails_is_negotiated_again(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> None:
    crashing = Crashing(uow_factory)
    service = service_for(cast("UnitOfWorkFactory", crashing), book, policies, clock)
    crashing.crash = True
    with pytest.raises(Crash):
        await ServiceChat(service, language_code="zh-hans").text("/help")
    crashing.crash = False
    chat = ServiceChat(service, language_code="en")
    await chat.text("/help")
    assert chat.last[0].locale == "en"
    async with uow_factory() as uow:
        assert await uow.reporters.locale(chat.chat) == "en"
