"""The front page: the week's figures with charts drawn as inline SVG (no script, no chart library)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.console.routes.petitions import board_filter
from bot.console.web import Services, SignedInStaff, page
from bot.domain.petition_reports import PetitionFigures, duration_text
from bot.domain.petitions import Rating
from bot.domain.staff import Permission
from bot.services.dashboard import DashboardFigures, DayCount, Ranked

router = APIRouter()
CHART_HEIGHT = 120
# The handler's home page lists this many of the newest cases dispatched to their department.
HOME_CASES = 20


@dataclass(frozen=True, slots=True)
class DayBar:
    """One day's stacked bar: answered at the bottom, passed to staff on top (SVG units)."""

    label: str
    x: int
    answered_y: int
    answered_h: int
    refused_y: int
    refused_h: int
    total: int


@dataclass(frozen=True, slots=True)
class VolumeBar:
    """One day's bar of petitions filed (SVG units); label only on every fifth day and the last."""

    label: str
    x: int
    y: int
    height: int
    total: int


@dataclass(frozen=True, slots=True)
class RankBar:
    """One horizontal bar of a top list, width in percent of the longest."""

    label: str
    count: int
    width: int


@router.get("/", response_class=HTMLResponse)
def front_page(request: Request, console: Services, session: SignedInStaff) -> Response:
    """Questions today and this week, the answered share, top questions and topics, activity per group."""
    if not session.user.may(Permission.VIEW_DASHBOARD):
        cases = console.petitions.board(board_filter(session.user), offset=0, limit=HOME_CASES)
        return page(request, "home_handler.html", session, cases=cases)
    figures = console.dashboard.figures(community=session.user.community_scope, titles=console.knowledge.titles())
    petitions = console.dashboard.petition_figures(community=session.user.community_scope)
    return page(
        request,
        "dashboard.html",
        session,
        figures=figures,
        day_bars=day_bars(figures),
        entry_bars=rank_bars(figures.top_entries),
        group_bars=rank_bars(figures.groups),
        chart_height=CHART_HEIGHT,
        petitions=petitions,
        volume_bars=volume_bars(petitions),
        status_bars=rank_bars(tuple(Ranked(k, k, n) for k, n in petitions.by_status)),
        category_bars=rank_bars(tuple(Ranked(k, k, n) for k, n in petitions.by_category)),
        close_median=duration_text(petitions.close_times.median),
        close_p90=duration_text(petitions.close_times.p90),
        ratings=[(r.label, petitions.satisfaction.ratings.get(r, 0), petitions.satisfaction.share(r)) for r in Rating],
    )


def day_bars(figures: DashboardFigures) -> list[DayBar]:
    """Stacked bars of the week, scaled to the busiest day."""
    peak = max((d.answered + d.refused for d in figures.days), default=0) or 1
    return [_day_bar(n, day, peak) for n, day in enumerate(figures.days)]


def _day_bar(n: int, day: DayCount, peak: int) -> DayBar:
    answered_h = round(CHART_HEIGHT * day.answered / peak)
    refused_h = round(CHART_HEIGHT * day.refused / peak)
    return DayBar(
        label=day.day.strftime("%m-%d"),
        x=n * 44 + 6,
        answered_y=CHART_HEIGHT - answered_h,
        answered_h=answered_h,
        refused_y=CHART_HEIGHT - answered_h - refused_h,
        refused_h=refused_h,
        total=day.answered + day.refused,
    )


def volume_bars(petitions: PetitionFigures) -> list[VolumeBar]:
    """One bar per day of petitions filed, scaled to the busiest day."""
    peak = max((n for _, n in petitions.days), default=0) or 1
    bars = []
    for n, (day, filed) in enumerate(petitions.days):
        height = round(CHART_HEIGHT * filed / peak)
        label = day.strftime("%m-%d") if n % 5 == 0 or n == len(petitions.days) - 1 else ""
        bars.append(VolumeBar(label, n * 20 + 4, CHART_HEIGHT - height, height, filed))
    return bars


def rank_bars(ranked: tuple[Ranked, ...]) -> list[RankBar]:
    """Horizontal bars scaled to the first (largest) count."""
    peak = max((r.count for r in ranked), default=0) or 1
    return [RankBar(r.label, r.count, max(2, round(100 * r.count / peak))) for r in ranked]
