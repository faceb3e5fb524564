"""`check_catalogs`: what `disputebot check` reports about the catalogs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from disputebot.i18n.catalog import Catalogs, check_catalogs
from disputebot.i18n.extract import message_ids

from .test_render import EN_PLURAL, ZH_PLURAL, write_po

FLOW: dict[str, Any] = {
    "flow": "report",
    "version": 3,
    "title": "flow.title",
    "steps": [
        {"id": "pick", "prompt": "flow.pick", "summary_label": None, "kind": "text"},
        {"id": "done", "options": [{"value": "a", "label": "flow.a"}], "text": ["flow.t", ""]},
    ],
}


@dataclass(frozen=True)
class LoadedFlow:
    """Stands in for a pydantic ``Flow``: all ``check_catalogs`` needs is ``model_dump``."""

    data: Mapping[str, Any]

    def model_dump(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass(frozen=True)
class Book:
    flows: Mapping[tuple[str, int], LoadedFlow] = field(default_factory=dict)


def test_message_ids_in_loaded_flow_data() -> None:
    assert list(message_ids(FLOW)) == [
        ("title", "flow.title"),
        ("steps[pick].prompt", "flow.pick"),
        ("steps[done].options[a].label", "flow.a"),
        ("steps[done].text[0]", "flow.t"),
    ]


def project(root: Path) -> Path:
    source = root / "src/disputebot/service/x.py"
    source.parent.mkdir(parents=True)
    source.write_text('from x import Msg\n\nA = Msg("code.a")\n', encoding="utf-8")
    locales = root / "locales"
    write_po(
        locales,
        "en",
        EN_PLURAL,
        'msgid "code.a"\nmsgstr "A {x}"\n\nmsgid "flow.title"\nmsgstr "T"\n\n'
        'msgid "files"\nmsgid_plural "files"\nmsgstr[0] "one file"\nmsgstr[1] "{count} files"\n',
    )
    write_po(
        locales,
        "zh_Hans",
        ZH_PLURAL,
        'msgid "code.a"\nmsgstr "甲 {y}"\n\nmsgid "flow.title"\nmsgstr "标{"\n\n'
        'msgid "files"\nmsgid_plural "files"\nmsgstr[0] "{count} 个文件"\n',
    )
    return locales


def test_reports_missing_texts_and_broken_placeholders(tmp_path: Path) -> None:
    catalogs = Catalogs.load(project(tmp_path))
    book = Book({("report", 3): LoadedFlow({"title": "flow.title", "prompt": "flow.pick"})})
    assert check_catalogs(catalogs, book, tmp_path) == [
        "en: no text for flow.pick (used at flow report v3, prompt)",
        "zh_Hans: no text for flow.pick (used at flow report v3, prompt)",
        "zh_Hans: code.a: placeholders ['y'], en has ['x']",
        "zh_Hans: flow.title: malformed text: Single '{' encountered in format string",
    ]


def test_nothing_to_report(tmp_path: Path) -> None:
    write_po(tmp_path / "locales", "en", EN_PLURAL, 'msgid "flow.title"\nmsgstr "T"\n')
    catalogs = Catalogs.load(tmp_path / "locales")
    book = Book({("report", 1): LoadedFlow({"title": "flow.title"})})
    assert check_catalogs(catalogs, book, tmp_path) == []
