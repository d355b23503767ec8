"""Routing values: a route's deadline by urgency, what staff may enter, who a department's notice reaches, and the
routes the shipped category file gives by default (a file without them gets five days, one day when urgent)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import DEFAULT_PETITION_CATEGORIES
from bot.domain.petitions import PetitionCategory, Urgency
from bot.domain.routing import Department, Route, RoutingError, checked_department, checked_route
from bot.services.petition_recognition import PetitionCategoriesError, load_categories


def test_the_shipped_categories_route_each_to_a_department_with_its_deadlines() -> None:
    routes = {c.name: Route.of(c) for c in load_categories(DEFAULT_PETITION_CATEGORIES)}
    assert {name: (r.department, r.deadline_hours) for name, r in routes.items()} == {
        "设施维修": ("物业", 72),
        "环境卫生": ("物业", 48),
        "噪音扰民": ("网格员", 72),
        "物业服务": ("物业", 120),
        "安全隐患": ("社区安全员", 24),
        "邻里纠纷": ("人民调解委员会", 168),
        "其他": ("社区居委会", 120),
    }
    assert all(r.urgent_deadline_hours < r.deadline_hours for r in routes.values())
    assert routes["安全隐患"].deadline(Urgency.URGENT) == timedelta(hours=4)
    assert routes["安全隐患"].deadline(Urgency.NORMAL) == timedelta(hours=24)
    assert not routes["其他"].edited


def test_a_category_file_without_routes_gets_default_deadlines_and_bad_ones_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "categories.json"
    path.write_text(json.dumps({"停车": "车位"}, ensure_ascii=False), encoding="utf-8")
    (parking,) = load_categories(path)
    assert (parking.department, parking.deadline_hours, parking.urgent_deadline_hours) == ("", 120, 24)
    short = [{"name": "停车", "description": "车位", "department": " 城管 科 ", "deadline_hours": 8}]
    path.write_text(json.dumps(short, ensure_ascii=False), encoding="utf-8")
    assert load_categories(path) == [
        PetitionCategory("停车", "车位", department="城管 科", deadline_hours=8, urgent_deadline_hours=8)
    ]
    for bad in ({"deadline_hours": "72"}, {"deadline_hours": 0}, {"deadline_hours": 10, "urgent_deadline_hours": 20}):
        path.write_text(json.dumps([{"name": "停车", "description": "车位", **bad}]), encoding="utf-8")
        with pytest.raises(PetitionCategoriesError, match="停车"):
            load_categories(path)


def test_what_staff_enter_is_checked_and_a_department_says_how_it_is_reached() -> None:
    assert checked_route("设施维修", "  物业 公司 ", 72, 24) == Route("设施维修", "物业 公司", 72, 24)
    for hours, urgent in ((0, 0), (24 * 91, 24), (24, 48)):
        with pytest.raises(RoutingError):
            checked_route("设施维修", "物业", hours, urgent)
    with pytest.raises(RoutingError, match="部门名称不能为空"):
        checked_department("  ", "", "", street_office=False)
    street = checked_department(" 街道办 ", " street-room ", "key", street_office=True)
    assert street == Department("街道办", "street-room", "key", True)
    assert street.reached_by("吹哨群") == ["微信群“吹哨群”", "企业微信群机器人"]
    assert not Department("物业").reachable and Department("物业").reached_by("") == []
