"""Conversation files, validated when they are loaded.

A conversation file declares a flow's steps. Loading checks everything that can be checked
before a user ever talks to the bot — unknown keys, missing messages fields, dangling ``next``
references, duplicate ids, option values too long for a button — and reports each problem with
the file, the line and the step it concerns, so an operator can fix wording and flow without
reading Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from disputebot.errors import ConfigError

MESSAGE_ID = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"
MessageId = Annotated[str, Field(pattern=MESSAGE_ID)]
StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# Button data is "<nonce>:<verb>:<value>" and Telegram allows 64 bytes of it.
OptionValue = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Step(_Spec):
    id: StepId
    prompt: MessageId
    next: StepId | None = None
    summary_label: MessageId | None = None


class MessageStep(_Step):
    """Says something; with ``button_label`` it waits for the button, otherwise moves on."""

    kind: Literal["message"]
    button_label: MessageId | None = None


class ChoiceOption(_Spec):
    value: OptionValue
    label: MessageId


class _OptionsStep(_Step):
    options: tuple[ChoiceOption, ...] = Field(min_length=1, max_length=12)

    @model_validator(mode="after")
    def _unique_values(self) -> _OptionsStep:
        values = [o.value for o in self.options]
        if len(set(values)) != len(values):
            raise ValueError("option values must be unique")
        return self

    def option(self, value: str) -> ChoiceOption | None:
        return next((o for o in self.options if o.value == value), None)


class ChoiceStep(_OptionsStep):
    """One option, picked with one tap."""

    kind: Literal["choice"]


class MultiChoiceStep(_OptionsStep):
    """Any number of options, toggled one tap at a time and accepted with ``done_label``.

    The answer is the list of chosen values in the order of ``options``; ``max_selected``
    ``None`` means no upper limit.
    """

    kind: Literal["multichoice"]
    min_selected: int = Field(default=1, ge=0)
    max_selected: int | None = Field(default=None, ge=1)
    done_label: MessageId

    @model_validator(mode="after")
    def _bounds(self) -> MultiChoiceStep:
        if self.min_selected > len(self.options):
            raise ValueError("min_selected is larger than the number of options")
        if self.max_selected is not None and self.min_selected > self.max_selected:
            raise ValueError("min_selected is larger than max_selected")
        return self


class AccountStep(_Step):
    """The reported party's account, parsed with the platform profile."""

    kind: Literal["account"]


class TextStep(_Step):
    kind: Literal["text"]
    min_length: int = Field(default=1, ge=0)
    max_length: int = Field(default=4000, ge=1, le=4096)
    checks: tuple[Literal["objectivity"], ...] = ()
    keep_label: MessageId | None = None
    skip_label: MessageId | None = None

    @model_validator(mode="after")
    def _lengths(self) -> TextStep:
        if self.min_length > self.max_length:
            raise ValueError("min_length is larger than max_length")
        if "objectivity" in self.checks and self.keep_label is None:
            raise ValueError("a step with the objectivity check needs keep_label")
        if self.skip_label is not None and self.min_length != 0:
            # Skipping answers "", which a minimum length would refuse.
            raise ValueError("skip_label needs min_length: 0")
        return self


class FilesStep(_Step):
    kind: Literal["files"]
    min_files: int = Field(default=1, ge=0)
    max_files: int = Field(default=10, ge=1, le=50)
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    allowed_types: tuple[str, ...] = (
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/heic",
        "application/pdf",
    )
    done_label: MessageId
    clear_label: MessageId

    @model_validator(mode="after")
    def _counts(self) -> FilesStep:
        if self.min_files > self.max_files:
            raise ValueError("min_files is larger than max_files")
        return self


class ConfirmStep(_Step):
    """Shows the summary and, on submit, carries out ``action``.

    ``file_case`` asks for the ``attestation`` and files a case (the abuse checks apply);
    ``finish`` hands the answers to the service as they are (a staff decision, an answer to a
    question) and has no attestation.
    """

    kind: Literal["confirm"]
    attestation: MessageId | None = None
    submit_label: MessageId
    edit_label: MessageId
    cancel_label: MessageId
    action: Literal["file_case", "finish"] = "file_case"

    @model_validator(mode="after")
    def _attestation(self) -> ConfirmStep:
        if self.action == "file_case" and self.attestation is None:
            raise ValueError("a confirm step that files a case needs attestation")
        if self.action != "file_case" and self.attestation is not None:
            raise ValueError("attestation is shown and recorded only with action: file_case")
        return self


Step = Annotated[
    MessageStep | ChoiceStep | MultiChoiceStep | AccountStep | TextStep | FilesStep | ConfirmStep,
    Field(discriminator="kind"),
]
InputStep = ChoiceStep | MultiChoiceStep | AccountStep | TextStep | FilesStep


