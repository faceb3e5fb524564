"""``disputebot``: run the bot, chat with it in a terminal, migrate, inspect cases."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from disputebot.cases.ids import normalize_case_id
from disputebot.cases.records import CaseRecord, Statement
from disputebot.config import PROJECT_ROOT, Settings
from disputebot.errors import ConfigError
from disputebot.logs import setup_logging
from disputebot.ports import OutboxItem, OutboxStatus

if TYPE_CHECKING:
    from disputebot.bootstrap import App
    from disputebot.store.sender_lock import PgSenderLock


def _run(coro: Coroutine[Any, Any, int | None]) -> None:
    try:
        code = asyncio.run(coro)
    except ConfigError as exc:
        click.echo(f"disputebot: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        # Through logging, whose filter scrubs secrets, never a bare traceback on stderr.
        logging.getLogger("disputebot").critical("stopped: %s", exc, exc_info=exc)
        code = 1
    sys.exit(code or 0)


def _settings(*, chat_on_terminal: bool = False) -> Settings:
    try:
        settings = Settings()
    except ValueError as exc:
        raise click.ClickException(f"settings: {exc}") from exc
    level = settings.log_level
    if chat_on_terminal and "log_level" not in settings.model_fields_set:
        # Log lines would interleave with the chat; show only problems unless asked.
        level = "WARNING"
    setup_logging(level, settings.secrets(), settings.log_format)
    return settings


@click.group()
def main() -> None:
    """disputebot: report malicious marketplace disputes from a chat app."""


@main.command()
def run() -> None:
    """Run the bot; with no bot token, the same bot opens as a console chat."""
    settings = _settings(chat_on_terminal=True)
    if settings.bot_token is None:
        click.echo(
            "No DISPUTEBOT_BOT_TOKEN set: opening the bot as a console chat "
            "(type /help; end with Ctrl-D).",
            err=True,
        )
        _run(_console(settings, user_id=1, jsonl=False))
        return
    _run(_telegram(settings))


async def _telegram(settings: Settings) -> int:
    import signal  # noqa: PLC0415

    from disputebot.bootstrap import build, telegram_runtime  # noqa: PLC0415

    app = await build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    lock, webhook_lock = _sender_lock(settings), _sender_lock(settings, "webhook")
    try:
        await telegram_runtime(app).run(stop, sender_lock=lock, webhook_lock=webhook_lock)
    finally:
        await _close_locks(lock, webhook_lock)
        await app.close()
    return 0


def _sender_lock(settings: Settings, channel: str = "telegram") -> PgSenderLock | None:
    """On PostgreSQL, one sender at a time across processes; SQLite has one process. The
    ``webhook`` channel's only when the platform webhook is configured."""
    if not settings.database_url.startswith("postgresql"):
        return None
    if channel == "webhook" and not settings.platform_webhooks:
        return None
    from disputebot.store.sender_lock import PgSenderLock  # noqa: PLC0415

    return PgSenderLock(settings.database_url, channel)


async def _webhooks(app: App, stop: asyncio.Event, lock: PgSenderLock | None) -> None:
    """Deliver the platform webhook events until ``stop`` (at once done when not configured)."""
    from disputebot.delivery.webhooks import run_webhooks  # noqa: PLC0415

    await run_webhooks(
        app.settings, app.uow_factory, app.clock, stop, metrics=app.metrics, sender_lock=lock
    )


async def _close_locks(*locks: PgSenderLock | None) -> None:
    for lock in locks:
        if lock is not None:
            await lock.close()


@main.command()
def worker() -> None:
    """Deliver the outbox to Telegram as a process of its own (stops on SIGTERM or SIGINT),
    and the platform webhook events when DISPUTEBOT_PLATFORM_WEBHOOK_URL is set.

    Run it beside `disputebot run` with DISPUTEBOT_DELIVERY_IN_PROCESS=false there, or as
    several processes on PostgreSQL, where one sends at a time and the others stand by.
    Without a bot token it delivers the webhook events only.
    """
    settings = _settings()
    telegram = settings.bot_token is not None and bool(settings.bot_token.get_secret_value())
    if not telegram and not settings.platform_webhooks:
        raise click.ClickException(
            "the worker needs DISPUTEBOT_BOT_TOKEN (or DISPUTEBOT_PLATFORM_WEBHOOK_URL)"
        )
    _run(_worker(settings, telegram=telegram))


