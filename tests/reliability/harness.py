"""Crash injection: scripted reporters file complete reports while the bot is SIGKILLed.

Two drivers run the real bot as child processes on one SQLite file:

* ``console``: ``disputebot console --jsonl --user N``, one process per reporter (see
  ``ConsoleDriver`` for why), several at once. Every input line carries an ``"id"``; after a
  kill the driver restarts the process and resends every line whose effect it cannot prove.
* ``telegram``: ``disputebot run`` (python-telegram-bot, long polling) against an in-test
  ``FakeBotApi``; test users drive the flow through the fake server, which keeps unconfirmed
  updates across the bot's deaths just as Telegram does.

Each ``ScriptedReporter`` files one report: a category, a store link of its own (so the "one
open report per reporter and account" rule never interferes), a unique description and one
to three distinct PNG files, then Done and Submit. When everyone is done the database (read
with the ``sqlite3`` module) and what the users received are checked against DESIGN §4:

* every reporter has exactly one case: no duplicate, none missing;
* each case holds exactly the answers its reporter gave: category, store id, description and
  the evidence hashes in the order sent (``lost_answers`` counts every answer that differs,
  a missing case losing all four);
* every case has its receipt in the outbox, delivered, and the receipt with the case id
  reached the reporter (the Telegram chat; for the console, any console's output, as the
  outbox of the console channel is drained by whichever console process runs). Delivery is
  at-least-once: a receipt shown twice is allowed, and counted;
* ``processed_updates`` holds no event id twice, and every input sent is recorded there;
* while running, each driver also checks what it can see: a console line resent after it
  took effect must get no answer (its id is known), and a Telegram user who has had every
  update handled must never be asked a question they already answered.

Timeouts here are safety bounds that turn a hang into a failure, never performance
assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from disputebot.testing.fake_bot_api import FakeBotApi
from tests.support import png_bytes, sha

# A safety bound for any single wait (a reply, a restart, a drain); not a performance figure.
PATIENCE = 120.0
CATEGORIES = ("fake_logistics", "concealed_info", "created_dispute", "other")
RECEIPT_MARK = "Your report has been filed"  # receipt.filed in the English catalog
CASE_ID = re.compile(r"\bDR-[0-9A-Z]{6,}\b")

Message = dict[str, Any]


class HarnessError(AssertionError):
    """The harness could not drive the bot as scripted (not an invariant violation)."""


# -- the scripted reporters ----------------------------------------------------------------


def evidence_png(n: int) -> bytes:
    """A valid PNG, different for every ``n`` (``png_bytes`` varies 256 ways per size)."""
    return png_bytes(n % 256, size=4 + n // 256)


@dataclass(frozen=True)
class ScriptedReporter:
    index: int
    user_id: int
    category: str
    store_id: str
    description: str
    files: tuple[Path, ...]
    hashes: tuple[str, ...]
    in_one_go: bool  # console: one files line; telegram: one album
    done_by_button: bool  # console: the Done button, else /done

    @property
    def store_link(self) -> str:
        return f"https://www.aliexpress.com/store/{self.store_id}"


def make_reporters(
    count: int, rng: random.Random, folder: Path, first_user: int
) -> list[ScriptedReporter]:
    folder.mkdir(parents=True, exist_ok=True)
    reporters = []
    serial = 0
    for i in range(count):
        files, hashes = [], []
        for k in range(rng.randint(1, 3)):
            data = evidence_png(serial)
            serial += 1
            path = folder / f"r{i:04d}-proof-{k + 1}.png"
            path.write_bytes(data)
            files.append(path)
            hashes.append(sha(data))
        day = 1 + i % 28
        reporters.append(
            ScriptedReporter(
                index=i,
                user_id=first_user + i,
                category=rng.choice(CATEGORIES),
                store_id=str(1_103_000_000 + i),
                description=(
                    f"Report {i}: order 81612345{i:08d} was marked delivered on "
                    f"2026-03-{day:02d}, but tracking LP{i:014d} shows the parcel never left "
                    "the origin facility. The seller then opened a dispute claiming I had "
                    "received it."
                ),
                files=tuple(files),
                hashes=tuple(hashes),
                in_one_go=len(files) > 1 and rng.random() < 0.5,
                done_by_button=rng.random() < 0.5,
            )
        )
    return reporters


# -- the report ----------------------------------------------------------------------------


@dataclass
class RunReport:
    driver: str
    seed: int
    reports: int
    kills: int = 0
    starts: int = 0
    filed: int = 0
    lost_answers: int = 0
    missing_cases: int = 0
    duplicate_cases: int = 0
    lost_notifications: int = 0
    duplicated_notifications: int = 0
    duplicate_processed_updates: int = 0
    inputs_sent: int = 0
    inputs_unrecorded: int = 0
    inputs_resent: int = 0
    repeats_resent: int = 0
    status_asks: int = 0
    errors_logged: int = 0
    wall_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            ("driver", self.driver),
            ("seed", str(self.seed)),
            ("reports scripted", str(self.reports)),
            ("cases filed", str(self.filed)),
            ("kills injected (SIGKILL)", str(self.kills)),
            ("bot process starts", str(self.starts)),
            ("inputs sent (incl. resends)", str(self.inputs_sent)),
        ]
        if self.driver == "console":
            rows.append(("lines resent after a kill", str(self.inputs_resent)))
            rows.append(
                ("  of which had taken effect (must be ignored)", str(self.repeats_resent))
            )
        else:
            rows.append(("updates handed out again", str(self.inputs_resent)))
            rows.append(("replies lost with a killed bot (/status)", str(self.status_asks)))
        rows += [
            ("lost answers", str(self.lost_answers)),
            ("missing cases", str(self.missing_cases)),
            ("duplicate cases", str(self.duplicate_cases)),
            ("lost notifications", str(self.lost_notifications)),
            ("duplicated notifications (allowed)", str(self.duplicated_notifications)),
            ("event ids applied twice", str(self.duplicate_processed_updates)),
            ("inputs never recorded", str(self.inputs_unrecorded)),
            ("tracebacks in bot logs", str(self.errors_logged)),
            ("wall time", f"{self.wall_seconds:.1f} s"),
        ]
        return rows

    def table(self) -> str:
        width = max(len(k) for k, _ in self.rows())
        lines = [f"{k:<{width}}  {v}" for k, v in self.rows()]
        lines += [f"PROBLEM: {p}" for p in self.problems[:20]]
        return "\n".join(lines)


def combined_table(reports: Sequence[RunReport]) -> str:
    """Several runs side by side (a Markdown table)."""
    keys = [k for k, _ in reports[0].rows()]
    by_run = [dict(r.rows()) for r in reports]
    lines = [
        "| | " + " | ".join(r.driver for r in reports) + " |",
        "|---|" + "---|" * len(reports),
    ]
    lines += [
        "| " + k + " | " + " | ".join(run.get(k, "—") for run in by_run) + " |" for k in keys
    ]
    return "\n".join(lines)


# -- the checks on the database ------------------------------------------------------------


def _read(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db, timeout=PATIENCE)) as con:
        return con.execute(sql, params).fetchall()


def check_store(
    report: RunReport,
    db: Path,
    reporters: Sequence[ScriptedReporter],
    channel: str,
    sent_ids: Iterable[tuple[str, ...]],
) -> dict[int, str]:
    """Check cases, answers, outbox and processed updates; return each user's case id.

    ``sent_ids`` holds, for every input sent, the forms its id may be recorded under.
    """
    cases: dict[str, list[tuple[Any, ...]]] = {}
    for row in _read(
        db, "select id, public_id, reporter_id, category, account, description from cases"
    ):
        cases.setdefault(row[2], []).append(row)
    evidence: dict[int, list[str]] = {}
    for case_pk, sha256 in _read(
        db, "select case_id, sha256 from evidence order by case_id, position"
    ):
        evidence.setdefault(case_pk, []).append(sha256)
    outbox: dict[str, list[tuple[str, int, str]]] = {}
    for case_id, ch, chat_id, status in _read(
        db, "select case_id, channel, chat_id, status from outbox where case_id is not null"
    ):
        outbox.setdefault(case_id, []).append((ch, chat_id, status))
    report.filed = sum(len(v) for v in cases.values())

    by_user: dict[int, str] = {}
    expected_refs = {f"{channel}:{r.user_id}" for r in reporters}
    strangers = set(cases) - expected_refs
    if strangers:
        report.problems.append(f"cases filed by nobody scripted: {sorted(strangers)}")
    for r in reporters:
        found = cases.get(f"{channel}:{r.user_id}", [])
        if not found:
            report.missing_cases += 1
            report.lost_answers += 4
            report.problems.append(f"reporter {r.user_id}: no case")
            continue
        if len(found) > 1:
            report.duplicate_cases += len(found) - 1
            report.problems.append(f"reporter {r.user_id}: {len(found)} cases")
        case_pk, public_id, _, category, account, description = found[0]
        by_user[r.user_id] = public_id
        got = {
            "category": category,
            "store id": json.loads(account).get("store_id"),
            "description": description,
            "evidence": evidence.get(case_pk, []),
        }
        wanted = {
            "category": r.category,
            "store id": r.store_id,
            "description": r.description,
            "evidence": list(r.hashes),
        }
        for name, value in wanted.items():
            if got[name] != value:
                report.lost_answers += 1
                report.problems.append(
                    f"{public_id} ({r.user_id}): {name} is {got[name]!r}, sent {value!r}"
                )
        receipts = [o for o in outbox.get(public_id, []) if o[:2] == (channel, r.user_id)]
        if not receipts:
            report.lost_notifications += 1
            report.problems.append(f"{public_id}: no receipt in the outbox")
        elif any(status != "sent" for *_, status in receipts):
            report.lost_notifications += 1
            report.problems.append(f"{public_id}: receipt left undelivered: {receipts}")

    doubled = _read(
        db,
        "select channel, event_id, count(*) from processed_updates "
        "group by channel, event_id having count(*) > 1",
    )
    report.duplicate_processed_updates += len(doubled)
    if doubled:
        report.problems.append(f"event ids recorded twice: {doubled[:5]}")
    recorded = {
        e
        for (e,) in _read(db, "select event_id from processed_updates where channel = ?", channel)
    }
    unrecorded = sorted(forms[0] for forms in set(sent_ids) if not recorded.intersection(forms))
    report.inputs_unrecorded = len(unrecorded)
    if unrecorded:
        report.problems.append(f"inputs never recorded as applied: {unrecorded[:10]}")
    return by_user


def check_receipts(
    report: RunReport, case_ids: dict[int, str], received: dict[int, list[str]]
) -> None:
    """Every case's receipt reached its reporter at least once; count the repeats."""
    for user_id, case_id in case_ids.items():
        times = received.get(user_id, []).count(case_id)
        if times == 0:
            report.lost_notifications += 1
            report.problems.append(f"{case_id}: the receipt never reached chat {user_id}")
        report.duplicated_notifications += max(0, times - 1)


