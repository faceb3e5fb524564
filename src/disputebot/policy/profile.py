"""A marketplace's account patterns, validated from ``platform/<name>.yaml``.

Kept apart from the parser in :mod:`disputebot.policy.accounts` (which re-exports both names):
this module is about validating what operators write, that one about what users type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pydantic

__all__ = ["PlatformProfile", "load_profile"]


def _compile(value: object, field: str) -> object:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        return value  # pydantic reports the wrong type, naming the field
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"{field}: invalid regular expression {value!r}: {exc}") from exc


def _require_group(pattern: object, group: str, field: str) -> None:
    if isinstance(pattern, re.Pattern) and group not in pattern.groupindex:
        raise ValueError(f"{field}: pattern {pattern.pattern!r} has no (?P<{group}>...) group")


class PlatformProfile(pydantic.BaseModel, frozen=True, extra="forbid"):
    """A marketplace's account patterns, validated from ``platform/<name>.yaml``.

    Every regular expression is compiled case-insensitively and matched against a whole path,
    id or text (``fullmatch``). See ``platform/aliexpress.yaml`` for what each field means.
    """

    name: str = pydantic.Field(pattern=r"^[a-z][a-z0-9_-]*$")
    domains: tuple[str, ...] = pydantic.Field(min_length=1)
    short_link_hosts: tuple[str, ...] = ()
    store_paths: tuple[re.Pattern[str], ...] = pydantic.Field(min_length=1)
    store_query_paths: re.Pattern[str] | None = None
    store_query_params: tuple[str, ...] = ()
    item_paths: tuple[re.Pattern[str], ...] = ()
    item_query_params: tuple[str, ...] = ()
    link_store_id: re.Pattern[str]
    id_text: re.Pattern[str]
    item_id_text: re.Pattern[str] | None = None
    not_a_name_texts: tuple[re.Pattern[str], ...] = ()
    bare_store_id: re.Pattern[str]
    bare_item_id: re.Pattern[str]
    name_min_chars: int = pydantic.Field(default=2, ge=1)
    name_max_chars: int = pydantic.Field(default=80, ge=1)
    max_input_chars: int = pydantic.Field(default=200, ge=1)
    max_message_chars: int = pydantic.Field(default=2000, ge=1)

    @pydantic.field_validator("domains", "short_link_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(str(host).strip().lower().rstrip(".") for host in value)
        return value

    @pydantic.field_validator("store_paths", "item_paths", "not_a_name_texts", mode="before")
    @classmethod
    def _pattern_list(cls, value: object, info: pydantic.ValidationInfo) -> object:
        if not isinstance(value, list | tuple):
            return value
        patterns = tuple(_compile(item, info.field_name or "") for item in value)
        group = {"store_paths": "store", "item_paths": "item"}.get(info.field_name or "")
        for pattern in patterns:
            if group is not None:
                _require_group(pattern, group, info.field_name or "")
        return patterns

    @pydantic.field_validator(
        "store_query_paths",
        "link_store_id",
        "id_text",
        "item_id_text",
        "bare_store_id",
        "bare_item_id",
        mode="before",
    )
    @classmethod
    def _pattern(cls, value: object, info: pydantic.ValidationInfo) -> object:
        if value is None:
            return None
        pattern = _compile(value, info.field_name or "")
        if info.field_name in {"id_text", "item_id_text"}:
            _require_group(pattern, "digits", info.field_name)
        return pattern

    @pydantic.model_validator(mode="after")
    def _name_bounds(self) -> PlatformProfile:
        if self.name_min_chars > self.name_max_chars:
            raise ValueError("name_min_chars: must not exceed name_max_chars")
        return self

    def is_platform_host(self, host: str) -> bool:
        """Whether ``host`` (lowercase, no port) belongs to this platform."""
        return any(
            host == known or host.endswith("." + known)
            for known in (*self.domains, *self.short_link_hosts)
        )

    def is_short_link_host(self, host: str) -> bool:
        """Whether ``host`` only serves redirecting short links."""
        return any(host == known or host.endswith("." + known) for known in self.short_link_hosts)


def load_profile(mapping: Mapping[str, object]) -> PlatformProfile:
    """Validate a platform profile loaded from YAML.

    Args:
        mapping: The parsed content of ``platform/<name>.yaml``.

    Returns:
        The validated, immutable profile.

    Raises:
        pydantic.ValidationError: A key is unknown or missing, or a pattern does not compile;
            the message names the key. It is a ``ValueError``.
    """
    return PlatformProfile.model_validate(mapping)
