"""Photo and 门牌码 storage on SQLite and PostgreSQL: a photo file per content hash beside its rows, the per-case
limit, codes made and switched off, and the submissions the page's rate limits count."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.door_codes import LimitHit, SubmissionLimits
from bot.domain.petitions import PAGE_CHANNEL, BoardFilter, PetitionDraft, Reporter, Urgency
from bot.domain.photos import PhotoRefusedError, PhotoSource
from bot.services.photos import normalised_jpeg
from bot.storage.door_codes import SqlDoorCodes
from bot.storage.petitions import SqlPetitions
from bot.storage.photos import SqlPhotoStore
from tests.support.photos import phone_jpeg, transparent_png

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
MB = 1024 * 1024


def filed(sessions: sessionmaker[Session], origin: str, *, community: str = "") -> int:
    reporter = Reporter(PAGE_CHANNEL, "", "3号楼", "qr-device", "扫码居民")
    draft = PetitionDraft("设施维修", "电梯坏了", "3号楼", reporter, Urgency.NORMAL, origin, community=community)
    petition = SqlPetitions(sessions).file(draft, year=2026, now=NOW).petition
    assert petition is not None
    return petition.id


def test_photos_are_kept_once_per_content_and_at_most_the_limit_per_case(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    store = SqlPhotoStore(sessions, tmp_path / "photos")
    first, second = filed(sessions, "qr:a"), filed(sessions, "qr:b")
    photo, data = normalised_jpeg(phone_jpeg(800, 600), max_bytes=8 * MB)
    kept = store.attach(first, photo, data, source=PhotoSource.DOOR_CODE, now=NOW, limit=2)
    again = store.attach(first, photo, data, source=PhotoSource.DOOR_CODE, now=NOW, limit=2)
    assert again.id == kept.id and [p.id for p in store.of_case(first)] == [kept.id]
    shared = store.attach(second, photo, data, source=PhotoSource.WECHAT, now=NOW, limit=2)
    assert shared.photo.sha256 == kept.photo.sha256 and shared.source is PhotoSource.WECHAT
    files = list((tmp_path / "photos").rglob("*.jpg"))
    assert files == [tmp_path / "photos" / photo.sha256[:2] / f"{photo.sha256}.jpg"]
    assert store.content(kept.photo) == data
    other, other_data = normalised_jpeg(transparent_png(), max_bytes=8 * MB)
    store.attach(first, other, other_data, source=PhotoSource.DOOR_CODE, now=NOW, limit=2)
    third, third_data = normalised_jpeg(phone_jpeg(300, 300), max_bytes=8 * MB)
    with pytest.raises(PhotoRefusedError, match="已经有 2 张照片"):
        store.attach(first, third, third_data, source=PhotoSource.DOOR_CODE, now=NOW, limit=2)
    assert len(store.of_case(first)) == 2 and not (tmp_path / "photos" / third.sha256[:2]).exists()


def test_codes_are_made_found_switched_off_and_listed_per_community(sessions: sessionmaker[Session]) -> None:
    codes = SqlDoorCodes(sessions)
    made = codes.create([("tok-1", "1号楼"), ("tok-2", "2号楼")], community="幸福里", created_by="李干部", now=NOW)
    codes.create([("tok-3", "1号楼")], community="和平里", created_by="何干部", now=NOW)
    assert [c.place for c in made] == ["1号楼", "2号楼"] and all(c.active for c in made)
    found = codes.by_token("tok-2")
    assert found is not None and found.community == "幸福里" and found.created_at == NOW
    assert codes.by_token("tok-9") is None
    assert codes.deactivate(made[0].id) and not codes.deactivate(made[0].id)
    assert [c.token for c in codes.listed(community="幸福里", active_only=True)] == ["tok-2"]
    assert [c.token for c in codes.listed(community=None, active_only=False)] == ["tok-1", "tok-2", "tok-3"]


def test_slots_are_admitted_per_device_and_address_an_hour_and_per_code_a_day(sessions: sessionmaker[Session]) -> None:
    codes = SqlDoorCodes(sessions)
    one, two = codes.create([("t-1", "1号楼"), ("t-2", "2号楼")], community="幸福里", created_by="李", now=NOW)
    limits = SubmissionLimits(per_device_hour=2, per_address_hour=2, per_code_day=4)

    def admit(code: int, device: str, address: str, at: datetime = NOW) -> LimitHit | None:
        admission = codes.admit(code, device=device, address=address, at=at, limits=limits)
        assert (admission.submission_id > 0) == (admission.refused is None)
        return admission.refused

    assert admit(one.id, "d1", "a1", NOW - timedelta(hours=2)) is None  # outside the hour, inside the day
    assert admit(one.id, "d1", "a1") is None and admit(one.id, "d1", "a1") is None
    assert admit(one.id, "d1", "a2") is LimitHit.DEVICE  # refused slots are not counted
    assert admit(two.id, "d2", "a1") is LimitHit.ADDRESS
    assert admit(one.id, "d3", "a3") is None
    assert admit(one.id, "d4", "a4") is LimitHit.CODE
    assert admit(two.id, "d4", "a4") is None
    slot = codes.admit(two.id, device="d5", address="a5", at=NOW, limits=limits)
    codes.withdraw(slot.submission_id)  # given back: nothing was filed
    assert [admit(two.id, "d5", "a5") for _ in range(3)] == [None, None, LimitHit.DEVICE]


def test_concurrent_submissions_to_one_code_never_pass_its_limit(sessions: sessionmaker[Session]) -> None:
    codes = SqlDoorCodes(sessions)
    (code,) = codes.create([("t-9", "9号楼")], community="幸福里", created_by="李", now=NOW)
    limits = SubmissionLimits(per_device_hour=100, per_address_hour=100, per_code_day=5)
    start = threading.Barrier(12)

    def submit(n: int) -> bool:
        start.wait()
        for _ in range(20):  # SQLite may report a locked database to a writer that waited too long
            try:
                admission = codes.admit(code.id, device=f"d{n}", address=f"a{n}", at=NOW, limits=limits)
            except OperationalError:
                continue
            return admission.refused is None
        raise AssertionError("the database stayed locked")

    with ThreadPoolExecutor(max_workers=12) as pool:
        admitted = list(pool.map(submit, range(12)))
    assert admitted.count(True) == 5


def test_a_case_filed_from_a_code_keeps_the_codes_community(sessions: sessionmaker[Session]) -> None:
    petitions = SqlPetitions(sessions, default_community="默认社区")
    filed(sessions, "qr:c", community="和平里")
    assert [p.community for p in petitions.board(BoardFilter(community="和平里"), offset=0, limit=5)] == ["和平里"]
    assert petitions.board(BoardFilter(community="默认社区"), offset=0, limit=5) == []
