"""The figures on the console's front page: how many questions, how many answered, what residents ask, where."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from bot.domain.conversation import ActivityScope
from bot.domain.escalation import QuestionStatus, UnansweredQuestion
from bot.ports import ActivityLog, Clock, GroupDirectory
from bot.services.escalation import EscalationService

CONSOLE_CHANNEL = "console"
DAYS = 7


@dataclass(frozen=True, slots=True)
class DayCount:
    """Questions of one day, answered and not."""

    day: date
    answered: int
    refused: int


@dataclass(frozen=True, slots=True)
class Ranked:
    """A label with a count, for a top list."""

    key: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class DashboardFigures:
    """Everything the front page shows for one community (or all)."""

    today: int
    week: int
    answered_week: int
    open_questions: int
    days: tuple[DayCount, ...]
    top_entries: tuple[Ranked, ...]
    top_unanswered: tuple[UnansweredQuestion, ...]
    groups: tuple[Ranked, ...]

    @property
    def answered_ratio(self) -> float:
        """Share of the week's questions the assistant answered itself."""
        return self.answered_week / self.week if self.week else 0.0


class Dashboard:
    """Computes the front-page figures from the conversation record, the unanswered queue and the group list."""

    def __init__(
        self,
        turns: ActivityLog,
        groups: GroupDirectory,
        escalation: EscalationService,
        clock: Clock,
        *,
        utc_offset: timedelta,
        default_community: str,
    ) -> None:
        self._turns = turns
        self._groups = groups
        self._escalation = escalation
        self._clock = clock
        self._zone = timezone(utc_offset)
        self._default_community = default_community

    def figures(self, *, community: str | None, titles: dict[str, str]) -> DashboardFigures:
        """The week's figures in local days; only one community's groups if given. titles: entry id → title."""
        today = self._clock.now().astimezone(self._zone).date()
        first_day = today - timedelta(days=DAYS - 1)
        starts = [datetime(d.year, d.month, d.day, tzinfo=self._zone) for d in _days(first_day, DAYS + 1)]
        scope = ActivityScope(
            exclude_channels=(CONSOLE_CHANNEL,),
            community=community,
            includes_private=community is None or community == self._default_community,
        )
        days = tuple(
            DayCount(start.date(), *self._turns.count_answered(start, end, scope))
            for start, end in itertools.pairwise(starts)
        )
        names = {g.group_id: g.name or g.group_id for g in self._groups.all(community=community)}
        busiest = self._turns.busiest_groups(starts[0], scope, limit=10)
        entries = self._turns.most_answered_entries(starts[0], scope, limit=8)
        # The most-waited-on list looks at the first 500 open questions in queue order; the tile counts them all.
        open_questions = self._escalation.queue(community=community, status=QuestionStatus.OPEN, limit=500)
        return DashboardFigures(
            today=days[-1].answered + days[-1].refused,
            week=sum(d.answered + d.refused for d in days),
            answered_week=sum(d.answered for d in days),
            open_questions=self._escalation.count(community=community, status=QuestionStatus.OPEN),
            days=days,
            top_entries=tuple(Ranked(key, titles.get(key, key), n) for key, n in entries),
            top_unanswered=tuple(sorted(open_questions, key=lambda q: (-len(q.askers), q.created_at))[:8]),
            groups=tuple(Ranked(key, names.get(key, key) if key else "私聊", n) for key, n in busiest),
        )

    def local(self, moment: datetime) -> datetime:
        """A time in the console's display zone."""
        return moment.astimezone(self._zone)


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)]
