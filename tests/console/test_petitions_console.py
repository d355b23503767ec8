"""Petitions (诉求) in the console, through HTTP on SQLite and PostgreSQL: the board, the case page with its history,
moves by role (cadres their community's cases, handlers only their department's), the resident told once per move
through the outbox, one audit entry per move, reasons, refusals and CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.domain.petitions import Petition, PetitionStatus, Recognition, RecognitionKind, Reporter
from bot.domain.staff import Role
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.support.console import ROOM_A, ConsoleWorld, csrf_of, sign_in, two_communities

pytestmark = pytest.mark.slow
LI = Reporter("wechat", ROOM_A, "幸福里3号楼", "wxid_li", "李阿姨")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> Iterator[ConsoleWorld]:
    directory = tmp_path_factory.mktemp(f"petitions-console-{request.param}")
    with two_communities(request.param, directory, use_embeddings) as built:
        built.user("qian", Role.HANDLER, department="物业公司")
        yield built


def file_case(world: ConsoleWorld, text: str, origin: str, reporter: Reporter = LI) -> Petition:
    desk = world.application.petitions
    draft = desk.draft(Recognition(RecognitionKind.EXPLICIT, "设施维修", 1.0, text), reporter, origin=origin)
    filed = desk.file(draft).petition
    assert filed is not None
    return filed


def signed_in(world: ConsoleWorld, username: str) -> TestClient:
    client = world.client()
    assert sign_in(client, username).status_code == 303
    return client


def move(client: TestClient, number: str, event: str, **fields: str) -> Any:
    token = csrf_of(client, "/petitions")
    return client.post(f"/petitions/{number}/move", data={"csrf_token": token, "event": event, **fields})


def status_of(world: ConsoleWorld, number: str) -> PetitionStatus:
    found = world.application.petitions.case(number)
    assert found is not None
    return found.status


def notices(world: ConsoleWorld, number: str) -> list[str]:
    now = world.application.clock.now()
    return [q.message.text for q in world.application.outbox.due(now=now, limit=500) if number in q.message.text]


def moves_audited(world: ConsoleWorld, number: str) -> list[str]:
    entries = world.application.audit.entries(limit=500, action="petition_moved")
    return [e.detail for e in entries if e.target == number]


def test_the_board_lists_a_case_filed_through_the_desk_to_its_community_only(world: ConsoleWorld) -> None:
    filed = file_case(world, "3号楼电梯坏了，老人下不了楼", "board-1")
    cadre = signed_in(world, "li")
    board = cadre.get("/petitions")
    assert board.status_code == 200 and filed.number in board.text and "3号楼电梯坏了" in board.text
    assert '<a href="/petitions">居民诉求</a>' in board.text
    assert filed.number in cadre.get("/petitions", params={"status": "submitted", "category": "设施维修"}).text
    assert filed.number not in cadre.get("/petitions", params={"status": "closed"}).text
    page = cadre.get(f"/petitions/{filed.number}")
    assert page.status_code == 200 and "李**" in page.text and "李阿姨" not in page.text and "wxid_li" not in page.text
    assert re.search(r'name="event" value="accept"', page.text) and 'value="start"' not in page.text
    other = signed_in(world, "he")
    assert filed.number not in other.get("/petitions").text
    hidden, missing = other.get(f"/petitions/{filed.number}"), other.get("/petitions/2026-9999")
    assert hidden.status_code == missing.status_code == 403 and hidden.text == missing.text
    assert move(other, filed.number, "accept").status_code == 403
    assert filed.number in signed_in(world, "chief").get("/petitions", params={"community": "幸福里"}).text
    assert filed.number not in signed_in(world, "chief").get("/petitions", params={"community": "和平里"}).text


def test_a_cadre_accepts_and_dispatches_and_the_department_s_handler_takes_it_up(world: ConsoleWorld) -> None:
    filed = file_case(world, "5号楼楼道灯坏了", "flow-1")
    cadre = signed_in(world, "li")
    accepted = move(cadre, filed.number, "accept", note="马上安排")
    assert accepted.status_code == 303
    no_department = move(cadre, filed.number, "dispatch")
    assert no_department.status_code == 400 and "派给哪个部门" in no_department.text
    assert move(cadre, filed.number, "dispatch", department="城管科", note="请今天修").status_code == 303
    assert notices(world, filed.number)[-2:] == [
        f"您反映的“5号楼楼道灯坏了”（编号 {filed.number}）已受理，我们会尽快安排处理。",
        f"您反映的“5号楼楼道灯坏了”（编号 {filed.number}）已派给相关部门处理。",
    ]
    assert len(notices(world, filed.number)) == 2  # each move told once (filing without a receipt tells nothing)
    page = cadre.get(f"/petitions/{filed.number}").text
    assert "派给城管科：请今天修" in page and "马上安排" in page and "城管科" in page

    stranger = signed_in(world, "qian")  # another department's handler
    assert stranger.get(f"/petitions/{filed.number}").status_code == 403
    assert move(stranger, filed.number, "start").status_code == 403
    assert filed.number not in stranger.get("/").text

    handler = signed_in(world, "zhao")
    home = handler.get("/")
    assert home.status_code == 200 and filed.number in home.text and "居民诉求" in home.text
    assert move(handler, filed.number, "merge").status_code == 403
    assert move(handler, filed.number, "start", note="师傅已出发").status_code == 303
    assert move(handler, filed.number, "resolve", note="灯已换好").status_code == 303
    assert status_of(world, filed.number) is PetitionStatus.RESOLVED
    assert len(notices(world, filed.number)) == 4
    assert moves_audited(world, filed.number) == [
        "办结：灯已换好",
        "开始处理：师傅已出发",
        "派单：派给城管科：请今天修",
        "受理：马上安排",
    ]
    assert "zhao" in [e.actor for e in world.application.audit.entries(limit=50, action="petition_moved")]


def test_reject_needs_a_reason_and_a_refused_move_is_told_in_chinese(world: ConsoleWorld) -> None:
    filed = file_case(world, "3号楼门口有人乱停车", "reject-1")
    cadre = signed_in(world, "li")
    bare = move(cadre, filed.number, "reject", note="  ")
    assert bare.status_code == 400 and "不予受理要写明原因" in bare.text
    refused = move(cadre, filed.number, "resolve", note="好了")
    assert refused.status_code == 409 and "现在是“已登记”，不能办结" in refused.text
    assert move(cadre, filed.number, "expire").status_code == 403
    assert move(cadre, filed.number, "fly").status_code == 400
    assert notices(world, filed.number) == [] and moves_audited(world, filed.number) == []
    assert move(cadre, filed.number, "reject", note="不属于社区管理范围").status_code == 303
    assert notices(world, filed.number) == [
        f"您反映的“3号楼门口有人乱停车”（编号 {filed.number}）不予受理，原因：不属于社区管理范围。"
    ]
    assert moves_audited(world, filed.number) == ["不予受理：不属于社区管理范围"]
    assert 'name="event"' not in cadre.get(f"/petitions/{filed.number}").text  # nothing more to do


def test_moves_need_the_session_csrf_token(world: ConsoleWorld) -> None:
    filed = file_case(world, "2号楼水管漏水", "csrf-1")
    cadre = signed_in(world, "li")
    for data in ({"event": "accept"}, {"event": "accept", "csrf_token": "guess"}):
        response = cadre.post(f"/petitions/{filed.number}/move", data=data)
        assert response.status_code == 403 and "表单已过期" in response.text
    assert status_of(world, filed.number) is PetitionStatus.SUBMITTED