async def _worker(settings: Settings, *, telegram: bool = True) -> int:
    import signal  # noqa: PLC0415

    from disputebot.bootstrap import build, telegram_runtime  # noqa: PLC0415

    app = await build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    lock = _sender_lock(settings) if telegram else None
    webhook_lock = _sender_lock(settings, "webhook")
    reminders = asyncio.create_task(_reminders(app, stop))
    try:
        if telegram:
            await telegram_runtime(app).run_worker(
                stop, sender_lock=lock, webhook_lock=webhook_lock
            )
        else:
            await _webhooks(app, stop, webhook_lock)
    finally:
        stop.set()
        await reminders
        await _close_locks(lock, webhook_lock)
        await app.close()
    return 0


async def _reminders(app: App, stop: asyncio.Event) -> None:
    from disputebot.service.reminders import run_reminders  # noqa: PLC0415

    await run_reminders(
        app.uow_factory,
        app.clock,
        stop,
        interval=app.settings.review_reminder_after,
        default_locale=app.settings.default_locale,
    )


@main.command()
@click.option(
    "--user", "user_id", type=int, default=1, show_default=True, help="Act as this user."
)
@click.option("--jsonl", is_flag=True, help="Machine mode: one JSON object per line in and out.")
def console(user_id: int, jsonl: bool) -> None:
    """Chat with the bot in this terminal (or through a pipe)."""
    _run(_console(_settings(chat_on_terminal=True), user_id=user_id, jsonl=jsonl))


