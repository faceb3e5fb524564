"""Translated texts: catalogs from ``locales/`` (Babel), locale negotiation, extraction.

Importing this package stays cheap: ``N_`` is defined here, and ``Catalogs`` (which pulls in
``babel.messages``) is imported on first use. ``negotiate`` is imported eagerly (it needs only
``babel.core``): its module has the same name, and once imported the submodule, not the
function, would be the package attribute.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from disputebot.i18n.negotiate import negotiate

if TYPE_CHECKING:
    from disputebot.i18n.catalog import Catalogs

__all__ = ["N_", "Catalogs", "negotiate"]


# One marker for every layer: the engine defines it because it may not import this package.
from disputebot.engine.effects import N_


def __getattr__(name: str) -> Any:
    if name == "Catalogs":
        return import_module("disputebot.i18n.catalog").Catalogs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
