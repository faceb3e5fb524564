"""The report-flow benchmark (``bench/flow/measure.py``): ``python -m bench.flow [--quick]``.

Kept light: a child process that imports ``bench.flow.child`` pays only for what it measures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.figures import Figure


async def figures(quick: bool) -> list[Figure]:
    from bench.flow.measure import figures as measured  # noqa: PLC0415

    return await measured(quick)
