"""Filling catalog texts: ``str.format`` placeholders, without ever raising.

A wrong placeholder in a translation is a translator's slip, not a reason to fail a user's
conversation: the text is shown with the offending placeholder left as written, and the slip is
reported to the caller so that ``disputebot check`` and the catalog tests can name it. Only plain
names are placeholders (``{case_id}``, ``{count:,}``); attribute and index access are refused,
so a catalog can never reach into a parameter's attributes.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping

from disputebot.engine.effects import Msg

Param = str | int | Msg

_FORMATTER = string.Formatter()
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Used only when the template cannot be parsed: fill what is clearly a placeholder, keep the rest.
_LENIENT = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CONVERSIONS: Mapping[str, Callable[[object], str]] = {"r": repr, "s": str, "a": ascii}


def placeholders(template: str) -> frozenset[str]:
    """The placeholder names a template uses.

    Raises:
        ValueError: the template is not valid ``str.format`` syntax.
    """
    return frozenset(name for _, name, _, _ in _FORMATTER.parse(template) if name is not None)


def fill(
    template: str,
    params: Mapping[str, Param],
    escape: Callable[[str], str],
    render: Callable[[Msg], str],
) -> tuple[str, list[str]]:
    """Format ``template`` with ``params``; returns the text and the problems met.

    ``str`` and ``int`` values go through ``escape`` after formatting; ``Msg`` values go through
    ``render`` (which escapes their own parameters) and are not escaped again. The template's
    own text is never escaped.
    """
    problems: list[str] = []
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as exc:
        problems.append(f"malformed template: {exc}")
        return _fill_lenient(template, params, escape, render), problems
    out: list[str] = []
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        written = _as_written(name, spec, conversion)
        if not _NAME.fullmatch(name) or name not in params:
            problems.append(f"unknown placeholder {written}")
            out.append(written)
            continue
        try:
            out.append(_value(params[name], spec or "", conversion, escape, render))
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"cannot format {written}: {exc}")
            out.append(written)
    return "".join(out), problems


def _as_written(name: str, spec: str | None, conversion: str | None) -> str:
    bang = f"!{conversion}" if conversion else ""
    colon = f":{spec}" if spec else ""
    return f"{{{name}{bang}{colon}}}"


def _value(
    value: Param,
    spec: str,
    conversion: str | None,
    escape: Callable[[str], str],
    render: Callable[[Msg], str],
) -> str:
    obj: object = render(value) if isinstance(value, Msg) else value
    if conversion:
        obj = _CONVERSIONS[conversion](obj)
    text = format(obj, spec)
    return text if isinstance(value, Msg) else escape(text)


def _fill_lenient(
    template: str,
    params: Mapping[str, Param],
    escape: Callable[[str], str],
    render: Callable[[Msg], str],
) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        if name not in params:
            return match.group(0)
        return _value(params[name], "", None, escape, render)

    return _LENIENT.sub(replace, template)
