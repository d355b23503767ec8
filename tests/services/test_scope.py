"""Questions about another city's policy are recognised; a resident's own whereabouts are not."""

from __future__ import annotations

import pytest

from bot.services.scope import RegionScope


@pytest.mark.parametrize(
    ("question", "region"),
    [
        ("北京的高龄津贴多少钱", "北京"),
        ("广州城乡居民医保一年交多少", "广州"),
        ("上海市居住证积分怎么算", "上海"),
        ("浙江省残疾人补贴标准", "浙江"),
    ],
)
def test_other_places_policy_is_out_of_scope(question: str, region: str) -> None:
    assert RegionScope().other_region(question) == region


@pytest.mark.parametrize(
    "question",
    [
        "我常年在深圳工作，我爸八十多了住在幸福里，能申请探访吗",
        "俺老妈户口在黑龙江，现在跟俺住，八十一了能领高龄补贴不",
        "我是河南人，刚搬来，居住证怎么办",
        "我从上海搬过来的，医保怎么转",
        "中山路那个充电桩坏了",
        "高龄津贴多少钱",
    ],
)
def test_a_residents_own_whereabouts_are_not_out_of_scope(question: str) -> None:
    assert RegionScope().other_region(question) is None


def test_home_regions_are_never_elsewhere() -> None:
    scope = RegionScope(home_regions=["杭州", "浙江"])
    assert scope.other_region("杭州的高龄津贴多少钱") is None
    assert scope.other_region("宁波的高龄津贴多少钱") == "宁波"