def receipt_case_id(text: str) -> str | None:
    if RECEIPT_MARK not in text:
        return None
    found = CASE_ID.search(text)
    return found.group() if found else None


def count_tracebacks(log: Path) -> tuple[int, list[str]]:
    text = log.read_text(errors="replace") if log.exists() else ""
    heads = [chunk.strip().splitlines()[-1] for chunk in text.split("Traceback (most recent")[1:]]
    return len(heads), heads


def child_env(workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEBOT_")}
    env |= {
        "DISPUTEBOT_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bot.db'}",
        "DISPUTEBOT_EVIDENCE_DIR": str(workdir / "evidence"),
        "DISPUTEBOT_LOG_LEVEL": "WARNING",
    }
    return env | extra


def open_log(path: Path) -> IO[bytes]:
    return path.open("ab")


async def _kill(proc: asyncio.subprocess.Process) -> bool:
    """SIGKILL ``proc`` if it is still running; True if this call killed it."""
    if proc.returncode is not None:
        return False
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGKILL)
    await asyncio.wait_for(proc.wait(), PATIENCE)
    return proc.returncode == -signal.SIGKILL


# -- console -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KillPoint:
    """Kill once the reporter has written ``after_writes`` lines (resends count too).

    ``how``: ``"write"`` kills right after that write, before the line is read; ``"reply"``
    as soon as the process prints a reply (the line's effect is committed) and the driver
    then ignores whatever else the process printed, as if the reply was lost on the way, so the
    line is resent although it took effect; ``"delay"`` kills ``delay`` seconds later, wherever
    the process then is. A point due when a process starts (``after_writes`` 0, or reached
    while another kill was pending) fires ``boot_delay`` seconds after the start: inside the
    imports, the migration check, the opening or its outbox drain.
    """

    after_writes: int
    how: Literal["write", "reply", "delay"]
    delay: float
    boot_delay: float


