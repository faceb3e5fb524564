"""Where the product's time per update goes, in wall-clock time, without a profiler's overhead.

``python -m bench.flow.timers [--framework ptb] [--users 300] [--mode seq]`` runs the workload
once with a timer around each of the product's main steps (the handler, the service, the
store calls of the update path, filing and what it calls, evidence files, replies) and prints
each step's time per update and per call. A profiler slows many small calls (SQLAlchemy's) far
more than a few big ones, which skews its picture; these timers cost about a microsecond per
call. Steps nest: the handler's time includes the service's, which includes filing's.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.flow.contenders import Product
from bench.flow.fakeapi import FakeTelegram
from bench.flow.workload import Workload, drive

spent: collections.defaultdict[str, float] = collections.defaultdict(float)
calls: collections.Counter[str] = collections.Counter()


def _timed(owner: type, name: str) -> None:
    original: Callable[..., Awaitable[Any]] = getattr(owner, name)
    label = f"{owner.__name__}.{name}"

    @functools.wraps(original)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started
            calls[label] += 1

    setattr(owner, name, timed)


def install() -> None:
    """Timers around the steps of the update path (imported here: after the bench's own)."""
    from disputebot.channels.telegram.handler import UpdateHandler  # noqa: PLC0415
    from disputebot.service.bot import BotService  # noqa: PLC0415
    from disputebot.service.campaigns import Campaigns  # noqa: PLC0415
    from disputebot.service.evidence import EvidenceVault  # noqa: PLC0415
    from disputebot.service.parties import Parties  # noqa: PLC0415
    from disputebot.service.review import CaseActions  # noqa: PLC0415
    from disputebot.store.cases import SqlCaseStore  # noqa: PLC0415
    from disputebot.store.repositories import (  # noqa: PLC0415
        SqlOutbox,
        SqlReporterStore,
        SqlSessionStore,
        SqlUpdateLog,
    )
    from disputebot.store.uow import SqlUnitOfWork  # noqa: PLC0415

    steps: list[tuple[type, str]] = [
        (UpdateHandler, "_apply"),
        (UpdateHandler, "_deliver"),
        (UpdateHandler, "_event"),
        (BotService, "handle"),
        (BotService, "_apply"),
        (BotService, "_file"),
        (BotService, "_save"),
        (BotService, "_locale"),
        (SqlUnitOfWork, "__aenter__"),
        (SqlUnitOfWork, "commit"),
        (SqlUnitOfWork, "__aexit__"),
        (SqlUpdateLog, "claim"),
        (SqlSessionStore, "get"),
        (SqlSessionStore, "put"),
        (SqlOutbox, "mark_reachable"),
        (SqlOutbox, "put"),
        (SqlCaseStore, "reporter_facts"),
        (SqlCaseStore, "add"),
        (SqlReporterStore, "set_locale"),
        (CaseActions, "track_reminder"),
        (Parties, "on_filed"),
        (Campaigns, "on_filed"),
        (EvidenceVault, "keep_bytes"),
        (EvidenceVault, "settle"),
    ]
    for owner, name in steps:
        _timed(owner, name)


async def run(framework: str, users: int, mode: str) -> str:
    install()
    workload = Workload(users)
    fake = FakeTelegram()
    workload.register_files(fake)
    product = Product(framework)
    with tempfile.TemporaryDirectory(prefix="flowbench-timers-") as workdir:
        await product.open(fake, Path(workdir))
        spent.clear()
        calls.clear()
        started = time.perf_counter()
        timings = await drive(workload, fake, product.feed, mode)
        elapsed = time.perf_counter() - started
        await product.close()
    n = workload.updates
    lines = [
        f"{framework} {mode}, {users} users: {timings.throughput:.0f} updates/s, "
        f"{elapsed / n * 1000:.3f} ms per update (wall clock)",
        f"{'step':32} {'ms/update':>9} {'calls':>7} {'ms/call':>8}",
    ]
    for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        lines.append(
            f"{label:32} {seconds / n * 1000:9.3f} {calls[label]:7d} "
            f"{seconds / calls[label] * 1000:8.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flow.timers")
    parser.add_argument("--framework", choices=("ptb", "aiogram"), default="ptb")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--mode", choices=("seq", "conc"), default="seq")
    args = parser.parse_args()
    sys.stdout.write(asyncio.run(run(args.framework, args.users, args.mode)) + "\n")


if __name__ == "__main__":
    main()
