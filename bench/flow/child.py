"""One contender's measurements in a process of its own: ``python -m bench.flow.child FW KIND``.

``KIND`` is ``product`` (the bot on framework ``FW``) or ``baselines`` (``FW``'s in-memory and
SQL baselines, which share a process: they share every import). The process first starts the
way it starts in production and prints ``ready`` (the parent times that line from before it
spawned the process: cold start, imports included), then runs the workload once per contender
and mode on a fresh working directory and prints one JSON line for each: wall time, per-update
p50/p99, cases filed, "database is locked" errors met, errors logged, and the peak RSS.

Peak RSS is ``VmHWM``, this process's own high-water mark (an ``exec``'d process does not
inherit its parent's, unlike ``ru_maxrss``), read when every user's draft is open; so the
contender whose memory is compared runs first (the product alone; the in-memory baseline
before the SQL one).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import sys
from pathlib import Path

from bench.flow.fakeapi import TOKEN, FakeTelegram


def vm_hwm_mb() -> float:
    """This process's peak resident set size so far, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource  # noqa: PLC0415  (not Linux: the nearest there is)

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(
    name: str, mode: str, users: int, workdir: Path, in_flight: int
) -> dict[str, object]:
    from bench.flow.contenders import contender  # noqa: PLC0415
    from bench.flow.workload import Workload, drive  # noqa: PLC0415

    fresh(workdir)
    workload = Workload(users)
    fake = FakeTelegram()
    workload.register_files(fake)
    subject = contender(name)
    await subject.open(fake, workdir)
    opened: list[float] = []
    try:
        timings = await drive(
            workload,
            fake,
            subject.feed,
            mode,
            in_flight=in_flight,
            checkpoint=lambda: opened.append(vm_hwm_mb()),
        )
        filed = await subject.filed()
    except Exception as exc:
        # The workload only sees the symptom (a reply that never came); the contender's log
        # says why, and the parent shows the end of this process's output.
        raise RuntimeError(f"{name} {mode}: first error logged: {subject.first_error}") from exc
    finally:
        await subject.close()
    return {
        "contender": name,
        "mode": mode,
        "updates": len(timings.latencies),
        "seconds": timings.seconds,
        "throughput": timings.throughput,
        "p50": timings.p(0.50),
        "p99": timings.p(0.99),
        "filed": filed,
        "locked": subject.locked,
        "errors": subject.errors,
        "rss_open_mb": opened[0] if opened else 0.0,
    }


async def product_ready(framework: str, workdir: Path, template: Path) -> None:
    """As ``disputebot run`` starts: settings, ``bootstrap.build`` (flows, word lists and
    catalogs loaded, the database opened and its migrations checked), the runtime on the
    framework, then ``TelegramRuntime.run`` until it is ready (``getMe``, the command menus,
    ``deleteWebhook``, polling)."""
    from bench.flow.contenders import Product  # noqa: PLC0415

    shutil.copy(
        template, fresh(workdir) / "bot.db"
    )  # already migrated: a restart, not a first run
    product = Product(framework)
    await product.open(FakeTelegram(), workdir, polling=True)
    stop = asyncio.Event()
    task = asyncio.create_task(product.runtime.run(stop))
    await product.runtime.ready.wait()
    say_ready()
    stop.set()
    await task
    await product.app.close()


async def bare_ready(framework: str) -> None:
    """The bare framework (the in-memory baseline) built and connected (``getMe``)."""
    from bench.baselines.drafts import MemoryDrafts  # noqa: PLC0415

    if framework == "ptb":
        from bench.baselines import ptb_bot  # noqa: PLC0415
        from bench.flow.seam_ptb import FakeRequest  # noqa: PLC0415

        application = ptb_bot.build(TOKEN, FakeRequest(FakeTelegram()), MemoryDrafts())
        await application.initialize()
        say_ready()
        await application.shutdown()
        return
    from bench.baselines import aiogram_bot  # noqa: PLC0415
    from bench.flow.seam_aiogram import FakeSession  # noqa: PLC0415

    bot, _dispatcher = aiogram_bot.build(TOKEN, FakeSession(FakeTelegram()), MemoryDrafts())
    await bot.me()
    say_ready()
    await bot.session.close()


def fresh(directory: Path) -> Path:
    directory.mkdir(parents=True)
    return directory


def say_ready() -> None:
    sys.stdout.write("ready\n")
    sys.stdout.flush()


async def main_async(args: argparse.Namespace) -> None:
    fw: str = args.framework
    if args.kind == "product":
        await product_ready(fw, args.workdir / "ready", args.template)
        runs = [(f"product-{fw}", "seq"), (f"product-{fw}", "conc")]
    else:
        await bare_ready(fw)
        runs = [(f"{fw}-memory", "seq"), (f"{fw}-sql", "seq")]
        conc = [(f"{fw}-memory", "conc"), (f"{fw}-sql", "conc")]
        runs += conc[::-1] if args.flip else conc
    for name, mode in runs:
        gc.collect()
        result = await run(name, mode, args.users, args.workdir / mode / name, args.in_flight)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flow.child")
    parser.add_argument("framework", choices=("ptb", "aiogram"))
    parser.add_argument("kind", choices=("product", "baselines"))
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--template", type=Path, help="a migrated database (product)")
    parser.add_argument("--flip", action="store_true", help="the other order where it is free")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
