"""Fuzzing Telegram updates through both adapters and the real handler, service and store.

Hypothesis writes short chat histories: a chat is first brought to some step of the report
flow with valid answers, then gets a few generated updates — texts, commands, photos, documents
with odd names and types, albums, stickers, voice notes, locations, edits, forwards, group
messages, button presses with current, stale or junk data, update kinds the bot does not use —
each possibly broken on the way (a field removed, a value replaced by the wrong type, a huge
number or nested garbage), plus updates that are garbage from the start.

Each update is parsed by python-telegram-bot's and aiogram's ``parse_update`` (the webhook's
entry point), and whatever parses goes through the real ``UpdateHandler`` and ``BotService`` on
a SQLite file, talking to the fake Bot API server. What must hold:

- a well-formed update parses on both frameworks, to the same ``TgUpdate``;
- an update that parses has the field types the bot relies on (anything else must be a parse
  error, which the webhook logs and drops);
- the handler raises nothing (a chat the Bot API does not know may refuse the reply);
- an update handled a second time (the other framework's parse of it) changes and sends nothing;
- every stored session round-trips through ``Session.from_json``; every case has its receipt
  in the outbox, and the receipts are delivered;
- the fake server refused nothing the bot sent for its HTML, length or keyboard.

The budget is fixed and the examples derandomized, so CI runs the same cases every time;
``DISPUTEBOT_FUZZ_EXAMPLES=20000`` runs a longer campaign (see docs/RELIABILITY.md).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import text as sql

from disputebot.bootstrap import App, build
from disputebot.channels.telegram.handler import UpdateHandler
from disputebot.channels.telegram.model import TgFile, TgUpdate
from disputebot.channels.telegram_aiogram.api import AiogramBotApi
from disputebot.channels.telegram_ptb.api import PtbBotApi
from disputebot.config import Settings
from disputebot.delivery.drain import drain_once
from disputebot.engine.effects import say_from_json
from disputebot.engine.state import Session
from disputebot.errors import DeliveryError
from disputebot.ports import ChatKey, OutboxItem
from disputebot.service.inbound import Reply
from disputebot.testing.fake_bot_api import ApiCall, FakeBotApi, TestChat, TestUser
from disputebot.testing.fake_bot_api.state import PendingCallback
from tests.support import elf_bytes, pdf_bytes, png_bytes

Json = Any


CAMPAIGN = os.environ.get("DISPUTEBOT_FUZZ_EXAMPLES", "").strip()


def budget(default: int) -> int:
    """``max_examples``: the CI default, or ``DISPUTEBOT_FUZZ_EXAMPLES`` for a long campaign.

    CI draws the same examples every run; a campaign draws new ones each time (a failure
    prints the ``@reproduce_failure`` line that replays it).
    """
    return int(CAMPAIGN) if CAMPAIGN else default


FUZZ = settings(
    deadline=None,
    derandomize=not CAMPAIGN,
    print_blob=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)

STORE = "https://www.aliexpress.com/store/1102345678"
FACTS = (
    "Order 8161234567890123 was marked delivered on 2026-03-04, but tracking "
    "LP00123456789012 shows the parcel never left the origin facility."
)
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Refusals the fake server gives for a chat it does not know: a broken chat id may earn them.
UNKNOWN_CHAT = {
    "Forbidden: bot can't initiate conversation with a user",
    "Bad Request: chat not found",
}

# --- what users send -------------------------------------------------------------------------

COMMANDS = [
    "/start",
    "/report",
    "/back",
    "/cancel",
    "/done",
    "/help",
    "/tips",
    "/status",
    "/language",
    "/language zh_Hans",
    "/language zh-hans",
    "/language 123",
    "/language en",
    "/start ../../",
    "/report extra words",
    "/report@disputebot_test_bot",
    "/Report@some_other_bot now",
    "/",
    "/ report",
    "//report",
    "/" + "x" * 40,
    "/status'; DROP TABLE cases; --",
]
SPICY = [
    STORE,
    "aliexpress.com/store/110\u200b2345678",
    "https://www.aliexpress.com/item/1005006123456789.html",
    "https://evil.example/store/1",
    "Best\u202eGadget\u202c Store",
    "<b>bold</b> <a href='http://x.example'>x</a> *md* [x](http://y.example) &amp; & <",
    "'; DROP TABLE cases; --",
    FACTS,
    FACTS + " The seller is an id\u200biot and a liar.",
    FACTS + " CALL ME AT +1 202 555 0143 OR MAIL a@b.example!!!",
    FACTS + " It read \u202egnippihs detsurt\u202c, then \u2067\u05e9\u05dc\u05d5\u05dd\u2069.",
    "",
    " ",
    "\n\n\n",
    "\u0000\u0001\u001f",
    "👨\u200d👩\u200d👧 " * 20,
    "訂單 8161234567890123 卖家故意发起纠纷",
    "%s%s%n{0}{count}{}{{}}",
    "1102345678",
    "store id: 1102345678",
]
texts = st.one_of(
    st.sampled_from(COMMANDS + SPICY),
    st.text(max_size=60),
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(SPICY + COMMANDS),
        st.text(max_size=20),
    ),
    st.builds(
        lambda char, n: char * n,
        st.sampled_from(["x", "<", "&", "é", "😀", "\u202e", "a "]),
        st.integers(3000, 5000),
    ),
)
CONTENTS: dict[str, Callable[[int], bytes]] = {
    "png": png_bytes,
    "pdf": lambda seed: pdf_bytes(f"order {seed}"),
    "elf": lambda _seed: elf_bytes(),
    "html": lambda _seed: b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    "svg": lambda _seed: b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>',
    "empty": lambda _seed: b"",
    "noise": lambda seed: bytes((seed * 7 + i * 13) % 256 for i in range(64)),
}
contents = st.tuples(st.sampled_from(sorted(CONTENTS)), st.integers(0, 255))
file_names = st.one_of(
    st.sampled_from(
        [
            "proof.png",
            "../../etc/passwd.png",
            "..\\..\\boot.ini",
            "receipt.pdf.exe",
            ".hidden",
            "",
            "con",
            "a\u202egnp.exe",
            "file\u0000name.pdf",
            "x" * 300 + ".png",
        ]
    ),
    st.text(max_size=40),
)
mimes = st.sampled_from(
    ["image/png", "application/pdf", "application/x-msdownload", "text/html", "image/svg+xml", ""]
)
declared_sizes = st.sampled_from(["actual", "omitted", 0, 100 << 20, 2**40, 21 << 20])
verbs = st.sampled_from(["o", "go", "d", "x", "k", "s", "e", "c", "cy", "cn", "zz"])
values = st.sampled_from(["", "fake_logistics", "other", "account", "description", "nope", "x"])
callback_data = st.one_of(
    # Well-formed with the chat's current nonce: these can move the flow (even submit).
    st.tuples(st.just("current"), verbs, values),
    st.tuples(st.just("stale"), verbs, values),
    st.text(max_size=64),
    st.binary(max_size=64).map(lambda b: b.hex()[:64]),
    st.sampled_from(["lang:en", "lang:zh_Hans", "lang:xx", "lang:", "1:o", "9" * 64]),
)


@st.composite
def ops(draw: st.DrawFn) -> tuple[Any, ...]:
    kind = draw(
        st.sampled_from(
            [
                "text",
                "photo",
                "document",
                "document",
                "document",
                "album",
                "press",
                "callback",
                "unsupported",
                "edit",
                "forward",
                "group",
                "raw",
            ]
        )
    )
    if kind in {"text", "edit", "forward", "group"}:
        return (kind, draw(texts))
    if kind == "photo":
        return (kind, draw(contents), draw(st.none() | st.text(max_size=30)))
    if kind == "document":
        return (kind, draw(contents), draw(file_names), draw(mimes), draw(declared_sizes))
    if kind == "album":
        return (kind, draw(st.lists(contents, min_size=2, max_size=6)))
    if kind == "press":  # one of the buttons the bot showed last, as a user would
        return (kind, draw(st.integers(0, 10)))
    if kind == "callback":
        return (kind, draw(callback_data))
    if kind == "unsupported":
        return (draw(st.sampled_from(["sticker", "voice", "location"])),)
    return (kind, draw(st.sampled_from(sorted(RAW))), draw(texts))


# JSON garbage: what a broken client or a hostile sender might post to the webhook.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 2**64 + 1, 10**30, -1, 0]),
    st.floats(allow_nan=False),
    st.sampled_from([math.inf, -math.inf]),
    st.text(max_size=20),
    st.sampled_from(["\ud800", "\udfff x"]),  # lone surrogates, valid JSON escapes
)
garbage = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@dataclass(frozen=True)
class Mutation:
    """Break one spot of an update: ``selector`` picks the spot among all of its paths."""

    selector: int
    action: str
    value: Json = None


mutations = st.builds(
    Mutation,
    selector=st.integers(0, 10_000),
    action=st.sampled_from(["delete", "replace", "replace", "wrap"]),
    value=garbage,
)


@dataclass(frozen=True)
class Step:
    op: tuple[Any, ...]
    mutation: Mutation | None


@dataclass(frozen=True)
class History:
    reach: str | None
    account: str
    description: str
    steps: tuple[Step, ...]
    junk: tuple[Json, ...]


histories = st.builds(
    History,
    reach=st.sampled_from(
        [None, "category", "account", "description", "evidence", "confirm", "filed", "filed"]
    ),
    account=st.sampled_from([STORE, "Mega Deals Shop", "<i>Shop</i>", "Best\u200bGadget"]),
    description=st.sampled_from(
        [
            FACTS,
            FACTS + " Shown as \u202egnippihs\u202c & <b>not</b> *bold*.",
            FACTS + " Seller: \u2066\u05de\u05d5\u05db\u05e8\u2069 \U0001f468\u200d\U0001f469.",
        ]
    ),
    steps=st.lists(
        st.builds(Step, op=ops(), mutation=st.none() | st.none() | mutations),
        min_size=1,
        max_size=4,
    ).map(tuple),
    junk=st.lists(garbage, max_size=1).map(tuple),
)


# --- breaking a well-formed update -----------------------------------------------------------


def paths(value: Json, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


def mutate(update: dict[str, Any], mutation: Mutation) -> dict[str, Any]:
    broken = copy.deepcopy(update)
    where = paths(broken)
    path = where[mutation.selector % len(where)]
    parent = broken
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if mutation.action == "delete":
        del parent[last]
    elif mutation.action == "wrap":
        parent[last] = [parent[last]]
    else:
        parent[last] = copy.deepcopy(mutation.value)
    return broken


# --- the harness -----------------------------------------------------------------------------


def well_typed(update: TgUpdate) -> None:
    """The field types the handler and the service rely on."""

    def an_id(value: object, *, optional: bool = False) -> None:
        if value is None and optional:
            return
        assert type(value) is int, value
        assert -(2**63) <= value < 2**63, value

    def a_str(value: object, *, optional: bool = True) -> None:
        if value is None and optional:
            return
        assert type(value) is str, value
        value.encode()  # no lone surrogates: the database and the Bot API take UTF-8

    an_id(update.update_id)
    an_id(update.chat_id, optional=True)
    an_id(update.user_id, optional=True)
    an_id(update.message_id, optional=True)
    for text in (
        update.chat_type,
        update.language_code,
        update.text,
        update.media_group_id,
        update.callback_id,
        update.callback_data,
        update.unsupported,
    ):
        a_str(text)
    for file in update.files:
        assert isinstance(file, TgFile)
        a_str(file.file_id, optional=False)
        a_str(file.name, optional=False)
        a_str(file.declared_mime)
        an_id(file.size, optional=True)
    assert type(update.edited) is bool
    assert type(update.forwarded) is bool


def parse(api: PtbBotApi | AiogramBotApi, data: Json) -> TgUpdate | None:
    """The adapter's parse; ``None`` for a parse error (what the webhook logs and drops)."""
    try:
        update = api.parse_update(data)
    except Exception:
        return None
    well_typed(update)
    return update


