"""The report-flow benchmark: the product against each framework's own baselines.

Every round runs, for each framework, two child processes (``bench.flow.child``): the product,
and the framework's two baselines (which share every import). Each starts cold (timed from
spawn to ready), then runs the workload in both modes, each run on a fresh database. The two
children alternate their order from one round to the next (``--side-by-side``: the two
frameworks' children of one kind run at once instead); each figure is the median of the
per-round ratios.

- ``seq`` runs (one update at a time): the product, the SQL baseline and the in-memory
  baseline — throughput and p99 against the SQL baseline, peak RSS with every draft open
  against the in-memory baseline;
- ``conc`` runs (64 updates in flight): the product, the in-memory and the SQL baseline —
  throughput against the in-memory baseline, p99 against the SQL baseline, and the product's
  "database is locked" errors;
- ``ready`` (cold start): the product started as ``disputebot run`` starts it, and the bare
  framework (the in-memory baseline), timed from before the process is spawned to its
  ``ready`` line.

Every run must end with one filed case per user, or the benchmark stops with an error.
"""

from __future__ import annotations

import asyncio
import compileall
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.figures import Figure, at_least, at_most

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("ptb", "aiogram")
ROUNDS = 3
FULL_USERS = 2000
QUICK_USERS = 50
IN_FLIGHT = 64

Result = dict[str, Any]
Log = Callable[[str], None]


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


@dataclass
class Plan:
    users: int
    rounds: int = ROUNDS
    frameworks: tuple[str, ...] = FRAMEWORKS
    in_flight: int = IN_FLIGHT
    # The frameworks' children of one kind side by side, one per core (see ``measure``):
    # twice as fast, but the figures lean against the product (bench/README.md, "Rounds").
    side_by_side: bool = False


@dataclass
class Rounds:
    """One framework's results: per (contender, mode), and per contender's start, one value
    per round."""

    runs: dict[tuple[str, str], list[Result]] = field(default_factory=dict)
    ready: dict[str, list[float]] = field(default_factory=dict)

    def get(self, name: str, mode: str, key: str) -> list[float]:
        return [float(r[key]) for r in self.runs[(name, mode)]]


async def run_child(
    framework: str,
    kind: str,
    plan: Plan,
    template: Path,
    *,
    flip: bool,
    started: asyncio.Event | None = None,
) -> tuple[float, list[Result]]:
    """Seconds from before the process is spawned to its ``ready`` line, and its results.
    ``started`` is set once that line (or the end of the child's output) has come."""
    with tempfile.TemporaryDirectory(prefix="flowbench-") as workdir:
        args = [framework, kind, "--users", str(plan.users), "--in-flight", str(plan.in_flight)]
        args += ["--workdir", workdir, "--template", str(template)]
        start = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.flow.child",
            *args,
            *(["--flip"] if flip else []),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        first = await proc.stdout.readline()
        ready = time.perf_counter() - start
        if started is not None:
            started.set()
        out, err = await proc.communicate()
    if first.strip() != b"ready" or proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-20:]
        raise RuntimeError(f"{framework} {kind} failed:\n" + "\n".join(tail))
    results: list[Result] = [json.loads(line) for line in out.decode().splitlines() if line]
    for result in results:
        if result["filed"] != plan.users:
            raise RuntimeError(
                f"{result['contender']} {result['mode']}: {result['filed']} cases filed "
                f"for {plan.users} users"
            )
    return ready, results


def _log_result(log: Log, r: Result) -> None:
    rss = f"rss {r['rss_open_mb']:6.1f} MB  " if r["mode"] == "seq" else ""
    log(
        f"  {r['contender']:<16} {r['mode']:<4} {r['throughput']:8.0f} updates/s  "
        f"p99 {float(r['p99']) * 1000:7.1f} ms  {rss}locked {r['locked']}  errors {r['errors']}"
    )


async def migrated_template(directory: Path) -> Path:
    """A database migrated with the real migrations: the product's cold start opens a copy,
    as a restart opens the database it left."""
    from disputebot.store import migrate  # noqa: PLC0415

    path = directory / "template.db"
    await migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def compile_sources() -> None:
    """Bytecode for the product and the baselines, as an installed package has it (pip
    compiles a wheel's modules when it installs them). An editable checkout in an environment
    with ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile every module at every start,
    and the cold start would time the compiler. The framework packages are compiled already."""
    for folder in (ROOT / "src" / "disputebot", ROOT / "bench"):
        compileall.compile_dir(folder, quiet=1)


