"""Photo and 门牌码 storage on SQLite and PostgreSQL: a photo file per content hash beside its rows, the per-case
limit, codes made and switched off, and the submissions the page's rate limits count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

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


def test_submissions_are_counted_per_device_address_and_code_since_a_time(sessions: sessionmaker[Session]) -> None:
    codes = SqlDoorCodes(sessions)
    one, two = codes.create([("t-1", "1号楼"), ("t-2", "2号楼")], community="幸福里", created_by="李", now=NOW)
    codes.record_submission(one.id, device="d1", address="a1", at=NOW - timedelta(hours=2), number="2026-0001")
    codes.record_submission(one.id, device="d1", address="a1", at=NOW, number="2026-0002")
    codes.record_submission(two.id, device="d2", address="a1", at=NOW, number="2026-0003")
    hour_ago = NOW - timedelta(hours=1)
    assert codes.submissions_since(hour_ago, device="d1") == 1
    assert codes.submissions_since(NOW - timedelta(days=1), device="d1") == 2
    assert codes.submissions_since(hour_ago, address="a1") == 2
    assert codes.submissions_since(NOW - timedelta(days=1), code_id=one.id) == 2
    assert codes.submissions_since(hour_ago, code_id=two.id, device="d1") == 0


def test_a_case_filed_from_a_code_keeps_the_codes_community(sessions: sessionmaker[Session]) -> None:
    petitions = SqlPetitions(sessions, default_community="默认社区")
    filed(sessions, "qr:c", community="和平里")
    assert [p.community for p in petitions.board(BoardFilter(community="和平里"), offset=0, limit=5)] == ["和平里"]
    assert petitions.board(BoardFilter(community="默认社区"), offset=0, limit=5) == []