@dataclass(frozen=True)
class Line:
    obj: dict[str, Any]
    expect: str | None  # the step its reply should show (None: not checked)


@dataclass(frozen=True)
class Planned:
    """A line of the script, made when it is first sent (a button needs the current prompt)."""

    make: Callable[[Message | None], Line]
    needs_prompt: bool = False


@dataclass
class _Progress:
    """How far one console reporter has got, across the processes it went through."""

    script: list[Planned]
    plan: deque[KillPoint]
    lines: list[Line] = field(default_factory=list)  # each written at least once
    proven: int = 0  # lines[:proven] are known to be applied
    writes: int = 0
    prompt: Message | None = None
    timer: asyncio.Task[None] | None = None  # a planned kill on its way
    outstanding: deque[int] = field(default_factory=deque)  # written, not proven, in order
    known_applied: set[int] = field(default_factory=set)  # unproven, but a reply was seen


class _Killed(Exception):
    """The process died (we killed it) before the awaited reply."""


class ConsoleBot:
    """One ``disputebot console --jsonl --user N`` child process.

    After every input line the driver writes a *barrier*: a files line naming a file that
    does not exist. The console answers it with a "file not found" notice and touches nothing
    else (DESIGN §4: bad input changes nothing), and it handles lines strictly in order, so
    the notice closes the replies to the line before it. Its unique name says which line that
    was. Seeing a line's barrier proves the line was applied (or was a repeat of an applied
    id); nothing else does.
    """

    BARRIER = re.compile(r"disputebot-barrier-(\d+)\.png")

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        user_id: int,
        on_message: Callable[[Message], None],
    ) -> None:
        self.proc = proc
        self.user_id = user_id
        self._on_message = on_message
        self._segments: asyncio.Queue[list[Message] | None] = asyncio.Queue()
        self._current: list[Message] = []
        self._barriers = 0
        self._expected_barrier = 0
        self._error: HarnessError | None = None
        self._kill_on_reply = False
        self._blind = False
        self.killed_on_reply = False
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls, workdir: Path, user_id: int, log: IO[bytes], on_message: Callable[[Message], None]
    ) -> ConsoleBot:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "disputebot",
            "console",
            "--jsonl",
            "--user",
            str(user_id),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env=child_env(workdir),
            cwd=workdir,
            limit=1 << 20,
        )
        return cls(proc, user_id, on_message)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by SIGKILL
                self._on_message(msg)
                if msg.get("chat") != self.user_id or self._blind:
                    continue
                barrier = self.BARRIER.search(msg.get("text", ""))
                if barrier is None:
                    if self._kill_on_reply:
                        with contextlib.suppress(ProcessLookupError):
                            self.proc.send_signal(signal.SIGKILL)
                        self._blind = True  # what follows is lost with the process
                        self.killed_on_reply = True
                        continue
                    self._current.append(msg)
                    continue
                if int(barrier.group(1)) != self._expected_barrier:
                    self._error = HarnessError(f"barrier {barrier.group(1)} out of order")
                    return
                self._expected_barrier += 1
                self._segments.put_nowait(self._current)
                self._current = []
        finally:
            self._segments.put_nowait(None)

    async def write(self, obj: dict[str, Any]) -> None:
        """Write one line and its barrier; a dead process just loses them."""
        await self._send(obj, self._barrier())

    async def write_barrier(self) -> None:
        """A barrier alone: it closes what the process prints when it starts."""
        await self._send(self._barrier())

    def _barrier(self) -> dict[str, Any]:
        self._barriers += 1
        return {"files": [f"/nonexistent/disputebot-barrier-{self._barriers - 1}.png"]}

    async def _send(self, *objs: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write("".join(json.dumps(o) + "\n" for o in objs).encode())
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return  # killed: the lines are resent to the next process

    async def segment(self) -> list[Message]:
        """The own-chat messages up to the next barrier; ``_Killed`` if the process died."""
        got = await asyncio.wait_for(self._segments.get(), PATIENCE)
        if self._error is not None:
            raise self._error
        if got is None:
            self._segments.put_nowait(None)
            raise _Killed
        return got

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def kill(self) -> bool:
        return await _kill(self.proc)

    def kill_on_reply(self) -> None:
        """SIGKILL as soon as the process prints a message of its own chat."""
        self._kill_on_reply = True

    @property
    def armed_on_reply(self) -> bool:
        return self._kill_on_reply

    async def close(self) -> int:
        """End the input (Ctrl-D) and wait for a clean exit."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = await asyncio.wait_for(self.proc.wait(), PATIENCE)
        await self.reader
        return code

    async def dispose(self) -> None:
        """Make sure the process is gone and its pipes are closed (idempotent)."""
        await _kill(self.proc)
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.reader, PATIENCE)


class ConsoleDriver:
    """Reporters on ``disputebot console --jsonl`` processes sharing one SQLite file.

    One process per reporter, ``workers`` of them at a time. ``--user`` fixes a console
    process to one chat (as a terminal belongs to one person), so "taking turns on one
    process" would mean restarting it for every reporter anyway; a process per reporter keeps
    each reporter's output stream (and its kills) its own, and running several at once makes
    the kills land while other processes are writing to the same file, which is the case a
    shared SQLite file has to survive. Input ids are unique across all consoles, like
    Telegram's update ids (the store records them per channel).

    A reporter writes up to ``window`` lines ahead without waiting for their replies, as a
    fast typist would, except a button press, which needs the current prompt's button.
    """

    def __init__(
        self,
        workdir: Path,
        reporters: Sequence[ScriptedReporter],
        kills: int,
        rng: random.Random,
        *,
        workers: int = 4,
        window: int = 3,
    ) -> None:
        self.workdir = workdir
        self.reporters = reporters
        self.workers = workers
        self.window = window
        self.report = RunReport("console", 0, len(reporters))
        self.received: dict[int, list[str]] = {}
        self.sent_ids: set[tuple[str, ...]] = set()
        self.log_path = workdir / "console.log"
        self.plans = self._plan(kills, rng)
        self.rngs = {r.user_id: random.Random(rng.random()) for r in reporters}

    def _plan(self, kills: int, rng: random.Random) -> dict[int, list[KillPoint]]:
        plans: dict[int, list[KillPoint]] = {r.user_id: [] for r in self.reporters}
        ways: tuple[Literal["write", "reply", "delay"], ...] = ("write", "reply", "delay")
        for _ in range(kills):
            r = rng.choice(self.reporters)
            point = KillPoint(
                after_writes=rng.randint(0, len(self.lines_for(r))),
                how=rng.choice(ways),
                delay=rng.uniform(0.0, 0.25),
                boot_delay=rng.uniform(0.0, 1.6),
            )
            plans[r.user_id].append(point)
        for points in plans.values():
            points.sort(key=lambda p: p.after_writes)
        return plans

    @staticmethod
    def lines_for(r: ScriptedReporter) -> list[Planned]:
        """The reporter's input lines, in order."""

        def button(suffix: str, expect: str | None) -> Planned:
            def make(prompt: Message | None) -> Line:
                data = [
                    b["data"]
                    for row in (prompt or {}).get("buttons", [])
                    for b in row
                    if b["data"].endswith(suffix)
                ]
                if len(data) != 1:
                    raise HarnessError(f"user {r.user_id}: no {suffix!r} button in {prompt}")
                return Line({"button": data[0]}, expect)

            return Planned(make, needs_prompt=True)

        def fixed(obj: dict[str, Any], expect: str | None) -> Planned:
            return Planned(lambda _prompt: Line(obj, expect))

        files = [str(p) for p in r.files]
        lines = [
            fixed({"text": "/report"}, "category"),
            button(f":o:{r.category}", "account"),
            fixed({"text": r.store_link}, "description"),
            fixed({"text": r.description}, "evidence"),
        ]
        groups = [files] if r.in_one_go else [[f] for f in files]
        lines += [fixed({"files": g}, "evidence") for g in groups]
        lines.append(
            button(":d", "confirm") if r.done_by_button else fixed({"text": "/done"}, "confirm")
        )
        lines.append(button(":s", None))
        return lines

    def _on_message(self, msg: Message) -> None:
        case_id = receipt_case_id(msg.get("text", ""))
        if case_id is not None:
            self.received.setdefault(int(msg["chat"]), []).append(case_id)

    async def run(self) -> RunReport:
        started = time.monotonic()
        gate = asyncio.Semaphore(self.workers)
        with open_log(self.log_path) as log:

            async def one(r: ScriptedReporter) -> None:
                async with gate:
                    await self._reporter(r, log)

            tasks = [asyncio.create_task(one(r)) for r in self.reporters]
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            # A last start after everything: it drains whatever a kill left in the outbox.
            bot = await ConsoleBot.start(self.workdir, 999_999_999, log, self._on_message)
            try:
                self.report.starts += 1
                if await bot.close() != 0:
                    self.report.problems.append("the final console did not exit cleanly")
            finally:
                await bot.dispose()
        self.report.wall_seconds = time.monotonic() - started
        return self.report

    async def _reporter(self, r: ScriptedReporter, log: IO[bytes]) -> None:
        progress = _Progress(self.lines_for(r), deque(self.plans[r.user_id]))
        while True:
            bot = await ConsoleBot.start(self.workdir, r.user_id, log, self._on_message)
            self.report.starts += 1
            try:
                finished = await self._incarnation(r, bot, progress)
            except _Killed:
                finished = False
                if bot.killed_on_reply and progress.outstanding:
                    # The reply printed belonged to the oldest line not proven: it took effect.
                    progress.known_applied.add(progress.outstanding[0])
                code = await asyncio.wait_for(bot.proc.wait(), PATIENCE)
                if code == -signal.SIGKILL:  # only this driver sends SIGKILL
                    self.report.kills += 1
                else:
                    self.report.problems.append(f"user {r.user_id}: console died with {code}")
            finally:
                if progress.timer is not None:
                    progress.timer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await progress.timer
                    progress.timer = None
                await bot.dispose()
            if finished:
                return

    async def _incarnation(
        self, r: ScriptedReporter, bot: ConsoleBot, progress: _Progress
    ) -> bool:
        """Drive one process of ``r`` until the report is in (True) or it is killed."""
        rng = self.rngs[r.user_id]
        plan, lines, script = progress.plan, progress.lines, progress.script

        async def kill_later(delay: float) -> None:
            await asyncio.sleep(delay)
            await bot.kill()

        async def until_dead() -> None:
            await bot.proc.wait()

        async def write(obj: dict[str, Any]) -> None:
            """Write a line; then, if a kill is due, kill now or arm it."""
            await bot.write(obj)
            progress.writes += 1
            self.report.inputs_sent += 1
            if progress.timer is None and plan and plan[0].after_writes <= progress.writes:
                point = plan.popleft()
                if point.how == "write":
                    await bot.kill()
                elif point.how == "reply":
                    bot.kill_on_reply()
                    progress.timer = asyncio.create_task(until_dead())
                else:
                    progress.timer = asyncio.create_task(kill_later(point.delay))

        if plan and plan[0].after_writes <= progress.writes:
            progress.timer = asyncio.create_task(kill_later(plan.popleft().boot_delay))
        await bot.write_barrier()
        for msg in await bot.segment():  # the opening: where the draft stands
            if msg.get("buttons") or msg.get("step"):
                progress.prompt = msg
        outstanding = progress.outstanding = deque()
        for i in range(progress.proven, len(lines)):  # resend every line not proven applied
            if not bot.alive:
                break
            outstanding.append(i)
            self.report.inputs_resent += 1
            await write(lines[i].obj)
        while True:
            nxt = len(lines)
            if (
                bot.alive
                and nxt < len(script)
                and len(outstanding) < self.window
                and not (script[nxt].needs_prompt and outstanding)
            ):
                made = script[nxt].make(progress.prompt)
                line = Line({**made.obj, "id": f"{r.user_id}:{nxt + 1}"}, made.expect)
                lines.append(line)
                # The console may record an id as given or scoped to its chat.
                self.sent_ids.add((line.obj["id"], f"{r.user_id}:{line.obj['id']}"))
                await asyncio.sleep(rng.uniform(0.0, 0.02))  # typing
                outstanding.append(nxt)
                await write(line.obj)
            elif outstanding:
                segment = await bot.segment()  # _Killed once the process is gone
                i = outstanding.popleft()
                progress.proven = i + 1
                if i in progress.known_applied:
                    self._check_repeat(r, lines[i], segment)
                progress.prompt = self._check(r, lines[i], segment) or progress.prompt
            elif not bot.alive:
                raise _Killed
            elif progress.timer is not None and not progress.timer.done():
                # A planned kill still to come: let it land (a kill waiting for a reply that
                # will not come, everything being answered, lands now).
                if bot.armed_on_reply:
                    await bot.kill()
                await progress.timer
            else:
                break
        code = await bot.close()
        if code != 0:
            raise HarnessError(f"user {r.user_id}: console exited with {code}")
        return True

    def _check_repeat(self, r: ScriptedReporter, line: Line, segment: list[Message]) -> None:
        """A line resent after it took effect: its id is known, so no answer, no effect."""
        self.report.repeats_resent += 1
        answered = [m for m in segment if not receipt_case_id(m.get("text", ""))]
        if answered:
            self.report.duplicate_processed_updates += 1
            self.report.problems.append(
                f"user {r.user_id}: {line.obj} applied again after a restart: "
                f"{answered[-1].get('text', '')[:200]!r}"
            )

    @staticmethod
    def _check(r: ScriptedReporter, line: Line, segment: list[Message]) -> Message | None:
        """The latest prompt in a reply; a reply at an unexpected step is a harness error."""
        prompts = [m for m in segment if m.get("buttons") or m.get("step")]
        if not prompts:
            return None  # a repeated id (no reply), or the submit (the receipt has no step)
        if line.expect is not None and prompts[-1].get("step") != line.expect:
            raise HarnessError(
                f"user {r.user_id}: after {line.obj} expected step {line.expect!r}, got "
                f"{prompts[-1].get('step')!r}: {prompts[-1].get('text', '')[:300]!r}"
            )
        return prompts[-1]


# -- telegram ------------------------------------------------------------------------------


class BotProcess:
    """``disputebot run`` (polling) against a ``FakeBotApi``, killed and restarted at will."""

    def __init__(self, server: FakeBotApi, workdir: Path, log: IO[bytes]) -> None:
        self.server = server
        self.workdir = workdir
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.polls_at_start = 0
        self.starts = 0
        self.first_polls: list[int] = []  # index of each process's first getUpdates call

    async def start(self) -> None:
        self.polls_at_start = len(self.server.get_updates_calls)
        self.first_polls.append(self.polls_at_start)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "disputebot",
            "run",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=self.log,
            env=child_env(
                self.workdir,
                DISPUTEBOT_BOT_TOKEN=self.server.token,
                DISPUTEBOT_TELEGRAM_API_URL=self.server.url,
            ),
            cwd=self.workdir,
        )
        self.starts += 1

    @property
    def up(self) -> bool:
        """Running, and polling since it started."""
        return (
            self.proc is not None
            and self.proc.returncode is None
            and len(self.server.get_updates_calls) > self.polls_at_start
        )

    async def until_up(self) -> None:
        await wait_until(lambda: self.up, "the bot to poll", self._exited)

    def _exited(self) -> None:
        if self.proc is not None and self.proc.returncode is not None:
            raise HarnessError(f"the bot exited by itself with {self.proc.returncode}")

    async def kill(self) -> bool:
        return self.proc is not None and await _kill(self.proc)

    async def stop(self) -> int | None:
        """SIGTERM: finish what is in flight, deliver what is due, exit."""
        if self.proc is None or self.proc.returncode is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), PATIENCE)
        except TimeoutError:
            await _kill(self.proc)
            raise