class Flow(_Spec):
    """One version of one conversation."""

    flow: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    version: int = Field(ge=1)
    title: MessageId
    steps: tuple[Step, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _graph(self) -> Flow:
        ids = [s.id for s in self.steps]
        seen: set[str] = set()
        for step_id in ids:
            if step_id in seen:
                raise ValueError(f"step id {step_id!r} is used twice")
            seen.add(step_id)
        for step in self.steps:
            if step.next is not None and step.next not in seen:
                raise ValueError(f"step {step.id!r}: next {step.next!r} is not a step here")
        confirms = [s for s in self.steps if isinstance(s, ConfirmStep)]
        if len(confirms) != 1 or self.steps[-1] is not confirms[0]:
            raise ValueError("a flow ends with exactly one confirm step")
        if confirms[0].next is not None:
            raise ValueError("the confirm step has no next step")
        return self

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def has_step(self, step_id: str) -> bool:
        return any(s.id == step_id for s in self.steps)

    def following(self, step: Step) -> Step:
        """The step after ``step``: its ``next``, else the one below it in the file."""
        if step.next is not None:
            return self.step(step.next)
        index = self.steps.index(step)
        if index + 1 >= len(self.steps):
            raise KeyError(f"{step.id} has no following step")
        return self.steps[index + 1]

    def input_steps(self) -> Iterator[InputStep]:
        for step in self.steps:
            if isinstance(step, ChoiceStep | MultiChoiceStep | AccountStep | TextStep | FilesStep):
                yield step

    @property
    def confirm(self) -> ConfirmStep:
        last = self.steps[-1]
        assert isinstance(last, ConfirmStep)  # guaranteed by _graph
        return last


@dataclass(frozen=True)
class FlowBook:
    """Every loaded version of every flow; sessions finish on the version they began on."""

    flows: Mapping[tuple[str, int], Flow]

    def current(self, name: str) -> Flow:
        versions = [f for (n, _), f in self.flows.items() if n == name]
        if not versions:
            raise KeyError(f"no flow named {name!r}")
        return max(versions, key=lambda f: f.version)

    def get(self, name: str, version: int) -> Flow | None:
        return self.flows.get((name, version))

    @classmethod
    def of(cls, *flows: Flow) -> FlowBook:
        book: dict[tuple[str, int], Flow] = {}
        for flow in flows:
            key = (flow.flow, flow.version)
            if key in book:
                raise ConfigError(f"flow {flow.flow!r} version {flow.version} is defined twice")
            book[key] = flow
        return cls(book)


# libyaml's loader when PyYAML was built with it: it reads the conversation files several times
# faster than the pure-Python one, which was most of the time spent loading them at startup.
_FastLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, with libyaml when it is there; an error is PyYAML's own (whose
    message shows the offending line, which libyaml's does not)."""
    try:
        return yaml.load(text, Loader=_FastLoader)
    except yaml.YAMLError:
        return yaml.safe_load(text)


def parse_flow(text: str, filename: str) -> Flow:
    """Validate one conversation file's text; errors name the file, line and step."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{filename}{line}: not valid YAML: {exc}") from exc
    not_a_mapping = f"{filename}:1: a conversation file is a mapping with flow, steps, …"
    if not isinstance(data, dict):
        raise ConfigError(not_a_mapping)
    try:
        return Flow.model_validate(data)
    except ValidationError as exc:
        # Only an error needs the nodes (they carry the lines): composed for it alone.
        node = yaml.compose(text, Loader=_FastLoader)
        if node is None:
            raise ConfigError(not_a_mapping) from exc
        raise ConfigError(_describe(exc, node, data, filename)) from exc


def _describe(exc: ValidationError, root: yaml.Node, data: Any, filename: str) -> str:
    lines = []
    for error in exc.errors():
        loc = [part for part in error["loc"] if not _is_kind_tag(part)]
        line = _line_of(root, loc)
        where = f"{filename}:{line}"
        step = _step_of(data, loc)
        if step:
            where += f" (step {step!r})"
        field = ".".join(str(p) for p in loc) or "file"
        lines.append(f"{where}: {field}: {error['msg']}")
    return "\n".join(lines)


def _is_kind_tag(part: Any) -> bool:
    # pydantic puts the discriminator's value ("choice") into the location of union errors.
    return isinstance(part, str) and part in {
        "message",
        "choice",
        "multichoice",
        "account",
        "text",
        "files",
        "confirm",
    }


def _line_of(node: yaml.Node, loc: list[Any]) -> int:
    """Line of the deepest node on ``loc`` that exists in the file (1-based)."""
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _step_of(data: Any, loc: list[Any]) -> str | None:
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = data.get("steps") if isinstance(data, dict) else None
        if isinstance(steps, list) and 0 <= loc[1] < len(steps):
            step = steps[loc[1]]
            if isinstance(step, dict) and isinstance(step.get("id"), str):
                return str(step["id"])
            return f"#{loc[1] + 1}"
    return None


def message_ids(flow: Flow) -> Iterator[str]:
    """Every message id a flow uses, for catalog checks."""
    yield flow.title
    for step in flow.steps:
        for name, value in step:
            if isinstance(value, str) and re.match(MESSAGE_ID, value) and name != "id":
                yield value
        if isinstance(step, ChoiceStep | MultiChoiceStep):
            yield from (o.label for o in step.options)
