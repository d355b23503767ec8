"""The figures on the console's front page: how many questions, how many answered, what residents ask, where."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from bot.domain.conversation import ActivityScope
from bot.domain.escalation import QuestionStatus, UnansweredQuestion
from bot.domain.petition_reports import CloseTimes, PetitionFigures, Satisfaction
from bot.domain.petitions import BoardFilter, PetitionStatus, Rating
from bot.ports import ActivityLog, Clock, GroupDirectory, PetitionStatistics
from bot.services.escalation import EscalationService

CONSOLE_CHANNEL = "console"
DAYS = 7
# The petition figures: cases filed per day over PETITION_DAYS; time to close and satisfaction over CLOSE_DAYS.
PETITION_DAYS = 30
CLOSE_DAYS = 90


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
    """Computes the front-page figures from the conversation record, the unanswered queue, the group list and the
    petitions."""

    def __init__(
        self,
        turns: ActivityLog,
        groups: GroupDirectory,
        escalation: EscalationService,
        clock: Clock,
        *,
        petitions: PetitionStatistics,
        utc_offset: timedelta,
        default_community: str,
    ) -> None:
        self._turns = turns
        self._petitions = petitions
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

    def petition_figures(self, *, community: str | None) -> PetitionFigures:
        """The petitions of one community (or all): filed per local day over PETITION_DAYS and by status and
        category, time to close and satisfaction over CLOSE_DAYS, and the open cases past their deadline now."""
        now = self._clock.now()
        today = now.astimezone(self._zone).date()
        days = _days(today - timedelta(days=PETITION_DAYS - 1), PETITION_DAYS + 1)
        starts = [datetime(d.year, d.month, d.day, tzinfo=self._zone) for d in days]
        scope = BoardFilter(community=community)
        per_day = self._petitions.filed_per_day(starts, scope)
        by_status: dict[str, int] = {}
        by_category: dict[str, int] = {}
        for (status, category), n in self._petitions.filed_totals(starts[0], starts[-1], scope).items():
            label = PetitionStatus(status).label
            by_status[label] = by_status.get(label, 0) + n
            by_category[category] = by_category.get(category, 0) + n
        since = now - timedelta(days=CLOSE_DAYS)
        ratings = self._petitions.ratings(since, scope)
        overdue, with_deadline = self._petitions.deadlines(now, scope)
        return PetitionFigures(
            days=tuple(zip(days[:-1], per_day, strict=True)),
            by_status=_largest_first(by_status),
            by_category=_largest_first(by_category),
            close_times=CloseTimes.of(self._petitions.close_durations(since, scope)),
            overdue=overdue,
            with_deadline=with_deadline,
            satisfaction=Satisfaction(
                {rating: ratings[rating.value] for rating in Rating if ratings.get(rating.value)},
                ratings.get("", 0),
            ),
        )

    def local(self, moment: datetime) -> datetime:
        """A time in the console's display zone."""
        return moment.astimezone(self._zone)


def _largest_first(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)]
