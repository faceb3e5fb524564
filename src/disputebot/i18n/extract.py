"""Finding every message id the code and the conversation files use.

Python code names message ids as the first argument of ``Msg(...)`` and ``N_(...)``; Babel's
own Python extractor finds them. Conversation files name them in string values whose key is
``prompt``, ``title``, ``attestation``, ``text`` or ends with ``label``, at any depth;
``extract_conversation`` is the Babel extractor for those (entry point
``disputebot_conversation``, used by ``babel.cfg``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract

from disputebot.errors import ConfigError

DOMAIN = "disputebot"
MESSAGE_KEYS = frozenset({"prompt", "title", "attestation", "text"})
# Babel keyword specs: None means "the first argument is the message id".
PYTHON_KEYWORDS: Mapping[str, None] = {"Msg": None, "N_": None}
# `# i18n: …` just above a call becomes a note for translators in the catalogs.
COMMENT_TAGS = ("i18n:",)
PYTHON_SOURCES = "src/disputebot/**/*.py"
CONVERSATIONS = "conversations/**/*.yaml"

_STR = "tag:yaml.org,2002:str"
Extracted = tuple[int, None, str, list[str]]


def is_message_key(key: str) -> bool:
    """Whether a conversation file's key holds a message id."""
    return key in MESSAGE_KEYS or key.endswith("label")


def extract_conversation(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Babel extractor for conversation YAML files.

    Yields ``(lineno, None, msgid, [where])`` for every message id, ``where`` being its path in
    the file (``steps[category].options[other].label``) as a note for translators. The keyword
    and comment-tag arguments of the extractor protocol are not used: the keys decide.

    Raises:
        ConfigError: the file is not valid YAML.
    """
    try:
        documents = list(yaml.compose_all(fileobj, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        name = getattr(fileobj, "name", "<conversation>")
        raise ConfigError(f"{name}: not valid YAML: {exc}") from exc
    for document in documents:
        if document is not None:
            yield from _walk(document, "")


def _walk(node: yaml.Node, where: str) -> Iterator[Extracted]:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            here = f"{where}.{key}" if where else key
            if is_message_key(key) and isinstance(value, yaml.ScalarNode):
                yield from _message(value, here)
            elif is_message_key(key) and isinstance(value, yaml.SequenceNode):
                for index, item in enumerate(value.value):
                    yield from _message(item, f"{here}[{index}]")
            else:
                yield from _walk(value, here)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, f"{where}[{_item_name(item, index)}]")


def _message(node: yaml.Node, where: str) -> Iterator[Extracted]:
    if isinstance(node, yaml.ScalarNode) and node.tag == _STR and node.value:
        yield node.start_mark.line + 1, None, node.value, [where]
    else:
        yield from _walk(node, where)


def _item_name(node: yaml.Node, index: int) -> str:
    """A list item's ``id`` or ``value`` (a step, an option), else its position."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if (
                isinstance(key_node, yaml.ScalarNode)
                and key_node.value in ("id", "value")
                and isinstance(value, yaml.ScalarNode)
            ):
                return str(value.value)
    return str(index)


def message_ids(data: object, where: str = "") -> Iterator[tuple[str, str]]:
    """``(where, msgid)`` for every message id in already loaded conversation data.

    The same key rule as ``extract_conversation``, over plain dicts and lists (a loaded flow's
    ``model_dump()``), for checks that start from the flows the bot actually loaded.
    """
    if isinstance(data, Mapping):
        for key, value in data.items():
            here = f"{where}.{key}" if where else str(key)
            if is_message_key(str(key)) and isinstance(value, str) and value:
                yield here, value
            elif is_message_key(str(key)) and isinstance(value, list | tuple):
                for index, item in enumerate(value):
                    if isinstance(item, str) and item:
                        yield f"{here}[{index}]", item
                    else:
                        yield from message_ids(item, f"{here}[{index}]")
            else:
                yield from message_ids(value, here)
    elif isinstance(data, list | tuple):
        for index, item in enumerate(data):
            name = next(
                (str(item[k]) for k in ("id", "value") if isinstance(item, Mapping) and k in item),
                str(index),
            )
            yield from message_ids(item, f"{where}[{name}]")


def extract_messages(project_root: Path) -> Catalog:
    """Every message id used under ``project_root``, with its locations, as a template.

    Reads ``src/disputebot/**/*.py`` (``Msg`` and ``N_`` calls) and ``conversations/**/*.yaml``
    directly, so tests and tools work without the extractor's entry point being installed.
    """
    catalog = Catalog(domain=DOMAIN, project="disputebot", fuzzy=False, charset="utf-8")
    sources: list[tuple[Path, Any]] = [
        (path, "python") for path in sorted(project_root.glob(PYTHON_SOURCES))
    ]
    sources += [(path, extract_conversation) for path in sorted(project_root.glob(CONVERSATIONS))]
    for path, method in sources:
        location = path.relative_to(project_root).as_posix()
        with path.open("rb") as fileobj:
            found = extract(
                method,
                fileobj,
                keywords=PYTHON_KEYWORDS,
                comment_tags=COMMENT_TAGS,
                strip_comment_tags=True,
            )
            for lineno, msgid, comments, context in found:
                catalog.add(
                    msgid, None, [(location, lineno)], auto_comments=comments, context=context
                )
    return catalog
