"""`spbot report` and `spbot export-events`: read the milestones, work out the
figures, write the file, and say in one line what was written.

    spbot report [--from DATE] [--to DATE] [--format html|csv] [--output PATH] [--now]
    spbot report --keep
    spbot export-events [--from DATE] [--to DATE] --format csv [--output PATH]

Dates are YYYY-MM-DD in the team's time zone; --to is the day after the last
day (see bot/report/periods.py). `--output -` writes to standard output. A
mistake is one sentence on stderr and exit code 2. The report without dates uses
the figures the bot worked out last night, if there are any (bot/report/reading.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tqdm import tqdm

from bot.config import SettingsError, load_settings
from bot.report.events import GPEvent, gp_events
from bot.report.events import to_csv as events_csv
from bot.report.periods import Period, ReportError, choose_period
from bot.report.published import Report, publish
from bot.report.reading import Kept, keep, kept, read_figures
from bot.report.render import long_date, period_span, to_csv, to_html
from bot.store import Database
from bot.store.base import utcnow
from bot.store.milestones import between


async def make_report(
    db: Database,
    period: Period,
    *,
    zone: ZoneInfo,
    organisation: str,
    as_of: datetime,
    progress: tqdm | None = None,
) -> Report:
    """The report on `period` (and the one before it), as of `as_of`."""
    current, earlier = await read_figures(db, period, zone=zone, as_of=as_of, progress=progress)
    return published(Kept(as_of, current, earlier), period, organisation)


def published(figures: Kept, period: Period, organisation: str) -> Report:
    """The report on `period` from its figures and the period before's."""
    return publish(
        figures.current,
        figures.earlier,
        period=period,
        previous_period=period.previous(),
        as_of=figures.as_of,
        organisation=organisation,
    )


def run_report(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        zone = settings.zone
        if args.keep:
            return _keep(args, settings.database_url, zone)
        period = choose_period(args.start, args.end, today=datetime.now(zone).date())
        output = _output(args.output, f"outcomes-report-{_span(period)}.{args.format}")
        with tqdm(
            total=4, desc="Counting the period", disable=None, leave=False, file=sys.stderr
        ) as progress:

            async def build() -> tuple[Report, Kept | None]:
                db = Database(settings.database_url)
                try:
                    await db.upgrade()
                    ahead = None if args.now else await kept(db, period, zone, utcnow())
                    if ahead is not None:
                        progress.update(2)  # counted overnight
                        return published(ahead, period, settings.organisation_name), ahead
                    report = await make_report(
                        db,
                        period,
                        zone=zone,
                        as_of=utcnow(),
                        organisation=settings.organisation_name,
                        progress=progress,
                    )
                    return report, None
                finally:
                    await db.close()

            report, ahead = asyncio.run(build())
            _step(progress, "Drawing the charts" if args.format == "html" else "Writing")
            text = to_html(report, zone) if args.format == "html" else to_csv(report)
            _write(output, text)
            _step(progress, "Done")
    except (ReportError, SettingsError) as exc:
        print(f"spbot: {exc}", file=sys.stderr)
        return 2
    summary = _summary(report, output)
    if ahead is not None:
        summary += (
            f" The figures are as at {_moment(ahead.as_of, zone)}, worked out ahead: "
            "`spbot report --now` works them out afresh."
        )
    print(summary, file=sys.stderr if output is None else sys.stdout)
    return 0


def _keep(args: argparse.Namespace, database_url: str, zone: ZoneInfo) -> int:
    """`spbot report --keep`: the default report's figures worked out and kept."""
    if args.start or args.end or args.now:
        raise ReportError(
            "--keep works out the figures of the report without dates (the last full "
            "quarter): leave out --from, --to and --now"
        )

    async def work_out() -> Period:
        db = Database(database_url)
        try:
            await db.upgrade()
            return await keep(db, zone, now, progress=progress)
        finally:
            await db.close()

    now = utcnow()
    with tqdm(  # shown only where someone is watching (not under the bot)
        total=2, desc="Counting the period", disable=None, leave=False, file=sys.stderr
    ) as progress:
        period = asyncio.run(work_out())
    print(
        f"Kept the figures of the outcomes report for {period_span(period)} (and the period "
        f"before), as at {_moment(now, zone)}: `spbot report` uses them (`--now`: afresh)."
    )
    return 0


def _moment(at: datetime, zone: ZoneInfo) -> str:
    """14:05 on 3 December 2026, where the team is."""
    local = at.astimezone(zone)
    return f"{local:%H:%M} on {long_date(local.date())}"


def run_export_events(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        zone = settings.zone
        period = choose_period(args.start, args.end, today=datetime.now(zone).date())
        output = _output(args.output, f"gp-events-{_span(period)}.csv")

        async def read() -> list[GPEvent]:
            db = Database(settings.database_url)
            try:
                await db.upgrade()
                start, end = period.bounds(zone)
                async with db.reading() as session:
                    return gp_events(await between(session, start, end), zone)
            finally:
                await db.close()

        events = asyncio.run(read())
        _write(output, events_csv(events), private=True)
    except (ReportError, SettingsError) as exc:
        print(f"spbot: {exc}", file=sys.stderr)
        return 2
    where = "standard output" if output is None else str(output)
    days = period_span(period)
    print(
        f'Wrote {len(events):,} events ({days}) to {where}. The code for "offered" '
        "(871691000000100) is unverified: check it before coding it.",
        file=sys.stderr if output is None else sys.stdout,
    )
    return 0


def _output(path: str | None, default: str) -> Path | None:
    """Where to write: None for standard output. Says so if the folder is missing."""
    if path == "-":
        return None
    output = Path(path or default)
    if not output.parent.is_dir():
        raise ReportError(f"cannot write {output}: the folder {output.parent} does not exist")
    if output.is_dir():
        raise ReportError(f"{output} is a folder: give a file name, e.g. {output / default}")
    return output


def _write(output: Path | None, text: str, *, private: bool = False) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        if private:  # case references: readable by their owner only, like the database
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        else:
            output.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise ReportError(f"cannot write {output}: {exc.strerror}") from None


def _span(period: Period) -> str:
    return f"{period.start.isoformat()}-to-{period.last_day.isoformat()}"


def _summary(report: Report, output: Path | None) -> str:
    h = report.headline
    where = "standard output" if output is None else str(output)
    days = period_span(report.period)
    return (
        f"Wrote {where} ({days}): {h['started'].text} people started, "
        f"{h['handed_off'].text} were handed to a link worker, {h['referred'].text} referred, "
        f"{h['attended'].text} said they went."
    )


def _step(progress: tqdm | None, next_step: str) -> None:
    if progress is not None:
        progress.update(1)
        progress.set_description(next_step)
