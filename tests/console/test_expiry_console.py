"""到期提醒 through HTTP on SQLite and PostgreSQL, and in a real browser at desktop width: cadres keep their
community's register (add, list by due date with filters, edit, renew, retire), import a GBK CSV or an XLSX sheet
and see the summary with each bad row's reason; other communities and handlers see nothing; every change is
audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.console.server import ConsoleServer
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.tables import read_table
from tests.console.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from tests.support.console import PASSWORD, ConsoleWorld, csrf_of, signed_in, two_communities
from tests.support.gateway import free_port
from tests.support.sheets import csv_as_xlsx

pytestmark = pytest.mark.slow
SHEET = (
    "类型,名称,责任人/单位,联系人,联系电话,到期日期\r\n"
    "健康证,张记面馆 王某健康证,张记面馆,王某,13800138000,2026/12/1\r\n"
    "灭火器,3号楼2单元灭火器,3号楼,李师傅,,2026年11月20日\r\n"
    "电梯年检,5号楼电梯,物业,赵经理,,2026-13-01\r\n"
)


def add(client: TestClient, **fields: str) -> Any:
    return client.post("/expiry", data={"csrf_token": csrf_of(client), **fields})


def test_cadres_keep_their_communitys_register_and_others_see_nothing(world: ConsoleWorld) -> None:
    li = signed_in(world, "li")
    made = add(
        li,
        kind="健康证",
        what="刘记早点 刘某健康证",
        owner="刘记早点",
        contact="刘某",
        phone="139 0013 9000",
        due="2026-12-20",
    )
    assert made.status_code == 303 and "ok=expiry_added" in made.headers["location"]
    add(li, kind="电梯年检", what="9号楼电梯", owner="物业", due="2026-11-26")
    listed = li.get("/expiry").text
    assert "到期提醒" in listed.split("<main>")[0]
    assert listed.index("9号楼电梯") < listed.index("刘某健康证")  # earliest due first
    assert "还有 2 天到期" in listed and "13900139000" in listed
    soon = li.get("/expiry", params={"standing": "soon", "kind": "电梯年检"}).text
    assert "9号楼电梯" in soon and "刘某健康证" not in soon
    bad = add(li, kind="健康证", what="孙某健康证", due="2026-02-30")
    assert bad.status_code == 400 and "到期日期“2026-02-30”无法识别" in bad.text and "孙某健康证" in bad.text
    item = next(i.item for i in world.application.expiry.listed(community="幸福里") if i.item.what == "9号楼电梯")
    other = signed_in(world, "he")
    assert "9号楼电梯" not in other.get("/expiry").text
    assert other.get(f"/expiry/{item.id}").status_code == 403
    refused = other.post(f"/expiry/{item.id}/retire", data={"csrf_token": csrf_of(other)})
    assert refused.status_code == 403
    assert signed_in(world, "zhao").get("/expiry").status_code == 403
    assert li.post(f"/expiry/{item.id}/retire", data={}).status_code == 403  # no CSRF token
    renewed = li.post(f"/expiry/{item.id}/renew", data={"csrf_token": csrf_of(li), "due": "2027-11-26"})
    assert renewed.status_code == 303
    assert "9号楼电梯" in li.get("/expiry", params={"standing": "renewed"}).text
    page = li.get(f"/expiry/{item.id}").text
    assert 'value="2027-11-26"' in page
    form = {"csrf_token": csrf_of(li), "kind": "电梯年检", "what": "9号楼1号电梯", "owner": "物业", "due": "2027-11-26"}
    wrong = li.post(f"/expiry/{item.id}", data={**form, "phone": "12345"})
    assert wrong.status_code == 400 and "联系电话格式不对" in wrong.text and 'value="9号楼1号电梯"' in wrong.text
    assert li.post(f"/expiry/{item.id}", data={**form, "phone": "0755-86001234"}).status_code == 303
    edited = world.application.expiry.get(item.id)
    assert edited is not None and (edited.what, edited.phone) == ("9号楼1号电梯", "075586001234")
    retired = li.post(f"/expiry/{item.id}/retire", data={"csrf_token": csrf_of(li)})
    assert retired.status_code == 303 and "9号楼1号电梯" not in li.get("/expiry").text
    actions = {e.action for e in world.application.audit.entries(limit=50) if e.target == "幸福里"}
    assert {"expiry_item_added", "expiry_item_renewed", "expiry_item_updated", "expiry_item_retired"} <= actions
    admin = signed_in(world, "chief")
    assert "9号楼1号电梯" in admin.get("/expiry", params={"standing": "retired", "community": "幸福里"}).text


def test_an_import_shows_its_summary_and_each_bad_row_and_a_reimport_updates(world: ConsoleWorld) -> None:
    he = signed_in(world, "he")
    files = {"file": ("消防登记.csv", SHEET.encode("gbk"), "text/csv")}
    result = he.post("/expiry/import", data={"csrf_token": csrf_of(he), "kind": "其他"}, files=files)
    assert result.status_code == 200
    assert "新增 2 项，更新 0 项，未变 0 项，1 行未导入" in result.text
    assert "第 4 行：到期日期“2026-13-01”无法识别" in result.text
    fixed = SHEET.replace("2026-13-01", "2027-03-01").replace("2026/12/1", "2027/12/1")
    files = {"file": ("消防登记.xlsx", csv_as_xlsx(fixed), "application/octet-stream")}
    again = he.post("/expiry/import", data={"csrf_token": csrf_of(he), "kind": "其他"}, files=files)
    assert "新增 1 项，更新 1 项，未变 1 项" in again.text and "未导入" not in again.text
    names = [i.item.what for i in world.application.expiry.listed(community="和平里")]
    assert sorted(names) == ["3号楼2单元灭火器", "5号楼电梯", "张记面馆 王某健康证"]
    exported = he.get("/expiry/export.xlsx")
    assert exported.status_code == 200 and "filename*=utf-8''" in exported.headers["content-disposition"]
    rows = read_table(exported.content, "export.xlsx")
    assert rows[0] == ["类型", "名称", "责任人/单位", "联系人", "联系电话", "到期日期", "备注", "状态"]
    assert ["健康证", "张记面馆 王某健康证", "张记面馆", "王某", "13800138000", "2027-12-01 00:00:00"] in [
        r[:6] for r in rows
    ]
    files = {"file": ("到期登记.xlsx", exported.content, "application/octet-stream")}
    round_trip = he.post("/expiry/import", data={"csrf_token": csrf_of(he), "kind": "其他"}, files=files)
    assert "新增 0 项，更新 0 项，未变 3 项" in round_trip.text  # an export imports again as it is
    broken = he.post(
        "/expiry/import", data={"csrf_token": csrf_of(he)}, files={"file": ("a.xls", b"\xd0\xcf\x11\xe0", "x")}
    )
    assert broken.status_code == 400 and "另存为" in broken.text
    audited = world.application.audit.entries(limit=50, action="expiry_imported")
    assert any(e.target == "和平里" and "新增 2 项" in e.detail for e in audited)
    assert world.application.audit.entries(limit=50, action="expiry_exported")[0].detail == "3 项"


def test_list_and_import_in_a_browser_at_desktop_width(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> None:
    with two_communities("sqlite", tmp_path, use_embeddings) as built:
        server = ConsoleServer(built.app, host="127.0.0.1", port=free_port())
        server.start()
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(server.address + "login")
            page.fill("input[name=username]", "li")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.click("nav >> text=到期提醒")
            page.wait_for_url("**/expiry")
            sheet = tmp_path / "登记表.csv"
            sheet.write_bytes(SHEET.encode("gbk"))
            page.set_input_files("input[name=file]", str(sheet))
            page.click("text=导入 >> nth=-1")
            page.wait_for_selector("#import-result")
            summary = page.inner_text("#import-result")
            assert "新增 2 项" in summary and "第 4 行：到期日期“2026-13-01”无法识别" in summary
            rows = page.locator("#expiry-items li")
            assert rows.count() == 2
            assert "3号楼2单元灭火器" in rows.nth(0).inner_text()  # due first
            assert "已过期 4 天" in rows.nth(0).inner_text() and "还有 7 天到期" in rows.nth(1).inner_text()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1366  # nothing spills sideways at desktop width
            page.select_option("select[name=kind] >> nth=0", "健康证")
            page.click("text=筛选")
            page.wait_for_url("**kind=*")
            assert page.locator("#expiry-items li").count() == 1
            page.close()
        finally:
            server.stop()
