"""Crash injection at CI size: reporters file complete reports while the bot is SIGKILLed.

The full run (200+ reports, 50+ kills per driver) is ``python -m tests.reliability.crash``;
see docs/RELIABILITY-crash.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import RunReport, run_crash

pytestmark = pytest.mark.slow

SEED = 20261130
REPORTS = 12
KILLS = 6


def assert_nothing_lost(report: RunReport) -> None:
    assert report.problems == [], report.table()
    assert report.filed == REPORTS
    assert report.kills >= KILLS
    assert report.lost_answers == 0
    assert report.duplicate_cases == 0
    assert report.lost_notifications == 0
    assert report.duplicate_processed_updates == 0


async def test_console_survives_sigkills(tmp_path: Path) -> None:
    report = await run_crash("console", REPORTS, KILLS, SEED, tmp_path, workers=3)
    assert_nothing_lost(report)
    assert report.starts >= REPORTS + KILLS


async def test_telegram_survives_sigkills(tmp_path: Path) -> None:
    report = await run_crash("telegram", REPORTS, KILLS, SEED, tmp_path, users_at_once=REPORTS)
    assert_nothing_lost(report)
    assert report.starts == KILLS + 1
