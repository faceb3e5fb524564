"""Every benchmark, one table: ``python -m bench.run [--quick]`` (``make bench``,
``make bench-quick``).

Runs each benchmark module that exposes ``async def figures(quick) -> list[Figure]`` in turn
(a module that is missing or fails is reported as an error line, and the others still run),
prints one table (``bench.figures.table``), draws the ratio figures against their targets to
``bench/results.png`` and writes every figure to ``bench/results.json``. Exit status 1 when a
target is missed or a benchmark failed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import chart
from bench.figures import Figure, table

MODULES = ("bench.flow", "bench.queries", "bench.delivery")
HERE = Path(__file__).resolve().parent


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# A benchmark that mostly waits (the delivery worker paces itself to Telegram's rate limit)
# runs beside one whose timed work happens in child processes (the flow's contenders), and is
# awaited before the next benchmark, which may time work in this process.
BESIDE = {"bench.delivery": "bench.flow"}


async def run_one(name: str, quick: bool) -> tuple[list[Figure], str | None]:
    """One benchmark's figures, or its error line."""
    started = time.perf_counter()
    try:
        module = importlib.import_module(name)
        measure = getattr(module, "figures", None)
        if measure is None:
            return [], f"{name}: exposes no figures(quick)"
        found: list[Figure] = await measure(quick)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return [], f"{name}: {type(exc).__name__}: {first}"
    sys.stderr.write(f"{name}: {len(found)} figures in {time.perf_counter() - started:.0f} s\n")
    return found, None


async def collect(quick: bool, modules: tuple[str, ...]) -> tuple[list[Figure], list[str]]:
    results: dict[str, tuple[list[Figure], str | None]] = {}
    beside = {name: host for name, host in BESIDE.items() if name in modules and host in modules}
    for name in modules:
        if name in beside:
            continue
        started = [
            (other, asyncio.create_task(run_one(other, quick)))
            for other, host in beside.items()
            if host == name
        ]
        results[name] = await run_one(name, quick)
        for other, task in started:
            results[other] = await task
    figures = [f for name in modules for f in results[name][0]]
    errors = [e for name in modules if (e := results[name][1]) is not None]
    return figures, errors


def to_json(figure: Figure) -> dict[str, object]:
    return {
        "group": figure.group,
        "name": figure.name,
        "unit": figure.unit,
        "rounds": list(figure.rounds),
        "median": figure.median,
        "target": None
        if figure.target is None
        else {"op": figure.target.op, "bound": figure.target.bound},
        "passed": figure.passed,
        "detail": figure.detail,
        "notes": list(figure.notes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="smaller workloads, same rounds")
    parser.add_argument("--only", help="comma-separated modules, e.g. bench.flow")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    parser.add_argument("--png", type=Path, default=HERE / "results.png")
    args = parser.parse_args()
    modules = tuple(args.only.split(",")) if args.only else MODULES
    started = time.perf_counter()
    figures, errors = asyncio.run(collect(args.quick, modules))
    seconds = time.perf_counter() - started
    ok = table(figures, out=out) if figures else True
    for error in errors:
        out(f"ERROR {error}")
    kind = "quick" if args.quick else "full"
    out(f"\n{len(figures)} figures, {len(errors)} errors, {kind} run in {seconds:.0f} s")
    when = datetime.now(UTC).isoformat(timespec="seconds")
    args.json.write_text(
        json.dumps(
            {
                "when": when,
                "quick": args.quick,
                "seconds": round(seconds, 1),
                "figures": [to_json(f) for f in figures],
                "errors": errors,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    if chart.draw(figures, args.png, f"disputebot benchmarks ({kind}, {when})"):
        out(f"chart: {args.png}")
    sys.exit(0 if ok and not errors else 1)


if __name__ == "__main__":
    main()
