"""``disputebot cases show ID --json`` on a real SQLite file: the statements of reasons, who
gave each evidence item and whether it is shared, and the case a duplicate was merged into."""

from __future__ import annotations

import json
from pathlib import Path

from disputebot.cases.records import (
    Audience,
    CaseChange,
    CaseEvent,
    EvidenceSource,
    Statement,
    Status,
)
from disputebot.store import migrate
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.channels.console_process import cli
from tests.contract.builders import ALICE, at, evidence, new_case, submitted

TARGET = "DR-7K3M9Q2A"
MERGED = "DR-7K3M9Q2B"
PARTY = "telegram:3003"


async def _seed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        uow_factory = SqlUnitOfWorkFactory(make_session_factory(engine))
        async with uow_factory() as uow:
            await uow.cases.add(
                new_case(TARGET, evidence_files=(evidence(1), evidence(2))), submitted()
            )
            await uow.cases.add(new_case(MERGED, reporter="telegram:77"), submitted())
            await uow.cases.apply(
                TARGET,
                CaseChange(
                    event=CaseEvent(at(5), PARTY, "party_statement", None, None),
                    evidence=(evidence(3),),
                    evidence_source=EvidenceSource.PARTY,
                ),
            )
            await uow.cases.set_shareable(TARGET, 1, True)
            await uow.cases.apply(
                MERGED,
                CaseChange(
                    event=CaseEvent(at(6), "telegram:9", "merge", Status.SUBMITTED, Status.MERGED),
                    to=Status.MERGED,
                    merged_into=TARGET,
                ),
            )
            for audience, recipient, locale in (
                (Audience.REPORTER, ALICE.user_ref, "en"),
                (Audience.PARTY, None, "zh_Hans"),
            ):
                await uow.cases.add_statement(
                    Statement(
                        case_id=TARGET,
                        audience=audience,
                        kind="decision",
                        body={"outcome": "upheld", "facts": ["包裹未到"]},
                        locale=locale,
                        recipient=recipient,
                        created_at=at(10),
                    )
                )
            await uow.commit()
    finally:
        await engine.dispose()


async def test_cases_show_json_exports_statements_sources_and_merges(tmp_path: Path) -> None:
    await _seed(tmp_path)

    shown = cli(tmp_path, "cases", "show", TARGET, "--json")
    merged = cli(tmp_path, "cases", "show", MERGED, "--json")

    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert [(e["name"], e["source"], e["shareable"]) for e in data["evidence"]] == [
        ("shot-1.png", "reporter", False),
        ("shot-2.png", "reporter", True),
        ("shot-3.png", "party", False),
    ]
    assert data["merged_into"] is None
    assert data["statements"] == [
        {
            "audience": "reporter",
            "kind": "decision",
            "body": {"outcome": "upheld", "facts": ["包裹未到"]},
            "locale": "en",
            "recipient": ALICE.user_ref,
            "created_at": at(10).isoformat(),
        },
        {
            "audience": "party",
            "kind": "decision",
            "body": {"outcome": "upheld", "facts": ["包裹未到"]},
            "locale": "zh_Hans",
            "recipient": None,
            "created_at": at(10).isoformat(),
        },
    ]
    assert merged.returncode == 0, merged.stderr
    other = json.loads(merged.stdout)
    assert (other["status"], other["merged_into"], other["statements"]) == (
        "merged",
        TARGET,
        [],
    )
