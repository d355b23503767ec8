"""Repository of the photos attached to petitions: a row per case and photo in the database, and the files in the
data directory, one per content hash (photos/ab/abcdef….jpg), written whole under a temporary name and renamed."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.photos import CasePhoto, Photo, PhotoRefusedError, PhotoSource
from bot.local_state import LocalStateError, os_error_message
from bot.storage.models import PetitionPhotoRow


class SqlPhotoStore:
    """Photo rows in the database and their files under directory, named by their SHA-256."""

    def __init__(self, sessions: sessionmaker[Session], directory: Path) -> None:
        self._sessions = sessions
        self._directory = directory

    def attach(
        self, petition_id: int, photo: Photo, content: bytes, *, source: PhotoSource, now: datetime, limit: int
    ) -> CasePhoto:
        """Keep content as photo on the case (the same picture twice is kept once); PhotoRefusedError when the case
        has limit photos already. The file is written before the row is committed, so a row never lacks its file."""
        with self._sessions.begin() as session:
            rows = session.scalars(select(PetitionPhotoRow).where(PetitionPhotoRow.petition_id == petition_id)).all()
            same = next((row for row in rows if row.sha256 == photo.sha256), None)
            if same is not None:
                return _case_photo(same)
            if len(rows) >= limit:
                raise PhotoRefusedError(f"这个诉求已经有 {limit} 张照片了，不能再加。")
            self._write(photo.sha256, content)
            row = PetitionPhotoRow(
                petition_id=petition_id,
                sha256=photo.sha256,
                content_type=photo.content_type,
                size=photo.size,
                width=photo.width,
                height=photo.height,
                source=source.value,
                created_at=now,
            )
            session.add(row)
            session.flush()
            return _case_photo(row)

    def of_case(self, petition_id: int) -> list[CasePhoto]:
        """The photos of one case, oldest first."""
        query = (
            select(PetitionPhotoRow)
            .where(PetitionPhotoRow.petition_id == petition_id)
            .order_by(PetitionPhotoRow.created_at, PetitionPhotoRow.id)
        )
        with self._sessions() as session:
            return [_case_photo(row) for row in session.scalars(query)]

    def content(self, photo: Photo) -> bytes:
        """The stored JPEG of a photo."""
        path = self._path(photo.sha256)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise LocalStateError(os_error_message(path, exc, "照片文件")) from exc

    def _path(self, sha256: str) -> Path:
        return self._directory / sha256[:2] / f"{sha256}.jpg"

    def _write(self, sha256: str, content: bytes) -> None:
        """Write the file once: whole under a temporary name, synced, then renamed into place."""
        path = self._path(sha256)
        if path.is_file() and path.stat().st_size == len(content):
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, scratch = tempfile.mkstemp(dir=path.parent, suffix=".part")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(content)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(scratch, path)
            except BaseException:
                Path(scratch).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise LocalStateError(os_error_message(path.parent, exc, "照片目录")) from exc


def _case_photo(row: PetitionPhotoRow) -> CasePhoto:
    photo = Photo(row.sha256, row.content_type, row.size, row.width, row.height)
    return CasePhoto(row.id, row.petition_id, photo, PhotoSource(row.source), row.created_at)
