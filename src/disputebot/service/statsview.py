"""``/stats``: the figures as a message and the 30-day chart as an image sent with it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from disputebot.cases import stats
from disputebot.cases.stats import AgeBucket, StatsReport
from disputebot.engine.effects import N_, Media, Msg, Say
from disputebot.i18n.catalog import Catalogs
from disputebot.ports import Clock, UnitOfWork
from disputebot.service.replies import STATUS_LABELS

CHART_FALLBACK_LOCALE = "en"
_AGE_LABELS = {
    AgeBucket.UNDER_1D: N_("stats.age.lt_1d"),
    AgeBucket.D1_TO_3: N_("stats.age.1d_3d"),
    AgeBucket.D3_TO_7: N_("stats.age.3d_7d"),
    AgeBucket.OVER_7D: N_("stats.age.gt_7d"),
}


def duration(value: timedelta | None) -> Msg:
    if value is None:
        return Msg("stats.duration.none")
    hours = value.total_seconds() / 3600
    if hours < 48:
        shown = format(hours, ".1f")
        return Msg("stats.duration.hours", {"hours": shown})
    shown = format(hours / 24, ".1f")
    return Msg("stats.duration.days", {"days": shown})


def stats_text(report: StatsReport) -> tuple[Msg, ...]:
    text = [
        Msg(
            "stats.intake",
            {"d1": report.intake_24h, "d7": report.intake_7d, "d30": report.intake_30d},
        ),
        Msg("stats.backlog", {"count": report.open_total}),
    ]
    text += [
        Msg("stats.backlog.status", {"status": Msg(STATUS_LABELS[s]), "count": n})
        for s, n in report.by_status.items()
    ]
    text += [
        Msg("stats.backlog.age", {"age": Msg(_AGE_LABELS[a]), "count": n})
        for a, n in report.by_age.items()
    ]
    text.append(
        Msg(
            "stats.times",
            {
                "first": duration(report.median_first_response),
                "first_n": report.first_response_samples,
                "decision": duration(report.median_decision),
                "decision_n": report.decision_samples,
            },
        )
    )
    if report.load:
        text.append(Msg("stats.load"))
        text += [
            Msg("stats.load.line", {"who": who or "-", "count": n})
            if who
            else Msg("stats.load.unassigned", {"count": n})
            for who, n in report.load
        ]
    return tuple(text)


class StatsView:
    def __init__(self, clock: Clock, catalogs: Catalogs, *, font: Path | None = None) -> None:
        self._clock = clock
        self._catalogs = catalogs
        self._font = font

    async def say(self, uow: UnitOfWork, locale: str) -> Say:
        now = self._clock.now()
        times = await uow.cases.times_since(stats.since(now))
        report = stats.compute(times, now)
        from disputebot.service.chart import render_chart  # noqa: PLC0415  (loads Pillow)

        # Without a font of the reader's script, English labels beat boxes.
        shown = locale if self._font is not None else CHART_FALLBACK_LOCALE

        def label(key: str) -> str:
            return self._catalogs.render(Msg(key), shown)

        png = render_chart(
            report,
            title=label("stats.chart.title"),
            intake_label=label("stats.chart.intake"),
            backlog_label=label("stats.chart.backlog"),
            font_path=None if self._font is None else str(self._font),
        )
        return Say(stats_text(report), media=(Media("photo", "stats.png", data=png),))