def batches(updates: Sequence[TgUpdate]) -> list[list[TgUpdate]]:
    """Group album items as the sequencer does: consecutive, same chat, same media group."""
    grouped: list[list[TgUpdate]] = []
    for update in updates:
        last = grouped[-1][-1] if grouped else None
        if (
            last is not None
            and update.media_group_id is not None
            and (update.chat_id, update.media_group_id) == (last.chat_id, last.media_group_id)
        ):
            grouped[-1].append(update)
        else:
            grouped.append([update])
    return grouped


class Harness:
    """The app on SQLite, both frameworks' clients and the handler, against the fake server."""

    def __init__(
        self,
        server: FakeBotApi,
        app: App,
        ptb: PtbBotApi,
        aiogram: AiogramBotApi,
        handler: UpdateHandler,
    ) -> None:
        self.server = server
        self.app = app
        self.ptb = ptb
        self.aiogram = aiogram
        self.handler = handler
        self.ids = itertools.count(7_000_001)
        self.checked = 0  # server.calls already checked

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        return f"Harness({self.server.url}, {self.app.settings.database_url})"

    def sends_since(self, start: int, chat_id: int | None) -> list[ApiCall]:
        return [
            c
            for c in self.server.calls[start:]
            if c.method == "sendMessage" and str(c.params.get("chat_id")) == str(chat_id)
        ]

    async def handle(self, batch: list[TgUpdate], *, again: bool = False) -> None:
        chat_id = batch[0].chat_id
        known = chat_id is not None and self.server.find_chat(chat_id) is not None
        start = len(self.server.calls)
        try:
            await self.handler(batch)
        except DeliveryError:
            assert not known, f"the handler failed for a chat the Bot API knows: {batch}"
        if again:
            assert not self.sends_since(start, chat_id), f"applied twice: {batch}"

    async def deliver(self, updates: Sequence[Json], *, well_formed: bool) -> None:
        """Parse on both frameworks, then handle each framework's result in turn."""
        by_ptb = [parse(self.ptb, u) for u in updates]
        by_aiogram = [parse(self.aiogram, u) for u in updates]
        if well_formed:
            assert None not in by_ptb, f"python-telegram-bot refused {updates}"
            assert by_ptb == by_aiogram, "the frameworks read the same update differently"
        for name, parsed in (("ptb", by_ptb), ("aiogram", by_aiogram)):
            event(f"{name}: {'parsed' if None not in parsed else 'refused'}")
        applied = {u.update_id for u in by_ptb if u is not None}
        for batch in batches([u for u in by_ptb if u is not None]):
            await self.handle(batch)
        # The same updates as aiogram read them: a second delivery of the same update ids.
        for batch in batches([u for u in by_aiogram if u is not None]):
            await self.handle(batch, again=batch[0].update_id in applied)

    async def deliver_outbox(self) -> None:
        async def send(item: OutboxItem) -> None:
            reply = Reply(item.chat, say_from_json(item.payload), item.locale)
            await self.handler.send(reply, attempts=1)

        await drain_once(self.app.uow_factory, send, self.app.clock, channel="telegram")

    async def count(self, table: str) -> int:
        async with self.app.engine.connect() as conn:
            return int((await conn.execute(sql(f"SELECT count(*) FROM {table}"))).scalar_one())

    async def check_store(self) -> None:
        async with self.app.engine.connect() as conn:
            sessions = (await conn.execute(sql("SELECT data FROM sessions"))).scalars().all()
            orphans = (
                await conn.execute(
                    sql(
                        "SELECT public_id FROM cases WHERE public_id NOT IN "
                        "(SELECT case_id FROM outbox WHERE case_id IS NOT NULL)"
                    )
                )
            ).all()
            undelivered = (
                await conn.execute(sql("SELECT id FROM outbox WHERE status != 'sent'"))
            ).all()
        for data in sessions:
            assert Session.from_json(data).to_json() == data
        assert orphans == [], "a case without its receipt"
        assert undelivered == [], "a receipt was not delivered"

    def check_sends(self) -> None:
        calls, self.checked = self.server.calls[self.checked :], len(self.server.calls)
        for call in calls:
            if call.method not in {"sendMessage", "editMessageText"}:
                continue
            if call.status != 200:
                assert call.description in UNKNOWN_CHAT, (call.params, call.description)
            # The catalogs hold none; one here would be a user's, reordering the bot's words.
            assert not BIDI_CONTROLS.search(str(call.params.get("text"))), call.params


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with FakeBotApi() as server:
        settings = Settings(
            _env_file=None,
            bot_token=SecretStr(server.token),
            telegram_api_url=server.url,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}",
            evidence_dir=tmp_path / "evidence",
        )
        app = await build(settings)
        ptb = PtbBotApi(server.token, server.url)
        aiogram = AiogramBotApi(server.token, server.url)
        try:
            await ptb.start()
            handler = UpdateHandler(ptb, app.service, app.vault, app.content.catalogs)
            handler.bot_username = server.bot_username
            yield Harness(server, app, ptb, aiogram, handler)
        finally:
            await ptb.close()
            await aiogram.close()
            await app.close()