async def measure(plan: Plan, log: Log = _stderr) -> dict[str, Rounds]:
    """Every round, per framework, its product and then its baselines (the other way round,
    and the frameworks in the other order, every other round). With ``plan.side_by_side`` the
    frameworks' children of one kind run at once, one per core, each started once the one
    before it is ready (a cold start is then timed beside the same neighbour for the product
    as for the bare framework): about half the time, at a cost to the product's figures."""
    data = {fw: Rounds() for fw in plan.frameworks}
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="flowbench-") as scratch:
        template = await migrated_template(Path(scratch))

        async def one(fw: str, kind: str, flip: bool, started: asyncio.Event | None) -> None:
            ready, results = await run_child(fw, kind, plan, template, flip=flip, started=started)
            starter = f"product-{fw}" if kind == "product" else f"{fw}-memory"
            data[fw].ready.setdefault(starter, []).append(ready)
            log(f"  {starter:<16} ready in {ready:.2f} s")
            for result in results:
                _log_result(log, result)
                key = (str(result["contender"]), str(result["mode"]))
                data[fw].runs.setdefault(key, []).append(result)

        for round_no in range(plan.rounds):
            side = ", frameworks side by side" if plan.side_by_side else ""
            log(f"round {round_no + 1} of {plan.rounds} ({plan.users} users{side})")
            flip = round_no % 2 == 1
            kinds = ("baselines", "product") if flip else ("product", "baselines")
            frameworks = plan.frameworks[::-1] if flip else plan.frameworks
            if not plan.side_by_side:
                for fw in frameworks:
                    for kind in kinds:
                        await one(fw, kind, flip, None)
                continue
            for kind in kinds:
                running = []
                for fw in frameworks:
                    started = asyncio.Event()
                    running.append(asyncio.create_task(one(fw, kind, flip, started)))
                    waiter = asyncio.create_task(started.wait())
                    await asyncio.wait([running[-1], waiter], return_when=asyncio.FIRST_COMPLETED)
                    waiter.cancel()
                await asyncio.gather(*running)
    return data


def _per_round(
    a: list[float], b: list[float], op: Callable[[float, float], float]
) -> tuple[float, ...]:
    return tuple(op(x, y) for x, y in zip(a, b, strict=True))


def _fmt(values: list[float], unit: str, scale: float = 1.0, digits: int = 0) -> str:
    shown = ", ".join(f"{v * scale:,.{digits}f}" for v in values)
    return f"median {statistics.median(values) * scale:,.{digits}f} {unit} (rounds: {shown})"


def _line(
    r: Rounds, name: str, mode: str, key: str, unit: str, *, scale: float = 1.0, digits: int = 0
) -> str:
    return f"{name} {mode}: " + _fmt(r.get(name, mode, key), unit, scale, digits)


def build_figures(plan: Plan, data: dict[str, Rounds]) -> list[Figure]:
    figures: list[Figure] = []
    ratio = lambda x, y: x / y  # noqa: E731
    for fw, r in data.items():
        product, sql, memory = f"product-{fw}", f"{fw}-sql", f"{fw}-memory"
        label = {"ptb": "python-telegram-bot", "aiogram": "aiogram"}[fw]

        figures.append(
            Figure(
                "flow",
                f"{fw}: durable throughput, seq (÷ SQL baseline)",
                _per_round(
                    r.get(product, "seq", "throughput"), r.get(sql, "seq", "throughput"), ratio
                ),
                at_least(1.0),
                detail="\n".join(
                    _line(r, n, "seq", "throughput", "updates/s") for n in (product, sql, memory)
                ),
                notes=(f"{label}, {plan.users} users, one update at a time",),
            )
        )
        figures.append(
            Figure(
                "flow",
                f"{fw}: durable throughput, conc (÷ in-memory baseline)",
                _per_round(
                    r.get(product, "conc", "throughput"),
                    r.get(memory, "conc", "throughput"),
                    ratio,
                ),
                at_least(0.8),
                detail="\n".join(
                    _line(r, n, "conc", "throughput", "updates/s") for n in (product, memory, sql)
                ),
                notes=(f"{label}, {plan.users} users, {plan.in_flight} updates in flight",),
            )
        )
        locked = r.get(product, "conc", "locked")
        figures.append(
            Figure(
                "flow",
                f"{fw}: 'database is locked', conc (product)",
                tuple(locked),
                at_most(0),
                unit="",
                detail="\n".join(
                    f"{n} conc: " + ", ".join(str(int(v)) for v in r.get(n, "conc", "locked"))
                    for n in (product, sql)
                ),
            )
        )
        for mode, bound in (("seq", 1.5), ("conc", 0.5)):
            figures.append(
                Figure(
                    "flow",
                    f"{fw}: p99 per update, {mode} (÷ SQL baseline)",
                    _per_round(r.get(product, mode, "p99"), r.get(sql, mode, "p99"), ratio),
                    at_most(bound),
                    detail="\n".join(
                        _line(r, n, mode, "p99", "ms", scale=1000, digits=1)
                        for n in (product, sql, memory)
                    ),
                )
            )
        figures.append(
            Figure(
                "flow",
                f"{fw}: peak RSS, {plan.users} drafts open (− in-memory baseline)",
                _per_round(
                    r.get(product, "seq", "rss_open_mb"),
                    r.get(memory, "seq", "rss_open_mb"),
                    lambda x, y: x - y,
                ),
                at_most(30),
                unit="MB",
                detail="\n".join(
                    _line(r, n, "seq", "rss_open_mb", "MB", scale=1, digits=1)
                    for n in (product, memory)
                ),
                notes=("each contender in its own process; VmHWM when every draft is open",),
            )
        )
        figures.append(
            Figure(
                "flow",
                f"{fw}: cold start to ready (÷ bare framework)",
                _per_round(r.ready[product], r.ready[memory], ratio),
                at_most(1.5),
                detail="\n".join(
                    f"{n}: " + _fmt(r.ready[n], "s", 1, 2) for n in (product, memory)
                ),
                notes=("from before the process is spawned to its first moment ready",),
            )
        )
    return figures


async def figures(quick: bool, *, users: int | None = None, log: Log = _stderr) -> list[Figure]:
    plan = Plan(users or (QUICK_USERS if quick else FULL_USERS))
    return build_figures(plan, await measure(plan, log))
