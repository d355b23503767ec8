"""Personal numbers are masked however residents type them: a generated corpus of formats, not a handful."""

from __future__ import annotations

import random
import re

import pytest

from bot.domain.privacy import mask_personal_data
from tests.support.personal_numbers import personal_number, revealed


def _corpus(seed: int, size: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [personal_number(rng) for _ in range(size)]


def test_every_generated_format_of_a_personal_number_is_masked() -> None:
    corpus = _corpus(seed=20261128, size=3000)
    leaks = [(text, mask_personal_data(text)) for number, text in corpus if revealed(number, mask_personal_data(text))]
    assert not leaks, f"{len(leaks)} of {len(corpus)} left unmasked, e.g. {leaks[:5]}"


@pytest.mark.parametrize(
    "text",
    [
        "139.1234.5678",
        "008613912345678",
        "+86 139 1234 5678",
        "１３９１２３４５６７８",
        "110101900307123",
        "110101 19900307 1234",
        "1 3 9 1 2 3 4 5 6 7 8",
    ],
)
def test_the_six_formats_the_probe_found_stored_in_clear(text: str) -> None:
    masked = mask_personal_data(text)
    assert "*" in masked and not re.search(r"\d{5}", masked)


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-20 13:00 开会",
        "3号楼2单元1101室",
        "打12345市民热线",
        "费用1,200元，95588",
        "400-123-4567（示例）",
        "第1. 2. 3. 条",
        "高龄津贴每月100元，80岁以上",
    ],
)
def test_dates_prices_rooms_and_hotlines_are_left_alone(text: str) -> None:
    assert mask_personal_data(text) == text


def test_a_number_next_to_another_keeps_the_other() -> None:
    assert mask_personal_data("电话13912345678 2号楼") == "电话139****5678 2号楼"
    assert mask_personal_data("13912345678 13812345678") == "139****5678 138****5678"