# --- building updates ------------------------------------------------------------------------


def _raw_message(chat: TestChat, user: TestUser | None, content: dict[str, Any]) -> Json:
    message: dict[str, Any] = {
        "message_id": chat.state.next_message_id(),
        "date": 1_790_000_000,
        "chat": chat.state.json(),
        **content,
    }
    if user is not None:
        message["from"] = user.json()
    return message


RAW: dict[str, Callable[[TestChat, TestUser, str], tuple[str, Json]]] = {
    "contact": lambda c, u, t: (
        "message",
        _raw_message(c, u, {"contact": {"phone_number": "+12025550143", "first_name": t}}),
    ),
    "dice": lambda c, u, _t: (
        "message",
        _raw_message(c, u, {"dice": {"emoji": "🎲", "value": 6}}),
    ),
    "venue": lambda c, u, t: (
        "message",
        _raw_message(
            c,
            u,
            {
                "venue": {
                    "location": {"latitude": 1.5, "longitude": 2.5},
                    "title": t,
                    "address": "1 Main St",
                }
            },
        ),
    ),
    "video": lambda c, u, _t: (
        "message",
        _raw_message(
            c,
            u,
            {
                "video": {
                    "file_id": "BAACAgIAAxkBAAIvideo",
                    "file_unique_id": "AgADvideo",
                    "width": 640,
                    "height": 480,
                    "duration": 3,
                }
            },
        ),
    ),
    "caption only": lambda c, u, t: ("message", _raw_message(c, u, {"caption": t})),
    "no sender": lambda c, _u, t: ("message", _raw_message(c, None, {"text": t})),
    "channel post": lambda _c, _u, t: (
        "channel_post",
        {
            "message_id": 1,
            "date": 1_790_000_000,
            "chat": {"id": -1_001_234_567_890, "type": "channel", "title": "News"},
            "text": t,
        },
    ),
    "inline query": lambda _c, u, t: (
        "inline_query",
        {"id": "iq1", "from": u.json(), "query": t[:256], "offset": ""},
    ),
    "inline callback": lambda _c, u, t: (
        "callback_query",
        {
            "id": "cq-inline",
            "from": u.json(),
            "chat_instance": "1",
            "inline_message_id": "im",
            "data": t[:64],
        },
    ),
    "game callback": lambda c, u, _t: (
        "callback_query",
        {
            "id": "cq-game",
            "from": u.json(),
            "chat_instance": "1",
            "message": _raw_message(c, None, {"text": "old"}),
            "game_short_name": "g",
        },
    ),
    "unknown kind": lambda _c, u, t: ("shiny_new_update", {"from": u.json(), "text": t}),
}


