"""The pure layers import no framework, no database and no I/O library."""

from __future__ import annotations

import ast

import pytest

from tests.support import ROOT

PURE = ["engine", "policy", "cases"]
FORBIDDEN = {
    "aiogram",
    "telegram",
    "sqlalchemy",
    "alembic",
    "aiohttp",
    "aiosqlite",
    "asyncpg",
    "asyncio",
    "httpx",
    "socket",
    "subprocess",
    "click",
    "babel",
    "filetype",
    "os",
    "pathlib",
    "shutil",
    "disputebot.store",
    "disputebot.service",
    "disputebot.channels",
    "disputebot.delivery",
    "disputebot.bootstrap",
    "disputebot.config",
}


def _imports(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize(
    "path",
    sorted(
        str(p.relative_to(ROOT))
        for layer in PURE
        for p in (ROOT / "src" / "disputebot" / layer).rglob("*.py")
    ),
)
def test_pure_layer_imports(path: str) -> None:
    bad = {
        name
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not bad, f"{path} imports {sorted(bad)}"
