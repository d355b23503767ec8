"""Uploads and broken files through the console over real services and HTTP: bounded parsing off the event loop,
one community rule for replacing files, and damaged files reported instead of failing pages."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.console.server import ConsoleServer
from bot.domain.staff import Role
from bot.rag import loaders
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.support.clock import FakeClock
from tests.support.console import ConsoleWorld, console_world, csrf_of, sign_in
from tests.support.knowledge_files import FAQ_HEADER, FIRE_ROWS, rewrite_xlsx_sheet, write_faq_csv, write_faq_xlsx

pytestmark = pytest.mark.slow
HEADER = [*FAQ_HEADER, "community"]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> Iterator[ConsoleWorld]:
    directory = tmp_path_factory.mktemp("uploads")
    built = console_world(directory, use_embeddings, clock=FakeClock())
    built.user("chief", Role.ADMIN)
    built.user("li", Role.CADRE, community="幸福里")
    built.user("he", Role.CADRE, community="和平里")
    yield built


def _signed_in(world: ConsoleWorld, username: str) -> Any:
    client = world.client()
    sign_in(client, username)
    return client


def _upload(client: Any, name: str, data: bytes) -> Any:
    return client.post("/knowledge/upload", data={"csrf_token": csrf_of(client)}, files={"file": (name, data)})


def _sheet_cut_in_half(path: Path) -> Path:
    return rewrite_xlsx_sheet(path, lambda xml: xml[: len(xml) // 2])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_console_serves_other_requests_while_an_upload_is_parsed(
    world: ConsoleWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()
    server = ConsoleServer(world.app, host="127.0.0.1", port=port)
    server.start()
    parsing, release = threading.Event(), threading.Event()
    read_text = loaders._READERS[".txt"]

    def slow_reader(*args: Any) -> Any:  # an upload whose parsing takes as long as the test wants
        parsing.set()
        release.wait(120)
        return read_text(*args)

    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False, timeout=60) as uploader:
            sign_in(uploader, "li")  # type: ignore[arg-type]
            token = csrf_of(uploader)  # type: ignore[arg-type]
            monkeypatch.setitem(loaders._READERS, ".txt", slow_reader)
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = pool.submit(
                    uploader.post,
                    "/knowledge/upload",
                    data={"csrf_token": token},
                    files={"file": ("停车须知.txt", "停车须知\n\n小区内请按车位停放（示例）。".encode())},
                )
                assert parsing.wait(60), "the upload never reached the parser"
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as neighbour:
                    assert neighbour.get("/login").status_code == 200  # served while the upload is still parsing
                assert not pending.done()
                release.set()
                assert pending.result(timeout=60).status_code == 303
    finally:
        release.set()
        server.stop()
    assert (world.application.settings.knowledge_dir / "docs" / "停车须知.txt").exists()


def test_a_cadre_cannot_replace_another_communitys_faq_table(world: ConsoleWorld) -> None:
    kb = world.application.settings.knowledge_dir
    row = [
        "faq-heping-parking",
        "和平里停车证怎么办？",
        "",
        "到和平里物业办理停车证（示例）。",
        "停车",
        "和平里物业",
        "",
    ]
    table = write_faq_csv(kb / "faq" / "heping-parking.csv", [[*row, "和平里"]], header=HEADER)
    before = table.read_bytes()
    forged = write_faq_csv(
        kb.parent / "forged.csv", [[*row[:3], "停车随便停，不用办证。", *row[4:], ""]], header=HEADER
    ).read_bytes()

    refused = _upload(_signed_in(world, "li"), "heping-parking.csv", forged)
    assert refused.status_code == 403 and "其他社区" in refused.text
    assert table.read_bytes() == before

    claiming = write_faq_csv(kb.parent / "claiming.csv", [[*row, "和平里"]], header=HEADER).read_bytes()
    theirs = _upload(_signed_in(world, "li"), "new-heping.csv", claiming)
    assert theirs.status_code == 403 and "其他社区" in theirs.text
    assert not (kb / "faq" / "new-heping.csv").exists()

    assert _upload(_signed_in(world, "he"), "heping-parking.csv", claiming).status_code == 303
    assert _upload(_signed_in(world, "chief"), "heping-parking.csv", before).status_code == 303


def test_a_cadres_new_table_belongs_to_their_community(world: ConsoleWorld) -> None:
    kb = world.application.settings.knowledge_dir
    row = ["faq-xingfu-bikes", "幸福里自行车棚在哪？", "", "在3号楼北侧（示例）。", "停车", "幸福里物业", "2026-10-01"]
    data = write_faq_csv(kb.parent / "bikes.csv", [row]).read_bytes()
    assert _upload(_signed_in(world, "li"), "xingfu-bikes.csv", data).status_code == 303
    (entry,) = loaders.load_knowledge_file(kb / "faq" / "xingfu-bikes.csv", "faq/xingfu-bikes.csv")
    assert entry.community == "幸福里"
    assert _upload(_signed_in(world, "he"), "xingfu-bikes.csv", data).status_code == 403


def test_a_truncated_xlsx_in_the_knowledge_base_leaves_every_page_working(world: ConsoleWorld) -> None:
    kb = world.application.settings.knowledge_dir
    broken = _sheet_cut_in_half(write_faq_xlsx(kb / "faq" / "cut-short.xlsx", FIRE_ROWS))
    try:
        for username in ("chief", "li"):
            client = _signed_in(world, username)
            for path in ("/", "/questions", "/knowledge"):
                assert client.get(path).status_code == 200, (username, path)
            page = client.get("/knowledge").text
            assert "faq/cut-short.xlsx" in page and "不是有效的 Excel" in page
    finally:
        broken.unlink()


def test_uploading_a_truncated_xlsx_is_refused_in_chinese(world: ConsoleWorld, tmp_path: Path) -> None:
    whole = write_faq_xlsx(tmp_path / "whole.xlsx", FIRE_ROWS).read_bytes()
    client = _signed_in(world, "li")
    for data in (whole[: len(whole) // 2], _sheet_cut_in_half(tmp_path / "whole.xlsx").read_bytes()):
        response = _upload(client, "cut-upload.xlsx", data)
        assert response.status_code == 400 and "不是有效的 Excel" in response.text
    assert not (world.application.settings.knowledge_dir / "faq" / "cut-upload.xlsx").exists()


def test_a_300_character_file_name_is_refused_in_chinese(world: ConsoleWorld) -> None:
    response = _upload(_signed_in(world, "li"), "长" * 296 + ".txt", "标题\n\n正文。".encode())
    assert response.status_code == 400 and "文件名太长" in response.text


def test_stopping_a_reindex_when_none_runs_says_so(world: ConsoleWorld) -> None:
    client = _signed_in(world, "li")
    response = client.post("/knowledge/reindex/cancel", data={"csrf_token": csrf_of(client)})
    assert response.status_code == 303 and "ok=reindex_idle" in response.headers["location"]
    assert "现在没有正在进行的导入" in client.get(response.headers["location"]).text
