"""通知公告 through HTTP on SQLite and PostgreSQL, and in a real headless Chromium: a cadre composes, previews exactly
the text and the groups, sends now (one outbox row per group of their community only) or schedules; the notice page
lists each group's delivery, retries failed ones, edits and withdraws a scheduled one; handlers cannot, forms without
the CSRF token are refused, bad input is told in Chinese; the groups page sets the tags notices target."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.console.server import ConsoleServer
from bot.domain.notices import NoticeStatus
from bot.domain.outbox import OutboxStatus
from bot.domain.staff import Role
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.console.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from tests.support.console import (
    PASSWORD,
    ROOM_A,
    ROOM_B,
    ConsoleWorld,
    console_world,
    csrf_of,
    sign_in,
    two_communities,
)
from tests.support.gateway import free_port

pytestmark = pytest.mark.slow
ROOM_C = "room-c@chatroom"
TEXT = "各位居民：明天上午9点至12点，3号楼停水检修，请提前储水。"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> Iterator[ConsoleWorld]:
    directory = tmp_path_factory.mktemp(f"notices-{request.param}")
    with two_communities(request.param, directory, use_embeddings) as built:
        groups, now = built.application.groups, built.application.clock.now()
        groups.get_or_register(group_id=ROOM_C, channel="wechat", name="幸福里商户群", now=now)
        groups.update(ROOM_C, community="幸福里", now=now, tags=("商户群",))
        for room in (ROOM_A, ROOM_B, ROOM_C):
            groups.update(room, enabled=True, now=now)
        built.application.scheduler.start()
        yield built
        built.application.scheduler.shutdown()


def signed_in(world: ConsoleWorld, username: str) -> TestClient:
    client = world.client()
    assert sign_in(client, username).status_code == 303
    return client


def fields(client: TestClient, **chosen: Any) -> dict[str, Any]:
    return {"csrf_token": csrf_of(client), "title": "停水通知", "text": TEXT, "urgency": "urgent", **chosen}


def test_a_cadre_previews_then_sends_to_their_communitys_groups_only(world: ConsoleWorld) -> None:
    client = signed_in(world, "li")
    form = client.get("/notices/new")
    assert form.status_code == 200 and "幸福里商户群" in form.text and "和平里1号楼" not in form.text
    shown = client.post("/notices/preview", data=fields(client, everyone="1"))
    assert shown.status_code == 200, shown.text
    assert TEXT in shown.text and "幸福里3号楼" in shown.text and "幸福里商户群" in shown.text
    assert "和平里1号楼" not in shown.text and 'id="preview-count">2<' in shown.text
    assert world.application.outbox.counts() == {}  # a preview sends nothing
    back = client.post("/notices/compose", data=fields(client, everyone="1"))  # 返回修改: the form as typed
    assert (
        back.status_code == 200
        and TEXT in back.text
        and 'name="everyone" value="1" data-target="everyone" checked' in back.text
    )
    origin = re.search(r'name="origin" value="([^"]+)"', shown.text)
    assert origin is not None
    sent = client.post("/notices/publish", data=fields(client, everyone="1", origin=origin[1]))
    assert sent.status_code == 303, sent.text
    twice = client.post("/notices/publish", data=fields(client, everyone="1", origin=origin[1]))  # a double click
    assert twice.headers["location"].split("?")[0] == sent.headers["location"].split("?")[0]
    notice_id = int(re.findall(r"/notices/(\d+)", sent.headers["location"])[0])
    (run,) = world.application.notices.runs(notice_id, scope="幸福里")
    assert sorted(d.target for _, d in run.deliveries) == [f"wechat:group:{ROOM_A}", f"wechat:group:{ROOM_C}"]
    page = client.get(sent.headers["location"])
    assert "已排入发送队列" in page.text and page.text.count("等待发送") >= 2 and "幸福里商户群" in page.text
    # The other community's cadre neither lists nor opens it
    other = signed_in(world, "he")
    assert f"#{notice_id} " not in other.get("/notices").text
    assert other.get(f"/notices/{notice_id}").status_code == 404


def test_failed_groups_show_the_reason_and_are_retried(world: ConsoleWorld) -> None:
    client = signed_in(world, "li")
    sent = client.post("/notices/publish", data=fields(client, group_ids=[ROOM_C], urgency="routine"))
    notice_id = int(sent.headers["location"].split("/")[-1].split("?")[0])
    outbox, now = world.application.outbox, world.application.clock.now()
    from datetime import timedelta

    for entry in outbox.claim_due(now=now, limit=50, owner="t", lease=timedelta(minutes=1)):
        outbox.start_send(entry.id, "t", now=now, lease=timedelta(minutes=1))
        outbox.mark_failed(entry.id, "t", "发不出去（助手已不在群里）", retry_at=None)
    page = client.get(f"/notices/{notice_id}")
    assert "发送失败" in page.text and "助手已不在群里" in page.text and "重试失败的群（1）" in page.text
    (run,) = world.application.notices.runs(notice_id, scope="幸福里")
    retried = client.post(
        f"/notices/{notice_id}/retry", data={"csrf_token": csrf_of(client), "run_key": run.run.run_key}
    )
    assert retried.status_code == 303 and "notice_retried%3A1" in retried.headers["location"]
    (run,) = world.application.notices.runs(notice_id, scope="幸福里")
    assert run.counts.get(OutboxStatus.QUEUED) == 1


def test_a_scheduled_notice_is_edited_then_withdrawn(world: ConsoleWorld) -> None:
    client = signed_in(world, "li")
    when = {"schedule": "once", "date": "2026-12-01", "time_of_day": "08:30"}
    saved = client.post("/notices/publish", data=fields(client, tags=["商户群"], **when))
    assert saved.status_code == 303, saved.text
    notice_id = int(saved.headers["location"].split("/")[-1].split("?")[0])
    page = client.get(f"/notices/{notice_id}")
    assert "定时 2026-12-01 08:30" in page.text and "标签：商户群" in page.text and "还没有发送过" in page.text
    assert f"notice:{notice_id}" in {j.job_id for j in world.application.scheduler.jobs()}
    edit_form = client.get(f"/notices/{notice_id}/edit")
    assert 'value="2026-12-01"' in edit_form.text and 'value="立即发送"' not in edit_form.text
    weekly = {"schedule": "weekly", "time_of_day": "09:00", "weekday": "0", "notice_id": str(notice_id)}
    edited = client.post("/notices/publish", data=fields(client, tags=["商户群"], **weekly))
    assert edited.status_code == 303, edited.text
    assert "每周一 09:00" in client.get(f"/notices/{notice_id}").text
    withdrawn = client.post(f"/notices/{notice_id}/withdraw", data={"csrf_token": csrf_of(client)})
    assert withdrawn.status_code == 303
    assert f"notice:{notice_id}" not in {j.job_id for j in world.application.scheduler.jobs()}
    notice = world.application.notices.notice(notice_id, scope="幸福里")
    assert notice.status is NoticeStatus.WITHDRAWN and "已撤回" in client.get("/notices").text
    again = client.post(f"/notices/{notice_id}/withdraw", data={"csrf_token": csrf_of(client)})
    assert again.status_code == 400 and "已撤回" in again.text


def test_refusals_handlers_csrf_and_bad_input(world: ConsoleWorld) -> None:
    handler = signed_in(world, "zhao")
    assert handler.get("/notices").status_code == 403
    assert "通知公告" not in handler.get("/petitions").text
    client = signed_in(world, "li")
    before = world.application.outbox.counts()
    no_token = client.post("/notices/publish", data={"title": "x", "text": TEXT, "everyone": "1"})
    assert no_token.status_code == 403 and "表单已过期" in no_token.text and world.application.outbox.counts() == before
    for chosen, reason in [
        ({"everyone": "1", "text": "**停水**"}, "排版符号"),
        ({}, "请选择发给哪些群"),
        ({"everyone": "1", "schedule": "cron", "cron": "every morning"}, "周期“every morning”写得不对"),
        ({"everyone": "1", "schedule": "once", "date": "2020-01-01", "time_of_day": "08:00"}, "已经过去了"),
    ]:
        refused = client.post("/notices/preview", data=fields(client, **chosen))
        assert refused.status_code == 400 and reason in refused.text, refused.text
        assert "<form" in refused.text  # the form again, with what was typed
    assert client.get("/notices/99999").status_code == 404
    assert world.application.outbox.counts() == before


def test_the_groups_page_sets_tags(world: ConsoleWorld) -> None:
    admin = signed_in(world, "chief")
    saved = admin.post(
        "/groups/update",
        data={
            "csrf_token": csrf_of(admin),
            "group_id": ROOM_B,
            "enabled": "1",
            "community": "和平里",
            "keywords": "",
            "tags": "楼栋群，老年人多",
        },
    )
    assert saved.status_code == 303
    group = world.application.groups.get(ROOM_B)
    assert group is not None and group.tags == ("楼栋群", "老年人多")
    assert 'value="楼栋群,老年人多"' in admin.get("/groups").text


def test_compose_preview_and_send_in_a_browser(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> None:
    world = console_world(tmp_path, use_embeddings)
    groups, now = world.application.groups, world.application.clock.now()
    rooms = [(f"room-{n}@chatroom", f"幸福里{n}号楼", ("楼栋群",) if n < 4 else ()) for n in range(1, 6)]
    for room, name, tags in rooms:
        groups.get_or_register(group_id=room, channel="wechat", name=name, now=now)
        groups.update(room, enabled=True, community="幸福里", tags=tags, now=now)
    world.user("li", Role.CADRE, community="幸福里")
    server = ConsoleServer(world.app, host="127.0.0.1", port=free_port())
    server.start()
    try:
        page = browser.new_page()
        page.goto(f"{server.address}notices/new")
        page.fill("input[name=username]", "li")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/notices/new")
        page.fill("input[name=title]", "停水通知")
        page.fill("textarea[name=text]", TEXT)
        page.check("input[name=urgency][value=urgent]")
        assert page.inner_text("#target-count strong") == "0"
        page.check("input[name=tags][value=楼栋群]")
        assert page.inner_text("#target-count strong") == "3"  # counted live as boxes are ticked
        page.click("text=选择单个群")
        page.check("input[name=group_ids][value='room-5@chatroom']")
        assert page.inner_text("#target-count strong") == "4"
        page.screenshot(path=str(tmp_path / "compose.png"), full_page=True)
        page.click("button:has-text('预览')")
        page.wait_for_url("**/notices/preview")
        assert page.inner_text("#notice-text") == TEXT and page.inner_text("#preview-count") == "4"
        assert "幸福里4号楼" not in page.inner_text("#preview-groups")
        page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)
        page.click("button:has-text('确认立即发送')")
        page.wait_for_selector("#run-summary")
        page.screenshot(path=str(tmp_path / "notice.png"), full_page=True)
        rows = world.application.outbox.due(now=world.application.clock.now(), limit=50)
        assert sorted(q.message.group_id for q in rows) == [
            "room-1@chatroom",
            "room-2@chatroom",
            "room-3@chatroom",
            "room-5@chatroom",
        ]
        assert {q.message.text for q in rows} == {TEXT}
        table = page.inner_text("table.deliveries")
        assert table.count("等待发送") == 4 and "幸福里5号楼" in table and "幸福里4号楼" not in table
        assert "共 4 个群" in page.inner_text("#run-summary")
        page.goto(f"{server.address}notices")
        assert "停水通知" in page.inner_text(".notices") and "已发出" in page.inner_text(".notices")
        page.screenshot(path=str(tmp_path / "notices.png"), full_page=True)
    finally:
        server.stop()
