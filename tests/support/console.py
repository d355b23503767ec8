"""The staff console wired over real services for tests, and a browser-like client that signs in."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.embeddings import Embeddings

from bot.app import Application
from bot.console.app import create_console
from bot.domain.staff import Role, StaffProfile, StaffUser
from bot.ports import Clock
from tests.conftest import fresh_database
from tests.support.clock import FakeClock
from tests.support.services import STARTER_KNOWLEDGE, ready_services

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LOGIN_CSRF = re.compile(r'name="login_csrf" value="([^"]+)"')
PASSWORD = "Harbour-lights-42"


@dataclass
class ConsoleWorld:
    """Everything a console test touches: the application and its console app."""

    application: Application
    app: FastAPI

    def user(self, username: str, role: Role, *, community: str = "", department: str = "") -> StaffUser:
        """An account whose password needs no change (as after its first sign-in)."""
        user = self.application.accounts.create_user(
            None,
            username=username,
            profile=StaffProfile(username, role, community, department),
            password=PASSWORD,
        )
        return user

    def client(self) -> TestClient:
        """A fresh browser (its own cookie jar)."""
        return TestClient(self.app, base_url="http://testserver", follow_redirects=False)


def console_world(
    directory: Path,
    embeddings: Embeddings,
    *,
    database_url: str = "",
    clock: Clock | None = None,
    **settings: Any,
) -> ConsoleWorld:
    """Services over a private copy of the starter knowledge base (the console writes to it), wired to a console."""
    knowledge = directory / "kb"
    if not knowledge.exists():
        shutil.copytree(STARTER_KNOWLEDGE, knowledge)
    services = ready_services(
        directory / "data", embeddings, knowledge_dir=knowledge, clock=clock, database_url=database_url, **settings
    )
    return ConsoleWorld(services, create_console(services))


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    """Open the sign-in page and submit it, as a browser would; the response of the POST."""
    form = client.get("/login")
    token = _LOGIN_CSRF.search(form.text)
    assert token is not None, form.text
    return client.post(
        "/login", data={"username": username, "password": password, "login_csrf": token.group(1), "next": "/"}
    )


def signed_in(world: ConsoleWorld, username: str) -> TestClient:
    """A fresh browser signed in as username (with the shared test password)."""
    client = world.client()
    assert sign_in(client, username).status_code == 303
    return client


def csrf_of(client: TestClient, path: str = "/account/password") -> str:
    """The session's CSRF token, read from a page's form."""
    found = _CSRF.search(client.get(path).text)
    assert found is not None
    return found.group(1)


ROOM_A, ROOM_B = "room-a@chatroom", "room-b@chatroom"


@contextmanager
def two_communities(kind: str, directory: Path, embeddings: Embeddings) -> Iterator[ConsoleWorld]:
    """A console over a fresh database of kind with two groups in two communities (幸福里: ROOM_A, 和平里: ROOM_B),
    an admin (chief), a cadre of each community (li, he) and a handler of 城管科 (zhao)."""
    with fresh_database(kind, directory) as url:
        built = console_world(directory, embeddings, database_url=url, clock=FakeClock())
        groups, now = built.application.groups, built.application.clock.now()
        for room, name, community in ((ROOM_A, "幸福里3号楼", "幸福里"), (ROOM_B, "和平里1号楼", "和平里")):
            groups.get_or_register(group_id=room, channel="wechat", name=name, now=now)
            groups.update(room, community=community, now=now)
        built.user("chief", Role.ADMIN)
        built.user("li", Role.CADRE, community="幸福里")
        built.user("he", Role.CADRE, community="和平里")
        built.user("zhao", Role.HANDLER, department="城管科")
        yield built