class Chat:
    """One example's private chat (fresh ids, so examples do not share state)."""

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.user = harness.server.user(next(harness.ids), "Fuzz", language_code="en")
        self.last_text: Json | None = None

    @property
    def key(self) -> ChatKey:
        return ChatKey("telegram", self.user.id)

    async def session(self) -> dict[str, Any] | None:
        async with self.h.app.uow_factory() as uow:
            row = await uow.sessions.get(self.key)
        return dict(json.loads(row.data)) if row else None

    async def nonce(self) -> int:
        return int((await self.session() or {}).get("nonce", 0))

    async def step(self) -> str | None:
        return (await self.session() or {}).get("step")

    def last_bot_message(self) -> Json | None:
        inbox = [m for m in self.user.inbox if not m["deleted"]]
        return inbox[-1] if inbox else None

    def file(self, spec: tuple[str, int]) -> bytes:
        kind, seed = spec
        return CONTENTS[kind](seed)

    async def build(self, op: tuple[Any, ...]) -> list[Json]:
        user, server = self.user, self.h.server
        kind = op[0]
        if kind == "text":
            update = await user.send_text(op[1])
            self.last_text = update
            return [update]
        if kind == "photo":
            return [await user.send_photo(self.file(op[1]), caption=op[2])]
        if kind == "document":
            _, spec, name, mime, declared = op
            data = self.file(spec)
            size = None if declared in {"actual", "omitted"} else int(declared)
            update = await user.send_document(
                data, file_name=name, mime_type=mime, declared_size=size
            )
            if declared == "omitted":
                del update["message"]["document"]["file_size"]
            return [update]
        if kind == "album":
            return await user.send_album([self.file(spec) for spec in op[1]])
        if kind == "callback":
            return [await self.press(op[1])]
        if kind == "sticker":
            return [await user.send_sticker()]
        if kind == "voice":
            return [await user.send_voice()]
        if kind == "location":
            return [await user.send_location(48.85, 2.35)]
        if kind == "press":
            return [await self.press_shown(op[1])]
        if kind == "edit":
            if self.last_text is None:
                self.last_text = await user.send_text("first version")
            return [await user.edit_text(self.last_text, op[1])]
        if kind == "forward":
            return [await user.forward_text(op[1], from_chat_title="Deals")]
        if kind == "group":
            group = server.group(-(10**12) - user.id, title="Buyers")
            return [await group.send_text(user, op[1])]
        update_kind, payload = RAW[op[1]](user.chat, user, op[2])
        return [server.updates.add(update_kind, payload)]

    async def press(self, data: Json) -> Json:
        if isinstance(data, tuple):
            which, verb, value = data
            nonce = await self.nonce()
            nonce = nonce if which == "current" else max(0, nonce - 1)
            data = f"{nonce}:{verb}:{value}" if value else f"{nonce}:{verb}"
        target = self.last_bot_message()
        if target is not None:
            return await self.user.press_data(target, data)
        query_id = self.h.server.new_callback_id()
        self.h.server.callback_queries[query_id] = PendingCallback(
            query_id, self.user.id, self.user.id, 1, data
        )
        return self.h.server.updates.add(
            "callback_query",
            {"id": query_id, "from": self.user.json(), "chat_instance": "1", "data": data},
        )

    async def press_shown(self, index: int) -> Json:
        message = self.last_bot_message()
        shown = [b["callback_data"] for row in (message or {}).get("buttons", []) for b in row]
        if message is None or not shown:
            return await self.user.send_text("/report")
        return await self.user.press_data(message, shown[index % len(shown)])

    async def valid(self, update: Json) -> None:
        await self.h.deliver([update], well_formed=True)

    async def choose(self, label: str) -> None:
        message = self.last_bot_message()
        assert message is not None
        await self.valid(await self.user.press(message, label))

    async def reach(self, step: str | None, account: str, description: str) -> None:
        """Bring the chat to ``step`` of the report flow with valid answers (or past it)."""
        order = ["category", "account", "description", "evidence", "confirm", "filed"]
        if step is None:
            return
        await self.valid(await self.user.send_text("/report"))
        if order.index(step) >= 1:
            await self.choose("Other")
        if order.index(step) >= 2:
            await self.valid(await self.user.send_text(account))
        if order.index(step) >= 3:
            await self.valid(await self.user.send_text(description))
        if order.index(step) >= 4:
            await self.valid(await self.user.send_photo(png_bytes(self.user.id % 200)))
            await self.choose("Done")
        if order.index(step) >= 5:
            await self.choose("submit")


