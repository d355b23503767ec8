"""The places a bulk request for 门牌码 names."""

from __future__ import annotations

import pytest

from bot.domain.door_codes import MAX_CODES_AT_ONCE, PlaceListError, expand_places


def test_a_run_of_buildings_becomes_one_place_each() -> None:
    assert expand_places("1-12号楼") == [f"{n}号楼" for n in range(1, 13)]
    assert expand_places("3～5栋") == ["3栋", "4栋", "5栋"]
    assert expand_places("7至8") == ["7号楼", "8号楼"]


def test_a_list_keeps_its_order_and_drops_repeats() -> None:
    assert expand_places("3号楼，5号楼、东门\n3号楼; 地下车库") == ["3号楼", "5号楼", "东门", "地下车库"]


def test_units_make_one_place_per_unit_of_each_building() -> None:
    assert expand_places("3-4号楼", units=2) == ["3号楼1单元", "3号楼2单元", "4号楼1单元", "4号楼2单元"]


@pytest.mark.parametrize(
    ("spec", "units", "reason"),
    [
        ("", 0, "请写上楼栋"),
        (" ，、 ", 0, "请写上楼栋"),
        ("12-1号楼", 0, "范围不对"),
        (f"1-{MAX_CODES_AT_ONCE + 1}号楼", 0, "范围不对"),
        ("1-200号楼", 2, "一次最多"),
        ("1号楼", 13, "单元数"),
    ],
)
def test_a_request_that_cannot_be_read_is_refused_in_chinese(spec: str, units: int, reason: str) -> None:
    with pytest.raises(PlaceListError, match=reason):
        expand_places(spec, units)
