"""``python -m bench.flow [--quick] [--users N] [--frameworks ptb,aiogram] [--side-by-side]``:
this benchmark alone, printed as one table; exit status 1 when a target is missed."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.figures import table
from bench.flow.measure import FULL_USERS, QUICK_USERS, Plan, build_figures, measure


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flow")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_USERS} users")
    parser.add_argument("--users", type=int, help=f"default {FULL_USERS}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frameworks", default="ptb,aiogram")
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="the frameworks' children at once, one per core (faster, leans against the product)",
    )
    args = parser.parse_args()
    users = args.users or (QUICK_USERS if args.quick else FULL_USERS)
    frameworks = tuple(args.frameworks.split(","))
    plan = Plan(users, args.rounds, frameworks, side_by_side=args.side_by_side)
    figures = build_figures(plan, asyncio.run(measure(plan)))
    ok = table(figures, out=lambda line: sys.stdout.write(line + "\n"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
