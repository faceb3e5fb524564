"""Where the product's time per update goes: one workload run under pyinstrument.

``python -m bench.flow.profile [--framework ptb] [--users 200] [--mode seq] [--html FILE]``
prints the call tree of the product path (adapter, sequencer, handler, service, engine, store)
and the SQL statements it sent per update, by kind; not a figure, a guide for where to look.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from sqlalchemy import event

from bench.flow.contenders import Product
from bench.flow.fakeapi import FakeTelegram
from bench.flow.workload import Workload, drive


async def profile(framework: str, users: int, mode: str) -> tuple[Profiler, str]:
    workload = Workload(users)
    fake = FakeTelegram()
    workload.register_files(fake)
    product = Product(framework)
    statements: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory(prefix="flowbench-profile-") as workdir:
        await product.open(fake, Path(workdir))

        @event.listens_for(product.app.engine.sync_engine, "before_cursor_execute")
        def _count(*args: Any) -> None:
            statements[" ".join(str(args[2]).split()[:5])[:80]] += 1

        profiler = Profiler(interval=0.001)
        profiler.start()
        timings = await drive(workload, fake, product.feed, mode)
        profiler.stop()
        await product.close()
    lines = [
        f"{framework} {mode}, {users} users: {timings.throughput:.0f} updates/s, "
        f"p99 {timings.p(0.99) * 1000:.1f} ms (under the profiler)",
        f"SQL statements per update: {sum(statements.values()) / workload.updates:.1f}",
        *(
            f"  {count / workload.updates:5.2f}  {text}"
            for text, count in statements.most_common(25)
        ),
    ]
    return profiler, "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flow.profile")
    parser.add_argument("--framework", choices=("ptb", "aiogram"), default="ptb")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--mode", choices=("seq", "conc"), default="seq")
    parser.add_argument("--html", type=Path)
    args = parser.parse_args()
    profiler, summary = asyncio.run(profile(args.framework, args.users, args.mode))
    sys.stdout.write(profiler.output_text(unicode=True, color=False) + "\n" + summary + "\n")
    if args.html:
        args.html.write_text(profiler.output_html())


if __name__ == "__main__":
    main()
