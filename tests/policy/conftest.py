"""Fixtures for the pure policy tests: the shipped platform profile and word lists.

Policy modules never read files; the tests do, so that what ships is what is tested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from disputebot.policy.accounts import PlatformProfile
from disputebot.policy.objectivity import Lexicon

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("en", "zh_Hans")


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def profile_data() -> dict[str, Any]:
    data = read_yaml(ROOT / "platform" / "aliexpress.yaml")
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def profile(profile_data: dict[str, Any]) -> PlatformProfile:
    return PlatformProfile.model_validate(profile_data)


@pytest.fixture(scope="session")
def word_lists() -> dict[str, dict[str, Any]]:
    return {lang: read_yaml(ROOT / "locales" / lang / "objectivity.yaml") for lang in LANGUAGES}


@pytest.fixture(scope="session")
def lexicons(word_lists: dict[str, dict[str, Any]]) -> tuple[Lexicon, ...]:
    return tuple(Lexicon.from_mapping(lang, data) for lang, data in word_lists.items())