# --- the fuzz tests --------------------------------------------------------------------------


MISSING = object()
MESSAGE = {
    "message_id": 1,
    "date": 0,
    "chat": {"id": 1001, "type": "private"},
    "from": {"id": 1001, "is_bot": False, "first_name": "Ann"},
    "text": "/report",
}


@st.composite
def maybe(draw: st.DrawFn, valid: Json) -> Json:
    """Mostly the valid value; sometimes garbage in its place, or nothing at all."""
    roll = draw(st.integers(0, 39))
    if roll == 0:
        return draw(garbage)
    if roll == 1:
        return draw(scalars)
    return MISSING if roll == 2 else valid


@st.composite
def skeletons(draw: st.DrawFn) -> Json:
    """A Telegram-shaped update whose every field may be wrong, missing or garbage."""

    def pick(**fields: Json) -> dict[str, Json]:
        drawn = {key: draw(maybe(value)) for key, value in fields.items()}
        return {key: value for key, value in drawn.items() if value is not MISSING}

    user = pick(id=1001, is_bot=False, first_name="Ann", language_code="en")
    chat = pick(id=1001, type=draw(st.sampled_from(["private", "group", "channel", "weird"])))
    message = pick(message_id=7, date=1_790_000_000, chat=chat, text="/report")
    message["from"] = user
    content = draw(st.sampled_from(["text", "photo", "document", "album", "forward"]))
    if content == "photo":
        size = pick(file_id="AgAD", file_unique_id="u1", width=90, height=90, file_size=10)
        message["photo"] = draw(maybe([size, {**size, "width": 800, "height": 800}]))
    elif content == "document":
        message["document"] = pick(
            file_id="BQAD", file_unique_id="u2", file_name="a.pdf", mime_type="x", file_size=9
        )
    elif content == "album":
        message["media_group_id"] = draw(maybe("13000000000000001"))
    elif content == "forward":
        message["forward_origin"] = pick(type="hidden_user", date=1, sender_user_name="X")
    kind = draw(st.sampled_from(["message", "edited_message", "callback_query", "channel_post"]))
    if kind == "callback_query":
        payload = pick(id="42", chat_instance="1", data="1:o:other", message=message)
        payload["from"] = user
    else:
        payload = message
    return pick(update_id=draw(st.integers(0, 2**31)), **{kind: payload})


