"""The console channel end to end: a real process, a real SQLite file, real evidence files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.channels.console_process import ConsoleProcess, button, cli
from tests.support import elf_bytes, png_bytes, sha

STORE = "https://www.aliexpress.com/store/1102345678/pages/all-items.html?spm=a2g0o.store"
FACTS = (
    "Order 8161234567890123 shows delivered on 2026-03-04, but tracking LP00123456789012 "
    "never left the origin facility; the seller then opened a dispute saying I received it."
)

pytestmark = pytest.mark.slow


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    paths = []
    for i in (1, 2):
        path = tmp_path / f"proof-{i}.png"
        path.write_bytes(png_bytes(i))
        paths.append(path)
    return paths


def fill_to_evidence(bot: ConsoleProcess) -> None:
    bot.send(text="/report")
    category = bot.at_step("category")
    bot.send(button=button(category, "logistics"))
    bot.at_step("account")
    bot.send(text=STORE)
    bot.at_step("description")
    bot.send(text=FACTS)
    bot.at_step("evidence")


def test_report_with_two_pngs_is_filed_and_listed(tmp_path: Path, photos: list[Path]) -> None:
    bot = ConsoleProcess(tmp_path)
    fill_to_evidence(bot)
    bot.send(files=[str(p) for p in photos])
    evidence = bot.at_step("evidence")
    bot.send(button=button(evidence, "done"))
    confirm = bot.at_step("confirm")
    assert "1102345678" in confirm["text"]
    bot.send(button=button(confirm, "submit"))
    receipt = bot.read_until(lambda m: "DR-" in m["text"])
    assert receipt["chat"] == 1
    assert bot.close() == 0

    listed = cli(tmp_path, "cases", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (case,) = json.loads(listed.stdout)
    assert case["id"] in receipt["text"]
    assert case["status"] == "submitted"
    assert case["account"]["store_id"] == "1102345678"
    assert case["account_key"] == "aliexpress:store:1102345678"
    assert len(case["evidence"]) == 2
    for item, path in zip(case["evidence"], photos, strict=True):
        assert item["sha256"] == sha(path.read_bytes())
        assert item["sha256"] in receipt["text"]
        assert Path(item["stored_path"]).is_file()
    assert case["events"][0]["kind"] == "filed"

    shown = cli(tmp_path, "cases", "show", case["id"].lower(), "--json")
    assert json.loads(shown.stdout)["id"] == case["id"]


def test_insult_executable_and_second_report_are_refused(
    tmp_path: Path, photos: list[Path]
) -> None:
    bot = ConsoleProcess(tmp_path)
    bot.send(text="/report")
    bot.send(button=button(bot.at_step("category"), "dispute"))
    bot.at_step("account")
    bot.send(text=STORE)
    bot.at_step("description")
    bot.send(text=FACTS + " The seller is a lying idiot.")
    refusal = bot.at_step("description")
    assert "idiot" in refusal["text"]
    bot.send(text=FACTS)
    bot.at_step("evidence")
    fake = tmp_path / "receipt.png"
    fake.write_bytes(elf_bytes())
    bot.send(files=[str(fake)])
    refused = bot.at_step("evidence")
    assert "receipt.png" in refused["text"]
    bot.send(files=[str(photos[0])])
    bot.send(button=button(bot.read_until(lambda m: m["buttons"]), "done"))
    bot.send(button=button(bot.at_step("confirm"), "submit"))
    receipt = bot.read_until(lambda m: "DR-" in m["text"])
    case_id = next(w for w in receipt["text"].split() if w.startswith("DR-"))[:11]

    bot.send(text="/report")
    bot.send(button=button(bot.at_step("category"), "other"))
    bot.at_step("account")
    bot.send(text="aliexpress.us/store/1102345678")
    again = bot.at_step("account")
    assert case_id in again["text"]
    assert bot.close() == 0


def test_sigkill_after_description_resumes_at_evidence(tmp_path: Path, photos: list[Path]) -> None:
    bot = ConsoleProcess(tmp_path)
    fill_to_evidence(bot)
    bot.kill()

    bot = ConsoleProcess(tmp_path)
    resumed = bot.at_step("evidence")
    assert resumed["expects"] == "files"
    bot.send(text="/back")
    description = bot.at_step("description")
    assert FACTS in description["text"]
    bot.send(text=FACTS)
    bot.at_step("evidence")
    bot.send(files=[str(photos[0])])
    bot.send(text="/done")
    confirm = bot.at_step("confirm")
    assert "1102345678" in confirm["text"]
    assert FACTS in confirm["text"]
    bot.send(button=button(confirm, "submit"))
    bot.read_until(lambda m: "DR-" in m["text"])
    assert bot.close() == 0
    (case,) = json.loads(cli(tmp_path, "cases", "list", "--json").stdout)
    assert case["category"] == "fake_logistics"
    assert case["description"] == FACTS


def test_repeated_event_id_is_applied_once(tmp_path: Path, photos: list[Path]) -> None:
    bot = ConsoleProcess(tmp_path)
    fill_to_evidence(bot)
    bot.send(files=[str(photos[0])], id=41)
    bot.at_step("evidence")
    bot.send(files=[str(photos[1])], id=42)
    bot.at_step("evidence")
    bot.send(files=[str(photos[1])], id=42)  # a resent update: no reply, no effect
    bot.send(text="/done", id=43)
    confirm = bot.at_step("confirm")
    bot.send(button=button(confirm, "submit"), id=44)
    bot.read_until(lambda m: "DR-" in m["text"])
    bot.send(button=button(confirm, "submit"), id=44)
    assert bot.close() == 0
    (case,) = json.loads(cli(tmp_path, "cases", "list", "--json").stdout)
    assert len(case["evidence"]) == 2
    assert not [m for m in bot.seen if "duplicate" in m["text"].lower()]


def test_bad_lines_get_a_message_and_change_nothing(tmp_path: Path) -> None:
    bot = ConsoleProcess(tmp_path)
    bot.send(text="/report")
    bot.at_step("category")
    bot.write("this is not json")
    bad = bot.read_until(lambda m: True)
    assert bad["step"] is None
    assert bad["text"]
    bot.send(files=[str(tmp_path / "missing.png")])
    missing = bot.read_until(lambda m: True)
    assert "missing.png" in missing["text"]
    bot.send(text="/status")
    status = bot.read_until(lambda m: m["step"] == "category")
    assert status["buttons"]
    assert bot.close() == 0


def test_human_mode_numbers_and_paths_through_a_pipe(tmp_path: Path, photos: list[Path]) -> None:
    lines = [
        "/report",
        "1",
        STORE,
        FACTS,
        f"{photos[0]} {photos[1]}",
        "1",
        "1",
    ]
    done = cli(tmp_path, "console", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    assert "[1]" in done.stdout
    assert "DR-" in done.stdout
    (case,) = json.loads(cli(tmp_path, "cases", "list", "--json").stdout)
    assert len(case["evidence"]) == 2


def test_run_without_token_opens_the_console(tmp_path: Path) -> None:
    done = cli(tmp_path, "run", stdin="/help\n")
    assert done.returncode == 0, done.stderr
    assert "/report" in done.stdout
    assert "console" in done.stderr.lower()


def test_check_validates_the_shipped_content(tmp_path: Path) -> None:
    done = cli(tmp_path, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "report v1" in done.stdout
