"""A conversation in progress, as immutable data that round-trips through JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Pending = Literal["cancel"] | None


@dataclass(frozen=True, slots=True)
class Session:
    """Where one chat stands in one flow.

    ``answers`` holds accepted answers by step id (JSON-compatible values) and is the only
    place user input lives once accepted. ``history`` is the path of steps taken, for ``/back``.
    ``editing`` means the current step was opened from the summary, so an accepted answer
    returns there. ``scratch`` keeps input that is not an answer yet (an item link's id, a
    description awaiting the user's decision on warnings, the options of a multiple choice
    toggled before "done"). ``nonce`` changes with every new
    prompt so that buttons of older prompts are recognised as stale.

    ``context`` is what the flow was started about (``{"case_id": "DR-…"}``), set by whoever
    starts it and carried unchanged to its ``Finish``. ``outer`` is the session this one
    interrupted: when this flow ends, the chat returns to it.
    """

    flow: str
    version: int
    step: str
    answers: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[str, ...] = ()
    editing: bool = False
    pending: Pending = None
    scratch: Mapping[str, Any] = field(default_factory=dict)
    nonce: int = 0
    context: Mapping[str, str] = field(default_factory=dict)
    outer: Session | None = None

    def answered(self, step_id: str, value: Any) -> Session:
        return replace(self, answers={**self.answers, step_id: value})

    def with_scratch(self, **values: Any) -> Session:
        merged = {**self.scratch, **values}
        return replace(self, scratch={k: v for k, v in merged.items() if v is not None})

    def to_json(self) -> str:
        return json.dumps(self._to_obj(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str) -> Session:
        return cls._from_obj(json.loads(data))

    def _to_obj(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "version": self.version,
            "step": self.step,
            "answers": dict(self.answers),
            "history": list(self.history),
            "editing": self.editing,
            "pending": self.pending,
            "scratch": dict(self.scratch),
            "nonce": self.nonce,
            "context": dict(self.context),
            "outer": None if self.outer is None else self.outer._to_obj(),
        }

    @classmethod
    def _from_obj(cls, obj: Mapping[str, Any]) -> Session:
        # Sessions stored before a key existed lack it: every key but the first three is
        # optional.
        pending = obj.get("pending")
        outer = obj.get("outer")
        return cls(
            flow=str(obj["flow"]),
            version=int(obj["version"]),
            step=str(obj["step"]),
            answers=dict(obj.get("answers", {})),
            history=tuple(obj.get("history", ())),
            editing=bool(obj.get("editing", False)),
            pending="cancel" if pending == "cancel" else None,
            scratch=dict(obj.get("scratch", {})),
            nonce=int(obj.get("nonce", 0)),
            context={str(k): str(v) for k, v in (obj.get("context") or {}).items()},
            outer=cls._from_obj(outer) if isinstance(outer, Mapping) else None,
        )
