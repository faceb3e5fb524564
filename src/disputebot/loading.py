"""Reading the operator's files: conversations, the platform profile, objectivity word lists."""

from __future__ import annotations

from pathlib import Path

import yaml

from disputebot.engine.spec import Flow, FlowBook, load_yaml, parse_flow
from disputebot.errors import ConfigError
from disputebot.policy.accounts import PlatformProfile
from disputebot.policy.objectivity import Lexicon


def load_flows(folder: Path) -> FlowBook:
    """Every ``*.yaml`` under ``folder`` (archived versions included)."""
    files = sorted(folder.rglob("*.yaml"))
    if not files:
        raise ConfigError(f"{folder}: no conversation files")
    flows: list[Flow] = [parse_flow(f.read_text(encoding="utf-8"), str(f)) for f in files]
    return FlowBook.of(*flows)


def load_profile(path: Path) -> PlatformProfile:
    data = _yaml(path)
    try:
        return PlatformProfile.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_lexicons(locales_dir: Path) -> tuple[Lexicon, ...]:
    """``locales/<lang>/objectivity.yaml`` for every language that has one."""
    lexicons = []
    for path in sorted(locales_dir.glob("*/objectivity.yaml")):
        try:
            lexicons.append(Lexicon.from_mapping(path.parent.name, _yaml(path)))
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    return tuple(lexicons)


def _yaml(path: Path) -> dict[str, object]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data
