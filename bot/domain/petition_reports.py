"""What staff read off the petitions as a whole: the dashboard's figures (volume, time to close, overdue share,
satisfaction) and the export's columns. Plain values and arithmetic, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain.petitions import Rating

# The export's columns, in the order of the sheet.
EXPORT_COLUMNS = (
    "编号",
    "类别",
    "状态",
    "紧急程度",
    "地点",
    "描述",
    "群",
    "居民",
    "部门",
    "登记时间",
    "办结时间",
    "期限",
    "是否超期",
    "评价",
    "最后说明",
)
# Characters a spreadsheet reads as the start of a formula (and the control characters that hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """text as a cell that a spreadsheet never runs as a formula: a leading apostrophe before = + - @."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def percentile(values: Sequence[float], fraction: float) -> float:
    """The fraction-th percentile of sorted values, interpolating between the two nearest ranks (0.5: the median)."""
    if not values:
        raise ValueError("no values")
    rank = (len(values) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return values[low] + (values[high] - values[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class CloseTimes:
    """How long cases took from filing to resolution: how many, the median and the 90th percentile."""

    cases: int
    median: timedelta
    p90: timedelta

    @classmethod
    def of(cls, durations: Sequence[timedelta]) -> CloseTimes:
        """The figures of some durations (zeros when there are none)."""
        seconds = sorted(d.total_seconds() for d in durations)
        if not seconds:
            return cls(0, timedelta(0), timedelta(0))
        return cls(
            len(seconds), timedelta(seconds=percentile(seconds, 0.5)), timedelta(seconds=percentile(seconds, 0.9))
        )


@dataclass(frozen=True, slots=True)
class Satisfaction:
    """The residents' ratings of closed cases, and how many were closed without one."""

    ratings: dict[Rating, int]
    unrated: int

    @property
    def rated(self) -> int:
        """How many closed cases were rated."""
        return sum(self.ratings.values())

    def share(self, rating: Rating) -> float:
        """The share of rated cases given rating (0 when none was rated)."""
        return self.ratings.get(rating, 0) / self.rated if self.rated else 0.0


@dataclass(frozen=True, slots=True)
class PetitionFigures:
    """The petition figures of the dashboard for one community (or all).

    days: cases filed per local day, oldest first (the volume window); by_status / by_category: the window's cases by
    where they stand now and by category, largest first; close_times: cases resolved in the longer window; overdue /
    with_deadline: open cases past their deadline, and open cases that have one; satisfaction: cases resolved in the
    longer window and closed since."""

    days: tuple[tuple[date, int], ...]
    by_status: tuple[tuple[str, int], ...]
    by_category: tuple[tuple[str, int], ...]
    close_times: CloseTimes
    overdue: int
    with_deadline: int
    satisfaction: Satisfaction

    @property
    def filed(self) -> int:
        """Cases filed in the volume window."""
        return sum(n for _, n in self.days)

    @property
    def overdue_share(self) -> float:
        """Open cases past their deadline among open cases with one (0 when none has a deadline)."""
        return self.overdue / self.with_deadline if self.with_deadline else 0.0


def duration_text(span: timedelta) -> str:
    """A duration as staff read it: hours under two days ("5.5 小时"), else days ("3.2 天")."""
    hours = span.total_seconds() / 3600
    return f"{hours:.1f} 小时" if hours < 48 else f"{hours / 24:.1f} 天"
