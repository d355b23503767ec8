"""Petition routing in the console, through HTTP on SQLite and PostgreSQL: the routing page (cadres and admins edit
each category's department and deadlines and the departments directory; handlers are refused), the dispatch form
filled with the category's department, the board's "只看超期" and department filters with due dates and badges, and
a case page showing its escalation (吹哨) and who was notified."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.domain.petitions import Petition, Recognition, RecognitionKind, Reporter
from bot.domain.routing import WECOM_CHANNEL
from bot.domain.staff import ASSISTANT, Role
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.support.clock import FakeClock
from tests.support.console import ROOM_A, ConsoleWorld, csrf_of, sign_in, two_communities

pytestmark = pytest.mark.slow
LI = Reporter("wechat", ROOM_A, "幸福里3号楼", "wxid_li", "李阿姨")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> Iterator[ConsoleWorld]:
    directory = tmp_path_factory.mktemp(f"routing-console-{request.param}")
    with two_communities(request.param, directory, use_embeddings) as built:
        built.user("wu", Role.HANDLER, department="物业")
        yield built


def file_case(world: ConsoleWorld, text: str, origin: str, category: str = "设施维修") -> Petition:
    desk = world.application.petitions
    draft = desk.draft(Recognition(RecognitionKind.EXPLICIT, category, 1.0, text), LI, origin=origin)
    filed = desk.file(draft).petition
    assert filed is not None
    return filed


def signed_in(world: ConsoleWorld, username: str) -> TestClient:
    client = world.client()
    assert sign_in(client, username).status_code == 303
    return client


def post(client: TestClient, path: str, **fields: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_of(client, "/petitions"), **fields})


def test_cadres_edit_routes_and_departments_and_handlers_are_refused(world: ConsoleWorld) -> None:
    handler = signed_in(world, "wu")
    assert handler.get("/petitions/routing").status_code == 403
    assert "派单设置" not in handler.get("/petitions").text
    refused = post(handler, "/petitions/routing/route", category="设施维修", department="x", deadline_hours="1")
    assert refused.status_code == 403

    cadre = signed_in(world, "li")
    page = cadre.get("/petitions/routing")
    assert page.status_code == 200 and "设施维修" in page.text and 'value="物业"' in page.text
    assert 'value="72"' in page.text and "默认" in page.text
    saved = post(
        cadre,
        "/petitions/routing/route",
        category="噪音扰民",
        department="城管科",
        deadline_hours="48",
        urgent_deadline_hours="12",
    )
    assert saved.status_code == 303
    assert world.application.routing.default_department("噪音扰民") == "城管科"
    assert "li 修改于" in cadre.get("/petitions/routing").text
    bad = post(
        cadre,
        "/petitions/routing/route",
        category="噪音扰民",
        department="城管科",
        deadline_hours="12",
        urgent_deadline_hours="48",
    )
    assert bad.status_code == 400 and "紧急诉求的期限不能比一般诉求长" in bad.text
    assert post(cadre, "/petitions/routing/route", category="噪音扰民", reset="1").status_code == 303
    assert world.application.routing.default_department("噪音扰民") == "网格员"

    added = post(
        cadre,
        "/petitions/routing/department",
        name="物业",
        wechat_group_id="wy-room",
        wecom_key="wy-robot-key",
    )
    assert added.status_code == 303
    listed = cadre.get("/petitions/routing").text
    assert "wy-robot-key" not in listed and "已设置，留空不变" in listed  # the robot key is never shown
    kept = post(cadre, "/petitions/routing/department", name="物业", wechat_group_id="wy-room2", keep_key="1")
    assert kept.status_code == 303
    found = world.application.routing.departments()
    assert [(d.name, d.wechat_group_id, d.wecom_key) for d in found] == [("物业", "wy-room2", "wy-robot-key")]
    spaced = post(cadre, "/petitions/routing/department", name="街道", wechat_group_id="a b")
    assert spaced.status_code == 400 and "不能有空格" in spaced.text
    audited = [e.action for e in world.application.audit.entries(limit=50) if e.actor == "li"]
    assert {"route_edited", "department_saved"} <= set(audited)


def test_the_dispatch_form_is_filled_with_the_category_s_department_which_is_told(world: ConsoleWorld) -> None:
    application = world.application
    application.routing.save_department("物业", "wy-room", "wy-robot-key", street_office=False, actor=ASSISTANT)
    filed = file_case(world, "6号楼水管爆了", "dispatch-1")
    cadre = signed_in(world, "li")
    assert post(cadre, f"/petitions/{filed.number}/move", event="accept").status_code == 303
    page = cadre.get(f"/petitions/{filed.number}").text
    assert 'name="department" maxlength="64" required value="物业"' in page
    assert "办结期限" in page
    assert post(cadre, f"/petitions/{filed.number}/move", event="dispatch", department="物业").status_code == 303
    now = application.clock.now()
    told = [
        q.message for q in application.outbox.due(now=now, limit=500) if f"【派单 {filed.number}】" in q.message.text
    ]
    assert sorted((m.channel, m.group_id) for m in told) == [("wechat", "wy-room"), (WECOM_CHANNEL, "wy-robot-key")]
    handler = signed_in(world, "wu")
    assert filed.number in handler.get("/petitions").text


def test_the_board_filters_overdue_and_by_department_and_the_case_page_shows_the_escalation(
    world: ConsoleWorld,
) -> None:
    application = world.application
    clock = application.clock
    assert isinstance(clock, FakeClock)
    application.routing.save_department("街道办", "street-room", "", street_office=True, actor=ASSISTANT)
    late = file_case(world, "8号楼外墙瓷砖掉落", "late-1", category="安全隐患")  # 24 hours
    fresh = file_case(world, "9号楼建议加装长椅", "fresh-1", category="其他")  # 120 hours
    cadre = signed_in(world, "li")
    assert post(cadre, f"/petitions/{late.number}/move", event="accept").status_code == 303
    assert post(cadre, f"/petitions/{late.number}/move", event="dispatch", department="社区安全员").status_code == 303
    clock.advance(hours=25)
    try:
        cadre = signed_in(world, "li")  # the session of a day ago has ended
        overdue = cadre.get("/petitions", params={"overdue": "1"}).text
        assert late.number in overdue and fresh.number not in overdue and "超期" in overdue
        everything = cadre.get("/petitions").text
        assert late.number in everything and fresh.number in everything and "前办结" in everything
        by_department = cadre.get("/petitions", params={"department": "社区安全员"}).text
        assert late.number in by_department and fresh.number not in by_department

        bare = post(cadre, f"/petitions/{late.number}/move", event="escalate", note=" ")
        assert bare.status_code == 400 and "吹哨要写明原因" in bare.text
        whistled = post(cadre, f"/petitions/{late.number}/move", event="escalate", note="需要住建部门一起处理")
        assert whistled.status_code == 303 and "petition_escalated" in whistled.headers["location"]
        page = cadre.get(f"/petitions/{late.number}").text
        assert "已吹哨" in page and "需要住建部门一起处理；已通知：街道办（微信群“street-room”）" in page
        assert "已吹哨" in cadre.get("/petitions").text
        now = clock.now()
        texts = [q.message for q in application.outbox.due(now=now, limit=500) if late.number in q.message.text]
        assert [m.group_id for m in texts if m.text.startswith("【吹哨")] == ["street-room"]
        assert not any("街道" in m.text for m in texts if m.group_id == ROOM_A)  # the resident is not told
    finally:
        clock.advance(hours=-25)
