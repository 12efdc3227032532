"""Cron schedules of a table's DAGs, checked the way Airflow's cron timetables read them. Pure: imports no Airflow.

Airflow's ``CronDataIntervalTimetable`` maps its presets to cron and hands the rest to croniter (which Airflow
ships); five fields only. Checking here, when the YAML is read, lets the error name the file and the field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from croniter import croniter

# airflow.utils.dates.cron_presets (Airflow 2.10 and 3.x), copied so the core needs no Airflow.
CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
# DynamoDB incremental exports cover 15 minutes to 24 hours (ExportTableToPointInTime IncrementalExportSpecification).
INCREMENTAL_MIN_GAP = timedelta(minutes=15)
INCREMENTAL_MAX_GAP = timedelta(hours=24)
CDC_MAX_GAP = timedelta(minutes=5)
# Eight days from a Thursday: every weekday, and a day-of-month rule shows as a gap over 24 hours.
_SAMPLE_START = datetime(2026, 1, 1)
_SAMPLE_SPAN = timedelta(days=8)


def cron_problem(schedule: str) -> str | None:
    """Why Airflow would refuse ``schedule`` as a cron timetable, or None when it is valid."""
    expression = CRON_PRESETS.get(schedule, schedule)
    if expression.startswith("@"):
        return f"{schedule!r} is not a cron expression or one of {', '.join(CRON_PRESETS)}"
    if len(expression.split()) != 5:
        return f"{schedule!r} must have five fields (minute hour day-of-month month day-of-week)"
    try:
        croniter(expression)
    except (ValueError, KeyError) as exc:  # croniter's errors derive from ValueError
        return f"{schedule!r} is not a valid cron expression: {exc}"
    return None


@lru_cache(maxsize=64)
def tick_gaps(schedule: str) -> tuple[timedelta, timedelta]:
    """The shortest and longest time between two ticks of a valid ``schedule`` over an eight-day sample.

    Stops early once a gap under 15 minutes shows (``* * * * *`` would otherwise take 11,520 ticks).
    """
    ticks = croniter(CRON_PRESETS.get(schedule, schedule), _SAMPLE_START - timedelta(seconds=1))
    previous = ticks.get_next(datetime)
    shortest, longest = timedelta.max, timedelta(0)
    while previous < _SAMPLE_START + _SAMPLE_SPAN:
        tick = ticks.get_next(datetime)
        gap = tick - previous
        shortest, longest = min(shortest, gap), max(longest, gap)
        if shortest < INCREMENTAL_MIN_GAP:
            break
        previous = tick
    return shortest, longest


def incremental_schedule_problem(schedule: str) -> str | None:
    """Why ``schedule`` cannot drive incremental exports (invalid, or ticks under 15 minutes / over 24 hours apart)."""
    problem = cron_problem(schedule)
    if problem:
        return problem
    shortest, longest = tick_gaps(schedule)
    if shortest < INCREMENTAL_MIN_GAP:
        return f"{schedule!r} runs {_minutes(shortest)} apart; an incremental export covers at least 15 minutes"
    if longest > INCREMENTAL_MAX_GAP:
        return f"{schedule!r} leaves {_minutes(longest)} between runs; an incremental export covers at most 24 hours"
    return None


def _minutes(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    return f"{minutes} minutes" if minutes < 120 else f"{minutes / 60:g} hours"


def cdc_schedule_problem(schedule: str) -> str | None:
    """Why ``schedule`` cannot drive the CDC merge (invalid, or more than 5 minutes between two runs in a day)."""
    problem = cron_problem(schedule)
    if problem:
        return problem
    ticks = croniter(CRON_PRESETS.get(schedule, schedule), _SAMPLE_START - timedelta(seconds=1))
    previous, longest = ticks.get_next(datetime), timedelta(0)
    while previous < _SAMPLE_START + timedelta(days=1) and longest <= CDC_MAX_GAP:
        tick = ticks.get_next(datetime)
        longest, previous = max(longest, tick - previous), tick
    if longest > CDC_MAX_GAP:
        return (f"{schedule!r} leaves {_minutes(longest)} between runs; the CDC merge runs every 1 to 5 minutes "
                "(e.g. '*/2 * * * *')")
    return None
