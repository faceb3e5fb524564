"""What every benchmark reports: figures with a target and a verdict, printed as one table.

A figure is a ratio (product ÷ baseline measured in the same run) or an absolute value, with the
rounds it was measured in. ``bench/run.py`` collects the figures of every benchmark, prints one
table and draws one chart; each benchmark module exposes ``async def figures(quick: bool) ->
list[Figure]`` for it and can still be run on its own.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Figure", "Target", "at_least", "at_most", "table"]


@dataclass(frozen=True, slots=True)
class Target:
    """``value <op> bound``: ``op`` is ``">="`` or ``"<="``."""

    op: str
    bound: float

    def holds(self, value: float) -> bool:
        return value >= self.bound if self.op == ">=" else value <= self.bound

    def __str__(self) -> str:
        return f"{'≥' if self.op == '>=' else '≤'} {self.bound:g}"


def at_least(bound: float) -> Target:
    return Target(">=", bound)


def at_most(bound: float) -> Target:
    return Target("<=", bound)


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure. ``rounds`` holds one value per round (a ratio when ``unit`` is
    ``"x"``); the verdict is taken on the median. ``detail`` is printed under the table (a
    query plan, the baseline's absolute numbers)."""

    group: str
    name: str
    rounds: tuple[float, ...]
    target: Target | None
    unit: str = "x"
    detail: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.target.holds(self.median)


def _fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}×"
    return f"{value:,.3g} {unit}".strip()


def table(figures: Sequence[Figure], out: Callable[[str], None] = print) -> bool:
    """Print the figures as one table; True when every target holds."""
    header = ("group", "figure", "min", "median", "max", "target", "verdict")
    rows = []
    for f in figures:
        verdict = {True: "PASS", False: "FAIL", None: "—"}[f.passed]
        rows.append(
            (
                f.group,
                f.name,
                _fmt(min(f.rounds), f.unit),
                _fmt(f.median, f.unit),
                _fmt(max(f.rounds), f.unit),
                "" if f.target is None else str(f.target),
                verdict,
            )
        )
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    line = "  ".join("{:<" + str(w) + "}" for w in widths)
    out(line.format(*header))
    out("  ".join("-" * w for w in widths))
    for r in rows:
        out(line.format(*r))
    for f in figures:
        if f.detail or f.notes:
            out("")
            out(f"[{f.group}] {f.name}")
            for note in f.notes:
                out(f"  {note}")
            if f.detail:
                out("  " + f.detail.replace("\n", "\n  "))
    return all(f.passed is not False for f in figures)
