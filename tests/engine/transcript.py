"""A chat driven straight through the engine: send events, click offered buttons, read keys."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from disputebot.engine import machine
from disputebot.engine.context import Context
from disputebot.engine.effects import Button, FileCase, Finish, Msg, Say
from disputebot.engine.events import (
    ButtonPressed,
    CommandReceived,
    Event,
    FilesReceived,
    TextReceived,
    UnsupportedReceived,
)
from disputebot.engine.outcome import Outcome
from disputebot.engine.spec import FlowBook
from disputebot.engine.state import Session
from disputebot.policy.evidence import EvidenceFile
from tests.support import T0


def keys_of(msg: Msg) -> list[str]:
    nested = [k for v in msg.params.values() if isinstance(v, Msg) for k in keys_of(v)]
    return [msg.key, *nested]


class Chat:
    def __init__(self, book: FlowBook, ctx: Context, session: Session | None = None) -> None:
        self.book = book
        self.ctx = ctx
        self.session = session
        self.last = Outcome(session, ())

    def send(self, event: Event) -> Outcome:
        before = self.session
        out = machine.handle(self.book, before, event, self.ctx)
        if out.changed:
            self.session = out.session
        else:
            # A refused event changes nothing (the engine may hand back the same session).
            assert out.session == before or before is None
        if self.session is not None:
            assert Session.from_json(self.session.to_json()) == self.session
        self.last = out
        return out

    def begin(
        self, name: str, *, context: Mapping[str, str] | None = None, nested: bool = False
    ) -> Outcome:
        """Start flow ``name``; ``nested`` starts it over the session in progress."""
        outer = self.session if nested else None
        out = machine.start(self.book, name, self.ctx, outer=outer, context=context)
        if out.changed:
            self.session = out.session
        self.last = out
        return out

    def text(self, text: str) -> Outcome:
        return self.send(TextReceived(text))

    def cmd(self, name: str, args: str = "") -> Outcome:
        return self.send(CommandReceived(name, args))

    def files(self, *files: EvidenceFile) -> Outcome:
        return self.send(FilesReceived(tuple(files)))

    def unsupported(self, kind: str = "sticker") -> Outcome:
        return self.send(UnsupportedReceived(kind))

    def buttons(self) -> list[Button]:
        return [b for say in self.last.says for row in say.buttons for b in row]

    def button(self, label_key: str, **params: str) -> Button:
        for b in self.buttons():
            if b.label.key == label_key and all(
                isinstance(b.label.params.get(k), Msg) and b.label.params[k].key == v  # type: ignore[union-attr]
                for k, v in params.items()
            ):
                return b
        offered = [b.label.key for b in self.buttons()]
        raise AssertionError(f"no button {label_key} {params} among {offered}")

    def click(self, label_key: str, **params: str) -> Outcome:
        return self.send(ButtonPressed(self.button(label_key, **params).data))

    def said(self) -> list[str]:
        return [k for say in self.last.says for m in say.text for k in keys_of(m)]

    @property
    def step(self) -> str | None:
        return self.session.step if self.session else None

    @property
    def prompt(self) -> Say:
        return self.last.says[-1]

    @property
    def filed(self) -> FileCase:
        (action,) = self.last.actions
        assert isinstance(action, FileCase)
        return action

    @property
    def finished(self) -> Finish:
        (action,) = self.last.actions
        assert isinstance(action, Finish)
        return action


def evidence(data: bytes, name: str = "photo.png", mime: str | None = "image/png") -> EvidenceFile:
    return EvidenceFile(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        mime=mime,
        name=name,
        stored_path=f"/evidence/{name}",
    )


__all__ = ["T0", "Chat", "evidence", "keys_of"]
