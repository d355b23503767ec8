"""How petitions look through Open311: every status mapped, status filters, stable service codes, W3C times."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.open311 import (
    STATUS_MAP,
    BasicStatus,
    DateNotUnderstood,
    basic_status,
    extended_status,
    parse_w3c,
    service_code,
    statuses_named,
    w3c,
)
from bot.domain.petitions import PetitionCategory, PetitionStatus
from bot.services.petition_recognition import PetitionCategoriesError, load_categories

EXTENDED = {
    "open", "closed", "fixed", "in_progress", "planned", "action_scheduled", "investigating", "duplicate",
    "not_councils_responsibility", "no_further_action", "internal_referral", "reopen", "for_triage",
}  # fmt: skip
EIGHT = timedelta(hours=8)


def test_every_status_maps_to_a_basic_and_an_extended_status() -> None:
    assert set(STATUS_MAP) == set(PetitionStatus)
    assert {extended_status(s) for s in PetitionStatus} <= EXTENDED
    assert basic_status(PetitionStatus.DISPATCHED) is BasicStatus.OPEN
    assert basic_status(PetitionStatus.RESOLVED) is BasicStatus.CLOSED
    assert extended_status(PetitionStatus.REJECTED) == "no_further_action"  # never "not the council's"
    assert statuses_named("open") == {s for s in PetitionStatus if not (s.done)}
    assert statuses_named(" Duplicate ") == {PetitionStatus.MERGED}
    assert statuses_named("sleeping") == frozenset()


def test_service_codes_are_given_or_derived_from_the_name_alone() -> None:
    assert service_code(PetitionCategory("设施维修", "", code="facility_repair")) == "facility_repair"
    derived = service_code(PetitionCategory("停车管理", "说明一"))
    assert derived == service_code(PetitionCategory("停车管理", "说明二")) and derived.isascii()
    assert derived != service_code(PetitionCategory("绿化养护", ""))


def test_a_category_file_with_a_bad_or_repeated_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "categories.json"
    path.write_text(json.dumps([{"name": "甲", "description": "", "code": "不是英文"}]), encoding="utf-8")
    with pytest.raises(PetitionCategoriesError, match="代码"):
        load_categories(path)
    path.write_text(json.dumps([{"name": "甲", "code": "a"}, {"name": "乙", "code": "a"}]), encoding="utf-8")
    with pytest.raises(PetitionCategoriesError, match="代码重复"):
        load_categories(path)
    path.write_text(json.dumps({"甲": "说明"}), encoding="utf-8")
    assert load_categories(path)[0].code == ""


def test_times_are_w3c_with_the_local_offset() -> None:
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert w3c(at, EIGHT) == "2026-11-24T17:00:00+08:00"
    assert parse_w3c("2026-11-24T17:00:00+08:00", EIGHT) == at
    assert parse_w3c("2026-11-24T09:00:00Z", EIGHT) == at
    assert parse_w3c("2026-11-24T17:00:00", EIGHT) == at  # no offset: local time
    with pytest.raises(DateNotUnderstood):
        parse_w3c("yesterday", EIGHT)