@settings(FUZZ, max_examples=budget(500))
@given(data=st.one_of(skeletons(), skeletons(), skeletons(), garbage))
# What python-telegram-bot parsed without complaint before the types were checked.
@example(data={"update_id": None, "message": None})
@example(data={"update_id": 1, "message": {**MESSAGE, "text": 123}})
@example(data={"update_id": 1, "message": {**MESSAGE, "chat": {"id": "x", "type": "private"}}})
@example(data={"update_id": 2**70, "message": MESSAGE})
@example(data={"update_id": 1, "message": {**MESSAGE, "text": "\ud800"}})
async def test_any_json_is_a_parse_error_or_a_well_typed_update(
    harness: Harness, data: Json
) -> None:
    """What the webhook may receive: refused by the parser, or parsed into sane types."""
    by_ptb = parse(harness.ptb, data)
    by_aiogram = parse(harness.aiogram, data)
    event(
        f"ptb {'parsed' if by_ptb else 'refused'}, aiogram {'parsed' if by_aiogram else 'refused'}"
    )
    if by_ptb is not None and by_aiogram is not None:
        assert by_ptb == by_aiogram


@settings(FUZZ, max_examples=budget(120))
@given(history=histories)
async def test_generated_histories_keep_every_promise(harness: Harness, history: History) -> None:
    cases_before = await harness.count("cases")
    event(f"reached: {history.reach}")
    chat = Chat(harness)
    await chat.reach(history.reach, history.account, history.description)
    for step in history.steps:
        updates = await chat.build(step.op)
        event(f"op: {step.op[0]}{' (broken)' if step.mutation else ''}")
        if step.mutation is not None:
            index = step.mutation.selector % len(updates)
            updates[index] = mutate(updates[index], step.mutation)
            note(f"broken update: {updates[index]!r}"[:2000])
        await harness.deliver(updates, well_formed=step.mutation is None)
    for junk in history.junk:
        await harness.deliver([junk], well_formed=False)
    await harness.deliver_outbox()
    await harness.check_store()
    harness.check_sends()
    filed = await harness.count("cases") - cases_before
    event(f"cases filed: {min(filed, 2)}")
    event(f"ended at step: {await chat.step()}")
