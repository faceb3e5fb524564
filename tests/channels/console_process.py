"""The real ``disputebot console`` in a child process, driven through its pipes."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# A safety bound so a broken build fails instead of hanging; not a performance assertion.
PATIENCE = 60.0


def bot_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEBOT_")}
    env |= {
        "DISPUTEBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bot.db'}",
        "DISPUTEBOT_EVIDENCE_DIR": str(tmp / "evidence"),
        "DISPUTEBOT_LOG_LEVEL": "WARNING",
    }
    return env | extra


def cli(
    tmp: Path, *args: str, stdin: str = "", env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``env``: extra settings, like ``{"DISPUTEBOT_ADMIN_IDS": "7"}``."""
    return subprocess.run(
        [sys.executable, "-m", "disputebot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=bot_env(tmp, **(env or {})),
        cwd=tmp,
        timeout=PATIENCE,
        check=False,
    )


class ConsoleProcess:
    def __init__(
        self,
        tmp: Path,
        *args: str,
        jsonl: bool = True,
        user: int = 1,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``env``: extra settings, like ``{"DISPUTEBOT_ADMIN_IDS": "7"}``."""
        cmd = [sys.executable, "-m", "disputebot", "console", "--user", str(user), *args]
        if jsonl:
            cmd.append("--jsonl")
        self.jsonl = jsonl
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=bot_env(tmp, **(env or {})),
            cwd=tmp,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[Any] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, **obj: Any) -> None:
        self.write(json.dumps(obj) if self.jsonl else str(obj["text"]))

    def write(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read_until(self, predicate: Callable[[Any], bool]) -> Any:
        while True:
            line = self.lines.get(timeout=PATIENCE)
            if line is None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"console ended before the expected line; stderr:\n{err}")
            item = json.loads(line) if self.jsonl else line
            self.seen.append(item)
            if predicate(item):
                return item

    def at_step(self, step: str) -> dict[str, Any]:
        return self.read_until(lambda m: m.get("step") == step)  # type: ignore[no-any-return]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self._finish()

    def close(self) -> int:
        """End the input, as a user pressing Ctrl-D would, and return the exit code."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self._finish()

    def _finish(self) -> int:
        code = self.proc.wait(timeout=PATIENCE)
        self._pump_thread.join(timeout=PATIENCE)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream and not stream.closed:
                stream.close()
        return code


def button(message: dict[str, Any], label_part: str) -> str:
    for row in message["buttons"]:
        for b in row:
            if label_part.lower() in b["label"].lower():
                return str(b["data"])
    raise AssertionError(f"no button like {label_part!r} in {message['buttons']}")
