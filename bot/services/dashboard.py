"""The figures on the console's front page: how many questions, how many answered, what residents ask, where."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from bot.domain.escalation import QuestionStatus, UnansweredQuestion
from bot.ports import Clock
from bot.services.escalation import EscalationService
from bot.storage.channel import SqlGroupConfigs
from bot.storage.turns import SqlTurnLog

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
        turns: SqlTurnLog,
        groups: SqlGroupConfigs,
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
        since = datetime(first_day.year, first_day.month, first_day.day, tzinfo=self._zone)
        groups = self._groups.all(community=community)
        names = {g.group_id: g.name or g.group_id for g in groups}
        turns = self._turns.activity_since(since, exclude_channels=(CONSOLE_CHANNEL,))
        if community is not None:
            private_visible = community == self._default_community
            turns = [t for t in turns if t.group_id in names or (not t.group_id and private_visible)]
        per_day: dict[date, list[int]] = {first_day + timedelta(days=n): [0, 0] for n in range(DAYS)}
        for turn in turns:
            per_day[turn.at.astimezone(self._zone).date()][0 if turn.answered else 1] += 1
        entries = Counter(t.first_source for t in turns if t.answered and t.first_source)
        by_group = Counter(t.group_id for t in turns)
        open_questions = self._escalation.queue(community=community, status=QuestionStatus.OPEN, limit=500)
        return DashboardFigures(
            today=sum(per_day[today]),
            week=len(turns),
            answered_week=sum(1 for t in turns if t.answered),
            open_questions=len(open_questions),
            days=tuple(DayCount(day, counts[0], counts[1]) for day, counts in per_day.items()),
            top_entries=tuple(Ranked(key, titles.get(key, key), n) for key, n in entries.most_common(8)),
            top_unanswered=tuple(sorted(open_questions, key=lambda q: (-len(q.askers), q.created_at))[:8]),
            groups=tuple(
                Ranked(key, names.get(key, "私聊") if key else "私聊", n) for key, n in by_group.most_common(10)
            ),
        )

    def local(self, moment: datetime) -> datetime:
        """A time in the console's display zone."""
        return moment.astimezone(self._zone)