async def _console(settings: Settings, *, user_id: int, jsonl: bool) -> int:
    from disputebot.bootstrap import build  # noqa: PLC0415  (keeps `--help` fast)
    from disputebot.channels.console.channel import ConsoleChannel  # noqa: PLC0415

    app = await build(settings)
    # The console prints its own chats' messages as it goes; the platform webhook events
    # (when configured) go out from a worker in the background, polling every second.
    stop_webhooks = asyncio.Event()
    webhook_lock = _sender_lock(settings, "webhook")
    webhooks = asyncio.create_task(_webhooks(app, stop_webhooks, webhook_lock))
    reminders = asyncio.create_task(_reminders(app, stop_webhooks))
    try:
        channel = ConsoleChannel(
            app.service,
            app.vault,
            app.content.catalogs,
            app.uow_factory,
            app.clock,
            user_id=user_id,
            jsonl=jsonl,
            stdin=sys.stdin,
            stdout=sys.stdout,
        )
        await channel.run()
    finally:
        stop_webhooks.set()
        await webhooks
        await reminders
        await _close_locks(webhook_lock)
        await app.close()
    return 0


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database to the newest schema (creates an SQLite file if needed)."""
    from disputebot.store import migrate  # noqa: PLC0415

    settings = _settings()

    async def go() -> int:
        await migrate.upgrade(settings.database_url, revision)
        click.echo(f"database at {await migrate.current(settings.database_url)}", err=True)
        return 0

    _run(go())


@db.command("current")
def db_current() -> None:
    """Print the schema revision the database is at."""
    from disputebot.store import migrate  # noqa: PLC0415

    settings = _settings()

    async def go() -> int:
        click.echo(await migrate.current(settings.database_url) or "empty")
        return 0

    _run(go())


@main.command()
def check() -> None:
    """Validate settings, conversation files, the platform profile and the catalogs."""
    from disputebot.bootstrap import load_content  # noqa: PLC0415
    from disputebot.i18n.catalog import check_catalogs  # noqa: PLC0415

    settings = _settings()
    try:
        content = load_content(settings)
    except ConfigError as exc:
        click.echo(f"FAIL {exc}", err=True)
        sys.exit(1)
    problems = check_catalogs(content.catalogs, content.book, PROJECT_ROOT)
    for problem in problems:
        click.echo(f"FAIL {problem}", err=True)
    flows = sorted({f"{name} v{version}" for name, version in content.book.flows})
    click.echo(f"conversations: {', '.join(flows)}")
    click.echo(f"locales: {', '.join(content.catalogs.locales)}")
    click.echo(f"objectivity word lists: {len(content.policies.lexicons)}")
    sys.exit(1 if problems else 0)


@main.group()
def cases() -> None:
    """Inspect filed cases."""


@cases.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of case objects.")
@click.option("--limit", default=100, show_default=True)
def cases_list(as_json: bool, limit: int) -> None:
    """Newest cases first."""
    settings = _settings()

    async def go() -> int:
        async with _store(settings) as uow_factory, uow_factory() as uow:
            found = await uow.cases.list(limit=limit)
        if as_json:
            click.echo(json.dumps([case_json(c) for c in found], ensure_ascii=False, indent=2))
        else:
            for c in found:
                click.echo(
                    f"{c.public_id}  {c.status:<13} {c.created_at:%Y-%m-%d %H:%M}  "
                    f"{c.category:<16} {c.account_key}  ({len(c.evidence)} evidence)"
                )
        return 0

    _run(go())


@cases.command("show")
@click.argument("case_id")
@click.option("--json", "as_json", is_flag=True)
def cases_show(case_id: str, as_json: bool) -> None:
    """One case with its evidence, audit trail and statements of reasons."""
    settings = _settings()
    public_id = normalize_case_id(case_id)
    if public_id is None:
        raise click.BadParameter(f"{case_id!r} is not a case id (like DR-7K3M9Q2A)")

    async def go() -> int:
        async with _store(settings) as uow_factory, uow_factory() as uow:
            case = await uow.cases.get(public_id)
            statements = await uow.cases.statements(public_id)
        if case is None:
            click.echo(f"no case {public_id}", err=True)
            return 1
        data = case_json(case, statements)
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False))
        return 0

    _run(go())


def case_json(case: CaseRecord, statements: list[Statement] | None = None) -> dict[str, Any]:
    """The case object of ``cases list|show --json``; ``show`` adds the statements of reasons
    (``statements``), oldest first."""
    data: dict[str, Any] = {
        "id": case.public_id,
        "status": str(case.status),
        "reporter": case.reporter_id,
        "category": case.category,
        "account_key": case.account_key,
        "account": dict(case.account),
        "description": case.description,
        "answers": {
            "category": case.category,
            "account": dict(case.account),
            "description": case.description,
        },
        "flow": case.flow,
        "flow_version": case.flow_version,
        "attestation": case.attestation,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "assignee": case.assignee,
        "decision": dict(case.decision),
        "first_response_at": _iso(case.first_response_at),
        "decided_at": _iso(case.decided_at),
        "merged_into": case.merged_into,
        "evidence": [
            {
                "sha256": f.sha256,
                "size": f.size,
                "mime": f.mime,
                "name": f.name,
                "stored_path": f.stored_path,
                "source": str(case.source_of(position)),
                "shareable": position in case.shareable,
            }
            for position, f in enumerate(case.evidence)
        ],
        "events": [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "kind": e.kind,
                "from": str(e.from_status) if e.from_status else None,
                "to": str(e.to_status) if e.to_status else None,
                "note": e.note,
            }
            for e in case.events
        ],
    }
    if statements is not None:
        data["statements"] = [
            {
                "audience": str(s.audience),
                "kind": s.kind,
                "body": dict(s.body),
                "locale": s.locale,
                "recipient": s.recipient,
                "created_at": s.created_at.isoformat(),
            }
            for s in statements
        ]
    return data


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class _store:
    """The store without the rest of the bot, for read-only commands."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def __aenter__(self) -> Any:
        from disputebot.store import migrate  # noqa: PLC0415
        from disputebot.store.database import create_engine, make_session_factory  # noqa: PLC0415
        from disputebot.store.uow import SqlUnitOfWorkFactory  # noqa: PLC0415

        if not await migrate.is_up_to_date(self._settings.database_url):
            raise ConfigError("the database is empty or behind: run `disputebot db upgrade`")

        self._engine = create_engine(self._settings.database_url)
        return SqlUnitOfWorkFactory(make_session_factory(self._engine))

    async def __aexit__(self, *exc: object) -> None:
        await self._engine.dispose()


_UNITS = {"d": 86400, "h": 3600, "w": 7 * 86400}
# Update ids are kept for deduplication; Telegram gives up on an update after 24 hours.
UPDATE_IDS_KEPT = timedelta(days=7)


