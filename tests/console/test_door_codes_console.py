"""门牌码 through HTTP on SQLite and PostgreSQL: cadres make codes for their community and print a sheet of SVG QR
codes; the phone page (no sign-in) files a case through the petition desk with the place and the code's community,
a photo kept without EXIF; the phone follows its own cases only; refusals (CSRF, rate limits, sensitive words, a bad
photo, a switched-off code) are shown with the reason and file nothing; staff moves are shown on the page and never
queued as a message to the page's channel."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.domain.door_codes import DoorCode
from bot.domain.petitions import PAGE_CHANNEL, BoardFilter, Petition, PetitionStatus, Rating
from tests.support.console import ConsoleWorld, csrf_of, signed_in
from tests.support.photos import opened, phone_jpeg

pytestmark = pytest.mark.slow
_FORM = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_ID = re.compile(r'name="form_id" value="([^"]+)"')
_CASE = re.compile(r"/case/(\d{4}-\d{4})")


def make_codes(world: ConsoleWorld, username: str, places: str, **fields: str) -> list[DoorCode]:
    client = signed_in(world, username)
    before = {c.id for c in world.application.door_codes.listed(community=None)}
    made = client.post("/door-codes", data={"csrf_token": csrf_of(client), "places": places, **fields})
    assert made.status_code == 303, made.text
    return [c for c in world.application.door_codes.listed(community=None) if c.id not in before]


def phone_form(phone: TestClient, code: DoorCode) -> tuple[str, str]:
    page = phone.get(f"/m/{code.token}")
    assert page.status_code == 200, page.text
    token, form_id = _FORM.search(page.text), _FORM_ID.search(page.text)
    assert token is not None and form_id is not None
    return token.group(1), form_id.group(1)


def file_on_phone(client: TestClient, code: DoorCode, text: str, photo: bytes | None = None, **fields: str) -> Any:
    token, form_id = phone_form(client, code)
    files = {"photo": ("IMG_0001.jpg", photo, "image/jpeg")} if photo is not None else None
    data = {"csrf_token": token, "form_id": form_id, "text": text, **fields}
    return client.post(f"/m/{code.token}", data=data, files=files)


def case_of(world: ConsoleWorld, response: Any) -> Petition:
    assert response.status_code == 303, response.text
    found = _CASE.search(response.headers["location"])
    assert found is not None
    petition = world.application.petitions.case(found.group(1))
    assert petition is not None
    return petition


def test_cadres_make_codes_for_their_community_and_print_a_sheet_of_svg_qr_codes(world: ConsoleWorld) -> None:
    made = make_codes(world, "li", "1-3号楼", units="2")
    assert [c.place for c in made] == [f"{b}号楼{u}单元" for b in (1, 2, 3) for u in (1, 2)]
    assert {c.community for c in made} == {"幸福里"} and len({c.token for c in made}) == 6
    assert all(len(c.token) >= 20 for c in made)
    cadre = signed_in(world, "li")
    sheet = cadre.get("/door-codes/sheet", params={"first": made[0].id, "last": made[-1].id})
    assert sheet.status_code == 200 and sheet.text.count("<svg") == 6 and sheet.text.count("扫码反映问题") == 6
    assert "3号楼2单元" in sheet.text and 'href="/static/door_sheet.css"' in sheet.text
    assert "@page" in cadre.get("/static/door_sheet.css").text
    audited = world.application.audit.entries(limit=50, action="door_codes_created")
    assert any(e.target == "幸福里" and "6 个" in e.detail for e in audited)
    (odd,) = make_codes(world, "li", "<b>东门</b>")
    printed = cadre.get("/door-codes/sheet", params={"first": odd.id, "last": odd.id}).text
    assert "<b>东门" not in printed and "&lt;b&gt;东门" in printed  # staff's labels are escaped, in the SVG too
    # the QR code says the page's address: the console's own by default
    assert world.application.door_codes.link(made[0]) == f"http://127.0.0.1:8080/m/{made[0].token}"


def test_other_communities_and_handlers_cannot_see_or_switch_off_codes(world: ConsoleWorld) -> None:
    (code,) = make_codes(world, "li", "9号楼")
    other = signed_in(world, "he")
    assert "9号楼" not in other.get("/door-codes").text
    refused = other.post(f"/door-codes/{code.id}/deactivate", data={"csrf_token": csrf_of(other)})
    assert refused.status_code == 403
    handler = signed_in(world, "zhao")
    assert handler.get("/door-codes").status_code == 403
    assert "门牌码" not in handler.get("/petitions").text.split("<main>")[0]
    no_token = signed_in(world, "li").post(f"/door-codes/{code.id}/deactivate", data={})
    assert no_token.status_code == 403
    found = world.application.door_codes.get(code.id)
    assert found is not None and found.active
    admin = signed_in(world, "chief")
    made = admin.post("/door-codes", data={"csrf_token": csrf_of(admin), "places": "12-1号楼", "community": "和平里"})
    assert made.status_code == 400 and "范围不对" in made.text and "12-1号楼" in made.text


def test_a_resident_files_on_the_phone_page_with_a_photo_and_staff_of_that_community_see_it(
    world: ConsoleWorld,
) -> None:
    (code,) = make_codes(world, "he", "5号楼", units="1")
    phone = world.client()
    page = phone.get(f"/m/{code.token}")
    assert page.status_code == 200 and "5号楼1单元" in page.text and 'accept="image/*"' in page.text
    assert "qr_device" in page.headers["set-cookie"] and "httponly" in page.headers["set-cookie"].lower()
    response = file_on_phone(phone, code, "电梯坏了，停在5楼不动", phone_jpeg(), phone="138 1234 5678")
    petition = case_of(world, response)
    assert petition.location == "5号楼1单元" and petition.community == "和平里"
    assert petition.reporter.channel == PAGE_CHANNEL and petition.reporter.group_id == ""
    assert "138****5678" in petition.description and "1234" not in petition.description
    assert petition.category == "设施维修"
    thanks = phone.get(response.headers["location"])
    assert thanks.status_code == 200 and f'编号 <strong class="number">{petition.number}</strong>' in thanks.text
    assert "已登记" in thanks.text

    cadre = signed_in(world, "he")
    assert petition.number in cadre.get("/petitions").text
    case_page = cadre.get(f"/petitions/{petition.number}")
    assert case_page.status_code == 200 and "门牌码扫码" in case_page.text
    (photo_id,) = re.findall(rf"/petitions/{petition.number}/photos/(\d+)", case_page.text)[:1]
    image = cadre.get(f"/petitions/{petition.number}/photos/{photo_id}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert max(opened(image.content).size) == 1600 and b"Exif" not in image.content
    other = signed_in(world, "li")
    assert petition.number not in other.get("/petitions").text
    assert other.get(f"/petitions/{petition.number}").status_code == 403
    assert other.get(f"/petitions/{petition.number}/photos/{photo_id}").status_code == 403
    assert world.client().get(f"/petitions/{petition.number}/photos/{photo_id}").status_code == 303  # sign in


def test_only_the_phone_that_filed_a_case_can_follow_it_and_moves_are_shown_there_not_sent(
    world: ConsoleWorld,
) -> None:
    (code,) = make_codes(world, "li", "7号楼")
    phone = world.client()
    petition = case_of(world, file_on_phone(phone, code, "7号楼楼道灯不亮"))
    stranger = world.client()
    stranger.get(f"/m/{code.token}")
    for client in (stranger, world.client()):
        hidden = client.get(f"/m/{code.token}/case/{petition.number}")
        assert hidden.status_code == 404 and "只能查看用这部手机提交的诉求" in hidden.text
    cadre = signed_in(world, "li")
    token = csrf_of(cadre, "/petitions")
    steps = (("accept", "", ""), ("dispatch", "", "物业公司"), ("start", "", ""), ("resolve", "已更换灯泡", ""))
    for event, note, department in steps:
        fields = {"csrf_token": token, "event": event, "note": note, "department": department}
        moved = cadre.post(f"/petitions/{petition.number}/move", data=fields)
        assert moved.status_code == 303
    now = world.application.clock.now()
    assert not [q for q in world.application.outbox.due(now=now, limit=500) if q.message.channel == PAGE_CHANNEL]
    followed = phone.get(f"/m/{code.token}/case/{petition.number}")
    assert followed.status_code == 200 and "已办结" in followed.text and "已更换灯泡" in followed.text
    assert "已受理" in followed.text and "处理中" in followed.text and "物业公司" not in followed.text
    assert petition.number in phone.get(f"/m/{code.token}").text  # listed on the phone's page
    assert phone.get(f"/m/{code.token}/case", params={"number": petition.number}).status_code == 303

    # the resident answers on the page, as in chat: "没解决" reopens it, a rating closes it; only this phone may
    assert "办理结果您满意吗" in followed.text
    form = _FORM.search(followed.text)
    assert form is not None
    answer_path = f"/m/{code.token}/case/{petition.number}/answer"
    assert stranger.post(answer_path, data={"csrf_token": form.group(1), "verdict": "satisfied"}).status_code == 404
    assert phone.post(answer_path, data={"csrf_token": "forged", "verdict": "satisfied"}).status_code == 403
    assert phone.post(answer_path, data={"csrf_token": form.group(1), "verdict": "reopen"}).status_code == 303
    assert status_of(world, petition.number) is PetitionStatus.REOPENED
    refused = phone.post(answer_path, data={"csrf_token": form.group(1), "verdict": "satisfied"})
    assert refused.status_code == 409 and "不能" in refused.text
    for event, note in (("start", ""), ("resolve", "灯已修好")):
        fields = {"csrf_token": token, "event": event, "note": note}
        assert cadre.post(f"/petitions/{petition.number}/move", data=fields).status_code == 303
    assert phone.post(answer_path, data={"csrf_token": form.group(1), "verdict": "fair"}).status_code == 303
    closed = world.application.petitions.case(petition.number)
    assert closed is not None and closed.status is PetitionStatus.CLOSED and closed.rating is Rating.FAIR
    shown = phone.get(f"/m/{code.token}/case/{petition.number}?ok=answered").text
    assert "谢谢您的回复" in shown and "已关闭" in shown and "办理结果您满意吗" not in shown
    now = world.application.clock.now()
    assert not [q for q in world.application.outbox.due(now=now, limit=500) if q.message.channel == PAGE_CHANNEL]


def status_of(world: ConsoleWorld, number: str) -> PetitionStatus:
    found = world.application.petitions.case(number)
    assert found is not None
    return found.status


def test_refusals_are_shown_with_the_reason_and_the_text_kept_and_file_nothing(world: ConsoleWorld) -> None:
    (code,) = make_codes(world, "li", "8号楼")
    phone = world.client()
    before = all_cases(world)
    _, form_id = phone_form(phone, code)
    forged = phone.post(f"/m/{code.token}", data={"csrf_token": "x" * 64, "form_id": form_id, "text": "门口漏水"})
    assert forged.status_code == 403 and "页面已过期" in forged.text and "门口漏水" in forged.text
    gambling = file_on_phone(phone, code, "楼里有人赌 博")
    assert gambling.status_code == 400 and "不适宜" in gambling.text
    bad_photo = file_on_phone(phone, code, "门口漏水", b"this is not a picture")
    assert bad_photo.status_code == 400 and "不是能识别的图片" in bad_photo.text and "门口漏水" in bad_photo.text
    too_long = file_on_phone(phone, code, "漏" * 501)
    assert too_long.status_code == 400 and "太长" in too_long.text
    bad_phone = file_on_phone(phone, code, "门口漏水", phone="abc")
    assert bad_phone.status_code == 400 and "联系电话" in bad_phone.text
    assert all_cases(world) == before


def all_cases(world: ConsoleWorld) -> list[str]:
    return [p.number for p in world.application.petitions.board(BoardFilter(), offset=0, limit=1000)]


def test_a_resubmitted_form_files_once_and_a_phone_is_limited_per_hour(world: ConsoleWorld) -> None:
    (code,) = make_codes(world, "li", "6号楼")
    phone = world.client()
    token, form_id = phone_form(phone, code)
    data = {"csrf_token": token, "form_id": form_id, "text": "6号楼门禁坏了"}
    first, again = phone.post(f"/m/{code.token}", data=data), phone.post(f"/m/{code.token}", data=data)
    assert case_of(world, first).number == case_of(world, again).number
    for n in range(2):
        case_of(world, file_on_phone(phone, code, f"6号楼门禁又坏了{n}"))
    limited = file_on_phone(phone, code, "6号楼门禁还是坏的")
    assert limited.status_code == 400 and "一小时内最多提交 3 次" in limited.text
    world.application.clock.advance(minutes=61)  # type: ignore[attr-defined]
    case_of(world, file_on_phone(phone, code, "6号楼门禁还是坏的"))


def test_a_switched_off_code_files_nothing_but_its_cases_can_still_be_followed(world: ConsoleWorld) -> None:
    (code,) = make_codes(world, "li", "10号楼")
    phone = world.client()
    petition = case_of(world, file_on_phone(phone, code, "10号楼垃圾没人清"))
    cadre = signed_in(world, "li")
    off = cadre.post(f"/door-codes/{code.id}/deactivate", data={"csrf_token": csrf_of(cadre)})
    assert off.status_code == 303
    assert "已停用" in phone.get(f"/m/{code.token}").text
    assert phone.post(f"/m/{code.token}", data={"text": "x"}).status_code == 404
    assert phone.get(f"/m/{code.token}/case/{petition.number}").status_code == 200
    assert phone.get("/m/not-a-real-token").status_code == 404