async def wait_until(
    condition: Callable[[], bool], what: str, check: Callable[[], None] | None = None
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not condition():
        if check is not None:
            check()
        if loop.time() > deadline:
            raise HarnessError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def redelivered(server: FakeBotApi, first_polls: Sequence[int]) -> int:
    """How many updates more than one bot process fetched (handed out again after a kill)."""
    fetched_by: dict[int, set[int]] = {}
    calls = server.get_updates_calls
    bounds = [*first_polls[1:], len(calls)]
    for process, (begin, end) in enumerate(zip(first_polls, bounds, strict=True)):
        for call in calls[begin:end]:
            for update_id in call.returned:
                fetched_by.setdefault(update_id, set()).add(process)
    return sum(1 for processes in fetched_by.values() if len(processes) > 1)


def _update_chat(update: dict[str, Any]) -> int | None:
    if "message" in update:
        return int(update["message"]["chat"]["id"])
    if "callback_query" in update:
        return int(update["callback_query"]["message"]["chat"]["id"])
    return None


# How far a reporter has got, as the bot's messages show it.
IDLE = 0
CATEGORY, ACCOUNT, DESCRIPTION, EVIDENCE, DONE, SUBMIT, FILED = range(1, 8)
_COUNT = re.compile(r"(\d+) files? added so far")


def _data(msg: Message, suffix: str) -> str | None:
    found = [
        b["callback_data"]
        for row in msg.get("buttons") or []
        for b in row
        if str(b.get("callback_data", "")).endswith(suffix)
    ]
    return found[0] if len(found) == 1 else None


def classify(msg: Message, r: ScriptedReporter) -> int | None:
    """The level a bot message shows the reporter at (None: not a question)."""
    text = msg.get("text", "")
    if receipt_case_id(text):
        return FILED
    if _data(msg, ":s"):
        return SUBMIT
    if _data(msg, ":d"):
        count = _COUNT.search(text)
        return DONE if count and int(count.group(1)) >= len(r.files) else EVIDENCE
    if "send your evidence" in text:
        return EVIDENCE
    if "describe what happened" in text:
        return DESCRIPTION
    if "Which seller are you reporting?" in text:
        return ACCOUNT
    if _data(msg, f":o:{r.category}"):
        return CATEGORY
    if "You haven't filed any reports yet" in text:  # /status with no draft and no case
        return IDLE
    return None


class TelegramDriver:
    """Test users on the fake Bot API, the bot SIGKILLed ``kills`` times while they report.

    The kills are spread over the run: each is due once the users have sent a random number
    of updates (a sample of the updates the run needs at least), then lands a random fraction
    of a second later, wherever the bot then is: fetching, downloading, committing, replying
    or delivering the outbox. The bot is restarted at once.

    A user acts on what the bot shows, once per step, never twice. A reply the bot had not
    sent before a kill is gone (only notifications go through the outbox), so a user who
    hears nothing while the bot is up and has read all their updates sends ``/status``, which
    shows the current question again, as a person would.
    """

    def __init__(
        self,
        workdir: Path,
        reporters: Sequence[ScriptedReporter],
        kills: int,
        rng: random.Random,
        *,
        users_at_once: int = 20,
    ) -> None:
        self.workdir = workdir
        self.reporters = reporters
        self.kills = kills
        self.users_at_once = users_at_once
        self.report = RunReport("telegram", 0, len(reporters))
        least = sum(6 + (1 if r.in_one_go else len(r.files)) for r in reporters)
        self.kill_at = sorted(rng.randint(1, max(1, int(least * 0.9))) for _ in range(kills))
        self.kill_delays = [rng.uniform(0.0, 0.6) for _ in range(kills)]
        self.rngs = {r.user_id: random.Random(rng.random()) for r in reporters}
        self.sent_ids: set[tuple[str, ...]] = set()
        self.received: dict[int, list[str]] = {}
        self.log_path = workdir / "bot.log"

    async def run(self) -> RunReport:
        started = time.monotonic()
        async with FakeBotApi() as server:
            with open_log(self.log_path) as log:
                bot = BotProcess(server, self.workdir, log)
                try:
                    await self._run(server, bot)
                finally:
                    with contextlib.suppress(Exception):
                        await bot.stop()
                    if bot.proc is not None:
                        await _kill(bot.proc)
                self.report.starts = bot.starts
            users = {r.user_id: server.user(r.user_id, language_code="en") for r in self.reporters}
            self.report.inputs_resent = redelivered(server, bot.first_polls)
            self.received = {
                uid: [c for m in u.inbox if (c := receipt_case_id(m.get("text", "")))]
                for uid, u in users.items()
            }
        self.report.wall_seconds = time.monotonic() - started
        return self.report

    async def _run(self, server: FakeBotApi, bot: BotProcess) -> None:
        await bot.start()
        await bot.until_up()
        gate = asyncio.Semaphore(self.users_at_once)
        finished = asyncio.Event()

        async def one(r: ScriptedReporter) -> None:
            async with gate:
                await self._user(server, bot, r)

        killer = asyncio.create_task(self._killer(bot, finished))
        tasks = [asyncio.create_task(one(r)) for r in self.reporters]
        try:
            await asyncio.gather(*tasks)
            finished.set()
            await killer
            await wait_until(lambda: not server.updates_pending(), "every update confirmed")
            await wait_until(
                lambda: (
                    not _read(
                        self.workdir / "bot.db", "select 1 from outbox where status = 'pending'"
                    )
                ),
                "the outbox to drain",
            )
            if await bot.stop() != 0:
                self.report.problems.append("the bot did not exit cleanly on SIGTERM")
        finally:
            for task in [*tasks, killer]:
                task.cancel()
            await asyncio.gather(*tasks, killer, return_exceptions=True)

    async def _killer(self, bot: BotProcess, finished: asyncio.Event) -> None:
        for due, delay in zip(self.kill_at, self.kill_delays, strict=True):
            await wait_until(
                lambda due=due: self.report.inputs_sent >= due or finished.is_set(),
                "enough updates for the next kill",
            )
            await bot.until_up()
            await asyncio.sleep(delay)
            if await bot.kill():
                self.report.kills += 1
            await bot.start()

    async def _user(self, server: FakeBotApi, bot: BotProcess, r: ScriptedReporter) -> None:
        user = server.user(r.user_id, language_code="en")
        rng = self.rngs[r.user_id]

        def sent(update: dict[str, Any]) -> None:
            self.sent_ids.add((str(update["update_id"]),))
            self.report.inputs_sent += 1

        async def act(level: int, msg: Message) -> None:
            await asyncio.sleep(rng.uniform(0.0, 0.05))  # reading, typing
            if level == IDLE:
                sent(await user.send_text("/report"))
            elif level == CATEGORY:
                sent(await user.press(msg, data=_data(msg, f":o:{r.category}")))
            elif level == ACCOUNT:
                sent(await user.send_text(r.store_link))
            elif level == DESCRIPTION:
                sent(await user.send_text(r.description))
            elif level == EVIDENCE:
                images = [p.read_bytes() for p in r.files]
                if r.in_one_go:
                    for update in await user.send_album(images):
                        sent(update)
                else:
                    for data in images:
                        sent(await user.send_photo(data))
            elif level == DONE:
                sent(await user.press(msg, data=_data(msg, ":d")))
            elif level == SUBMIT:
                sent(await user.press(msg, data=_data(msg, ":s")))

        sent(await user.send_text("/report"))
        reached = 0
        asked = False  # /status sent, its answer not seen yet
        silence = 3.0
        loop = asyncio.get_running_loop()
        progress_at = loop.time()
        while True:
            try:
                msg = await user.wait_for(None, timeout=silence)
            except TimeoutError:
                if loop.time() - progress_at > PATIENCE:
                    self.report.problems.append(
                        f"user {r.user_id} gave up at level {reached}: "
                        f"{[m['text'][:60] for m in user.inbox[-3:]]}"
                    )
                    return
                mine = [u for u in server.updates.pending if _update_chat(u) == r.user_id]
                if bot.up and not mine:
                    # Every update of ours is handled, and no answer came: it was lost with a
                    # killed bot (replies are sent after the commit, and are not in the outbox).
                    self.report.status_asks += 1
                    sent(await user.send_text("/status"))
                    asked, silence = True, min(silence * 2, 12.0)
                continue
            level = classify(msg, r)
            if level is None:
                continue
            if level <= reached:  # FILED never is: nothing is above it
                if not asked:
                    continue  # an old question again (a repeated reply): already answered
                # The bot, having handled every update of ours, asks a question we answered:
                # the answer is lost. Count it, and answer again so the run goes on.
                self.report.lost_answers += 1
                self.report.problems.append(f"user {r.user_id}: asked again for level {level}")
            reached, asked, silence, progress_at = level, False, 3.0, loop.time()
            if level == FILED:
                return
            try:
                await act(level, msg)
            except LookupError:  # that keyboard is gone: ask for the question again
                reached = level - 1
                sent(await user.send_text("/status"))


# -- one run -------------------------------------------------------------------------------


async def run_crash(
    driver: str,
    reports: int,
    kills: int,
    seed: int,
    workdir: Path,
    *,
    workers: int = 4,
    users_at_once: int = 20,
) -> RunReport:
    """File ``reports`` reports on ``driver`` while killing the bot ``kills`` times; check."""
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    if driver == "console":
        reporters = make_reporters(reports, rng, workdir / "files", first_user=1000)
        console = ConsoleDriver(workdir, reporters, kills, rng, workers=workers)
        report = await console.run()
        sent_ids: set[tuple[str, ...]] = console.sent_ids
        received = console.received
        log = console.log_path
    elif driver == "telegram":
        reporters = make_reporters(reports, rng, workdir / "files", first_user=5000)
        telegram = TelegramDriver(workdir, reporters, kills, rng, users_at_once=users_at_once)
        report = await telegram.run()
        sent_ids = telegram.sent_ids
        received = telegram.received
        log = telegram.log_path
    else:
        raise ValueError(f"unknown driver {driver!r}")
    report.seed = seed
    case_ids = check_store(report, workdir / "bot.db", reporters, driver, sent_ids)
    check_receipts(report, case_ids, received)
    report.errors_logged, heads = count_tracebacks(log)
    report.problems += [f"traceback in the bot's log: {h}" for h in heads[:5]]
    if report.kills < kills:
        report.problems.append(f"only {report.kills} of {kills} kills landed")
    return report