def _age(text: str) -> timedelta:
    number, unit = text[:-1], text[-1:].lower()
    if unit not in _UNITS or not number.isdigit() or int(number) <= 0:
        raise click.BadParameter(f"{text!r}: use a whole number with d, h or w, like 180d")
    return timedelta(seconds=int(number) * _UNITS[unit])


@main.command()
@click.option("--older-than", "older_than", required=True, help="e.g. 180d, 26w, 72h")
@click.option("--dry-run", is_flag=True, help="Show what would go; delete nothing.")
def purge(older_than: str, dry_run: bool) -> None:
    """Delete finished cases (with their evidence files) last changed before the cut-off."""
    settings = _settings()
    cutoff = datetime.now(UTC) - _age(older_than)

    async def go() -> int:
        async with _store(settings) as uow_factory, uow_factory() as uow:
            purged, unused = await uow.cases.purge_finished(cutoff)
            pruned = await uow.updates.prune(datetime.now(UTC) - UPDATE_IDS_KEPT)
            if not dry_run:
                await uow.commit()
        removed = 0 if dry_run else _remove_files(unused, settings.evidence_dir)
        verb = "would purge" if dry_run else "purged"
        click.echo(
            f"{verb} {len(purged)} case(s) finished before {cutoff:%Y-%m-%d %H:%M} UTC; "
            f"{removed if not dry_run else len(unused)} evidence file(s)"
        )
        for public_id in purged:
            click.echo(f"  {public_id}")
        click.echo(f"{'would forget' if dry_run else 'forgot'} {pruned} old update id(s)")
        return 0

    _run(go())


def _remove_files(paths: set[str], root: Path) -> int:
    """Delete files no case refers to any more, but never anything outside the vault."""
    vault = root.resolve()
    removed = 0
    for name in paths:
        path = Path(name).resolve()
        if vault in path.parents and path.is_file():
            path.unlink()
            removed += 1
    return removed


@main.group()
def outbox() -> None:
    """Inspect the outbox: messages waiting, sent and dead-lettered."""


@outbox.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in OutboxStatus]),
    help="Only messages in this state (dead: dead letters).",
)
@click.option("--channel", help="Only this channel's messages (telegram, console, …).")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON array of message objects.")
def outbox_list(status: str | None, channel: str | None, limit: int, as_json: bool) -> None:
    """Newest messages first."""
    settings = _settings()
    wanted = OutboxStatus(status) if status else None

    async def go() -> int:
        async with _store(settings) as uow_factory, uow_factory() as uow:
            found = await uow.outbox.list(wanted, limit, channel=channel, newest_first=True)
        if as_json:
            click.echo(json.dumps([outbox_json(i) for i in found], ensure_ascii=False, indent=2))
            return 0
        for item in found:
            error = f"  {item.last_error}" if item.last_error else ""
            click.echo(
                f"{item.id:>8}  {item.status:<7} {item.chat.user_ref:<24} "
                f"{item.created_at:%Y-%m-%d %H:%M:%S}  attempts={item.attempts}"
                f"{'  ' + item.case_id if item.case_id else ''}{error}"
            )
        return 0

    _run(go())


def outbox_json(item: OutboxItem) -> dict[str, Any]:
    """The message object of ``outbox list --json``."""
    return {
        "id": item.id,
        "status": str(item.status),
        "channel": item.chat.channel,
        "chat_id": item.chat.chat_id,
        "case_id": item.case_id,
        "locale": item.locale,
        "attempts": item.attempts,
        "created_at": item.created_at.isoformat(),
        "due_at": item.due_at.isoformat(),
        "sent_at": item.sent_at.isoformat() if item.sent_at else None,
        "claimed_by": item.claimed_by,
        "lease_until": item.lease_until.isoformat() if item.lease_until else None,
        "last_error": item.last_error,
        "payload": json.loads(item.payload),
    }


@main.group()
def i18n() -> None:
    """Message catalogs."""


@i18n.command("update")
def i18n_update() -> None:
    """Extract message ids and merge them into locales/*/LC_MESSAGES/disputebot.po."""
    from disputebot.i18n.tools import update_catalogs  # noqa: PLC0415

    update_catalogs(PROJECT_ROOT)
    click.echo(f"catalogs updated under {Path(PROJECT_ROOT, 'locales')}")


if __name__ == "__main__":
    main()
