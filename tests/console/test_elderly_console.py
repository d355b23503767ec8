"""高龄提醒 through HTTP on SQLite and PostgreSQL: a cadre imports and edits their community's register (phones masked
in the list, whole on the form only), another community's cadre and handlers cannot see it, edits are audited; and in
a real headless Chromium at desktop width a cadre imports a spreadsheet and reads the result and the list."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.console.server import ConsoleServer
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.storage.elderly import SqlElderlyRegister
from tests.console.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from tests.support.console import PASSWORD, ConsoleWorld, csrf_of, sign_in, signed_in, two_communities
from tests.support.gateway import free_port
from tests.support.sheets import xlsx_bytes

pytestmark = pytest.mark.slow
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DESKTOP = {"viewport": {"width": 1366, "height": 900}}


def register_xlsx() -> bytes:
    return xlsx_bytes(
        [
            ["姓名", "出生年月", "家属/联系人", "联系电话", "身份证号"],
            ["张三", datetime(1946, 12, 1), "李四", "13812345678", "110101194612011234"],
            ["王五", "1947年1月"],
            ["赵六", "1946-13", "赵小六"],
        ]
    )


def imported(client: TestClient, data: bytes, **fields: str) -> Any:
    files = {"file": ("高龄名单.xlsx", data, XLSX)}
    return client.post("/elderly/import", data={"csrf_token": csrf_of(client), **fields}, files=files)


def resident_id(world: ConsoleWorld, name: str) -> int:
    (found,) = [r for r in world.application.elderly.listed(community=None) if r.name == name]
    return found.id


def test_a_cadre_imports_their_register_and_sees_phones_masked(world: ConsoleWorld) -> None:
    li = signed_in(world, "li")
    page = imported(li, register_xlsx())
    assert page.status_code == 200, page.text
    assert "新增 2 人，更新 0 人，未变 0 人；1 行没有导入；这些列不需要，已忽略、没有保存：身份证号。" in page.text
    assert "第 4 行：出生年月“1946-13”的月份不对（应为 1 到 12）" in page.text
    listed = li.get("/elderly").text
    assert "张三" in listed and "1946年12月" in listed and "138****5678" in listed and "13812345678" not in listed
    assert {r.community for r in world.application.elderly.listed(community=None)} == {"幸福里"}
    again = imported(li, register_xlsx())
    assert "新增 0 人，更新 0 人，未变 2 人" in again.text
    assert 'href="/elderly"' in li.get("/").text


def test_another_community_and_handlers_cannot_see_the_register(world: ConsoleWorld) -> None:
    zhang = resident_id(world, "张三")
    he = signed_in(world, "he")
    assert "张三" not in he.get("/elderly").text
    assert he.get(f"/elderly/{zhang}").status_code == 403
    assert he.post(f"/elderly/{zhang}/delete", data={"csrf_token": csrf_of(he)}).status_code == 403
    zhao = signed_in(world, "zhao")
    assert zhao.get("/elderly").status_code == 403
    assert 'href="/elderly"' not in zhao.get("/petitions").text
    chief = signed_in(world, "chief")
    assert "张三" in chief.get("/elderly").text and "张三" not in chief.get("/elderly?community=和平里").text


def test_the_edit_form_shows_the_whole_phone_and_edits_are_audited(world: ConsoleWorld) -> None:
    li = signed_in(world, "li")
    zhang = resident_id(world, "张三")
    form = li.get(f"/elderly/{zhang}")
    assert form.status_code == 200 and 'value="13812345678"' in form.text
    fields = {"name": "张三", "born": "1946-12", "contact_name": "李小四", "contact_phone": "139 0000 1111"}
    assert li.post(f"/elderly/{zhang}", data=fields).status_code == 403  # no CSRF token
    saved = li.post(f"/elderly/{zhang}", data={"csrf_token": csrf_of(li), **fields})
    assert saved.status_code == 303
    assert "139****1111" in li.get("/elderly").text
    wrong = li.post(f"/elderly/{zhang}", data={"csrf_token": csrf_of(li), **fields, "contact_phone": "010-1234"})
    assert wrong.status_code == 400 and "11 位手机号" in wrong.text
    added = li.post(
        "/elderly",
        data={"csrf_token": csrf_of(li), "name": "孙七", "born": "194003", "contact_name": "", "contact_phone": ""},
    )
    assert added.status_code == 303
    twice = li.post("/elderly", data={"csrf_token": csrf_of(li), "name": "孙七", "born": "1940-03"})
    assert twice.status_code == 400 and "已经有同名、同出生年月" in twice.text
    gone = li.post(f"/elderly/{resident_id(world, '孙七')}/delete", data={"csrf_token": csrf_of(li)})
    assert gone.status_code == 303 and "孙七" not in li.get("/elderly").text
    actions = [e.action for e in world.application.audit.entries(limit=50) if e.action.startswith("elderly_")]
    assert actions[:3] == ["elderly_deleted", "elderly_added", "elderly_updated"]
    audited = " ".join(e.detail for e in world.application.audit.entries(limit=50))
    assert "13900001111" not in audited and "13812345678" not in audited


def test_an_admin_imports_into_a_chosen_community(world: ConsoleWorld) -> None:
    chief = signed_in(world, "chief")
    data = "姓名,出生年月\n吴十,1946-12\n".encode("gbk")
    files = {"file": ("名单.csv", data, "text/csv")}
    page = chief.post("/elderly/import", data={"csrf_token": csrf_of(chief), "community": "和平里"}, files=files)
    assert page.status_code == 200 and "新增 1 人" in page.text
    assert "吴十" in signed_in(world, "he").get("/elderly").text
    refused = chief.post(
        "/elderly/import",
        data={"csrf_token": csrf_of(chief), "community": "和平里"},
        files={"file": ("名单.xls", b"\xd0\xcf\x11\xe0", "application/vnd.ms-excel")},
    )
    assert refused.status_code == 400 and "没有导入：不支持的表格类型 .xls" in refused.text


def test_a_cadre_imports_in_the_browser_at_desktop_width(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> None:
    with two_communities("sqlite", tmp_path, use_embeddings) as world:
        server = ConsoleServer(world.app, host="127.0.0.1", port=free_port())
        server.start()
        try:
            page = browser.new_context(**DESKTOP).new_page()
            page.goto(f"{server.address}elderly")
            page.fill("input[name=username]", "li")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/elderly")
            page.click("text=高龄提醒")
            page.set_input_files(
                "input[name=file]", files=[{"name": "高龄名单.xlsx", "mimeType": XLSX, "buffer": register_xlsx()}]
            )
            page.click("form[action='/elderly/import'] button[type=submit]")
            page.wait_for_selector(".summary")
            assert "新增 2 人" in page.inner_text(".summary")
            assert "第 4 行" in page.inner_text(".summary .problems")
            rows = page.inner_text("table.register tbody")
            assert re.search(r"张三\s+1946年12月\s+李四\s+138\*\*\*\*5678", rows), rows
            assert "13812345678" not in page.content()
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
            page.screenshot(path=str(tmp_path / "elderly-import.png"), full_page=True)
            page.click("table.register >> text=修改")
            page.wait_for_url("**/elderly/*")
            assert page.input_value("input[name=contact_phone]") == "13812345678"
        finally:
            server.stop()


def test_an_unexpected_failure_is_logged_with_phones_masked(
    world: ConsoleWorld, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("INSERT INTO elderly_residents … ('周九', '13812349999')")

    monkeypatch.setattr(SqlElderlyRegister, "add", broken)
    li = TestClient(world.app, base_url="http://testserver", follow_redirects=False, raise_server_exceptions=False)
    assert sign_in(li, "li").status_code == 303
    fields = {"csrf_token": csrf_of(li), "name": "周九", "born": "1946-12", "contact_phone": "13812349999"}
    with caplog.at_level(logging.ERROR):
        failed = li.post("/elderly", data=fields)
    assert failed.status_code == 500 and "服务器出错了" in failed.text
    assert "138****9999" in caplog.text and "13812349999" not in caplog.text
