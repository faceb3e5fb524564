"""The full crash-injection run: ``python -m tests.reliability.crash --help``.

    python -m tests.reliability.crash --driver both --reports 200 --kills 50 --seed 7

files ``--reports`` reports per driver while SIGKILLing the bot ``--kills`` times, checks the
invariants (see ``tests/reliability/harness.py``) and prints the report table. The exit code
is 0 only if nothing was lost or doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from tests.reliability.harness import RunReport, combined_table, run_crash


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.crash")
    parser.add_argument("--driver", choices=("console", "telegram", "both"), default="both")
    parser.add_argument("--reports", type=int, default=200, help="reports per driver")
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs per driver")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=4, help="console processes at once")
    parser.add_argument("--users", type=int, default=20, help="Telegram users at once")
    parser.add_argument("--keep", type=Path, help="work here and keep the files (else a temp dir)")
    args = parser.parse_args(argv)
    drivers = ["console", "telegram"] if args.driver == "both" else [args.driver]
    # A bot killed in the middle of a request leaves the fake Bot API server a cut connection,
    # which aiohttp reports with a traceback; that is the point of the exercise, not news.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

    async def go(root: Path) -> list[RunReport]:
        reports = []
        for driver in drivers:
            report = await run_crash(
                driver,
                args.reports,
                args.kills,
                args.seed,
                root / driver,
                workers=args.workers,
                users_at_once=args.users,
            )
            sys.stdout.write(report.table() + "\n\n")
            sys.stdout.flush()
            reports.append(report)
        return reports

    if args.keep is not None:
        reports = asyncio.run(go(args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="disputebot-crash-") as tmp:
            reports = asyncio.run(go(Path(tmp)))
    sys.stdout.write(combined_table(reports) + "\n")
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
