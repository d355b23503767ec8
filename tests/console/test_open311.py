"""Open311 GeoReport v2 as an outside system (a city platform, the 12345 hotline) sees it: the console served by
uvicorn on a loopback port, spoken to over real HTTP with httpx and parsed with xml.etree — discovery, services, a
request posted with a key an admin issued in the console and read back in JSON and XML, the spec's errors, the
filters, the statuses after staff moves and mySociety's updates; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.console.server import ConsoleServer
from bot.domain.petitions import Petition, Recognition, RecognitionKind, Reporter
from bot.domain.photos import PhotoSource
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.support.clock import FakeClock
from tests.support.console import ROOM_A, ROOM_B, ConsoleWorld, csrf_of, sign_in, two_communities
from tests.support.gateway import free_port
from tests.support.photos import opened, phone_jpeg

pytestmark = pytest.mark.slow
LI = Reporter("wechat", ROOM_A, "幸福里3号楼", "wxid_li", "李阿姨")
HE = Reporter("wechat", ROOM_B, "和平里1号楼", "wxid_he", "何大爷")
_SECRET = re.compile(r'<code class="secret">([^<]+)</code>')


@dataclass
class Remote:
    """The console's world, the API's base URL and a key an admin issued for the city platform."""

    world: ConsoleWorld
    base: str
    key: str

    def get(self, path: str, **params: str) -> httpx.Response:
        """GET path under /open311/v2/ as an outside client."""
        return httpx.get(f"{self.base}/{path}", params=params, timeout=30)

    def post(self, fmt: str, **fields: str) -> httpx.Response:
        """POST a service request, form-urlencoded."""
        return httpx.post(f"{self.base}/requests.{fmt}", data=fields, timeout=30)

    def filed(self, **fields: str) -> str:
        """Post a valid request with the key (JSON) and return its service_request_id."""
        form = {"api_key": self.key, "service_code": "facility_repair", "address_string": "3号楼2单元", **fields}
        answer = self.post("json", **form)
        assert answer.status_code == 200, answer.text
        return str(answer.json()[0]["service_request_id"])

    @property
    def clock(self) -> FakeClock:
        """The world's hand-moved clock."""
        clock = self.world.application.clock
        assert isinstance(clock, FakeClock)
        return clock


def issue_key(world: ConsoleWorld, name: str, community: str = "") -> str:
    """An admin issues a key on the console page; the secret is read off the page, shown once."""
    admin = world.client()
    assert sign_in(admin, "chief").status_code == 303
    page = admin.post(
        "/api-keys", data={"csrf_token": csrf_of(admin, "/api-keys"), "name": name, "community": community}
    )
    assert page.status_code == 200, page.text
    found = _SECRET.search(page.text)
    assert found is not None
    return found.group(1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def remote(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> Iterator[Remote]:
    directory = tmp_path_factory.mktemp(f"open311-{request.param}")
    with two_communities(request.param, directory, use_embeddings) as world:
        port = free_port()
        server = ConsoleServer(world.app, host="127.0.0.1", port=port)
        server.start()  # returns once uvicorn says it is serving
        try:
            yield Remote(world, f"http://127.0.0.1:{port}/open311/v2", issue_key(world, "市12345平台"))
        finally:
            server.stop()


def xml_of(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml"), response.text
    return ET.fromstring(response.content)


def errors_of(response: httpx.Response) -> list[tuple[str, str]]:
    """The spec's error list, in whichever format came back."""
    if response.headers["content-type"].startswith("application/json"):
        return [(str(e["code"]), e["description"]) for e in response.json()]
    root = xml_of(response)
    assert root.tag == "errors"
    return [(e.findtext("code") or "", e.findtext("description") or "") for e in root.findall("error")]


def file_case(world: ConsoleWorld, text: str, origin: str, reporter: Reporter = LI) -> Petition:
    desk = world.application.petitions
    draft = desk.draft(Recognition(RecognitionKind.EXPLICIT, "环境卫生", 1.0, text), reporter, origin=origin)
    filed = desk.file(draft).petition
    assert filed is not None
    return filed


def staff_move(world: ConsoleWorld, number: str, event: str, **fields: str) -> None:
    cadre = world.client()
    assert sign_in(cadre, "li").status_code == 303
    token = csrf_of(cadre, "/petitions")
    moved = cadre.post(f"/petitions/{number}/move", data={"csrf_token": token, "event": event, **fields})
    assert moved.status_code == 303, moved.text


def one_json(remote: Remote, number: str) -> dict[str, Any]:
    answer = remote.get(f"requests/{number}.json")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert isinstance(body, list) and len(body) == 1
    found: dict[str, Any] = body[0]
    return found


def test_discovery_and_services_in_json_and_xml(remote: Remote) -> None:
    discovery = remote.get("discovery.json").json()
    endpoint = discovery["endpoints"][0]
    assert endpoint["url"] == remote.base + "/" and "application/json" in endpoint["formats"]
    root = xml_of(remote.get("discovery.xml"))
    assert root.tag == "discovery" and root.findtext("endpoints/endpoint/url") == remote.base + "/"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]

    services = remote.get("services.json").json()
    assert [s["service_code"] for s in services][:2] == ["facility_repair", "sanitation"]
    repair = services[0]
    assert repair["service_name"] == "设施维修" and repair["metadata"] is False and repair["type"] == "realtime"
    assert "电梯" in repair["keywords"].split(",") and repair["group"]
    root = xml_of(remote.get("services.xml"))
    assert root.tag == "services"
    parsed = {s.findtext("service_code"): s.findtext("service_name") for s in root.findall("service")}
    assert parsed == {s["service_code"]: s["service_name"] for s in services} and parsed["noise"] == "噪音扰民"
    assert root.find("service/metadata") is not None and root.findtext("service/metadata") == "false"

    definition = xml_of(remote.get("services/facility_repair.xml"))
    assert definition.tag == "service_definition" and definition.findtext("service_code") == "facility_repair"
    assert remote.get("services/facility_repair.json").json() == {"service_code": "facility_repair", "attributes": []}
    missing = remote.get("services/nothing.xml")
    assert missing.status_code == 404 and errors_of(missing)[0][0] == "404"
    assert remote.get("services.json", jurisdiction_id="和平里").status_code == 200
    unknown = remote.get("services.json", jurisdiction_id="火星社区")
    assert unknown.status_code == 404 and errors_of(unknown) == [("404", "没有这个 jurisdiction_id（社区）：火星社区")]


def test_a_posted_request_is_filed_as_a_case_and_read_back_in_both_formats(remote: Remote) -> None:
    answer = remote.post(
        "xml",
        api_key=remote.key,
        jurisdiction_id="幸福里",
        service_code="facility_repair",
        address_string="3号楼2单元电梯",
        description="电梯停了两天，联系电话13812345678",
        first_name="小明",
        last_name="王",
        phone="13812345678",
        email="wang@example.com",
        account_id="citizen-77",
    )
    assert answer.status_code == 200, answer.text
    posted = xml_of(answer)
    assert posted.tag == "service_requests"
    number = posted.findtext("request/service_request_id") or ""
    token = posted.findtext("request/token") or ""
    assert re.fullmatch(r"\d{4}-\d{4}", number) and token

    case = remote.world.application.petitions.case(number)
    assert case is not None and case.community == "幸福里" and case.category == "设施维修"
    assert case.reporter.channel == "open311" and "13812345678" not in case.description

    found = one_json(remote, number)
    assert found["service_request_id"] == number and found["status"] == "open"
    assert found["extended_status"] == "for_triage" and found["service_code"] == "facility_repair"
    assert found["service_name"] == "设施维修" and found["address"] == "3号楼2单元电梯"
    assert found["description"].startswith("电梯停了两天") and found["requested_datetime"].endswith("+08:00")
    root = xml_of(remote.get(f"requests/{number}.xml"))
    assert root.tag == "service_requests" and len(root.findall("request")) == 1
    assert root.findtext("request/service_request_id") == number and root.findtext("request/status") == "open"
    assert root.findtext("request/description") == found["description"]
    for text in (remote.get(f"requests/{number}.json").text, remote.get(f"requests/{number}.xml").text):
        assert "13812345678" not in text and "小明" not in text and "wang@example.com" not in text

    assert remote.get(f"tokens/{token}.json").json() == [{"service_request_id": number, "token": token}]
    assert xml_of(remote.get(f"tokens/{token}.xml")).findtext("request/service_request_id") == number
    assert remote.get(f"requests/{number}.json", jurisdiction_id="和平里").status_code == 404
    assert [r["service_request_id"] for r in remote.get("requests.json", jurisdiction_id="幸福里").json()].count(
        number
    ) == 1

    cadre = remote.world.client()
    assert sign_in(cadre, "li").status_code == 303
    page = cadre.get(f"/petitions/{number}")  # the 幸福里 cadre works it like any other case
    assert page.status_code == 200 and "王**" in page.text and "王小明" not in page.text
    chunked = httpx.post(f"{remote.base}/requests.json", content=iter([b"api_key=x"]), timeout=30)
    assert chunked.status_code == 413 and errors_of(chunked)[0][0] == "413"  # no declared length: refused unread
    keys = remote.world.application.api_keys.keys()
    assert any(k.name == "市12345平台" and k.last_used_at is not None for k in keys)


def test_refusals_are_the_spec_s_error_lists(remote: Remote) -> None:
    good = {"api_key": remote.key, "service_code": "facility_repair", "address_string": "3号楼"}
    no_key = remote.post("json", **{**good, "api_key": ""})
    assert no_key.status_code == 403 and errors_of(no_key)[0][0] == "403"
    bad_key = remote.post("xml", **{**good, "api_key": "not-a-key"})
    assert bad_key.status_code == 403 and errors_of(bad_key) == [("403", "api_key 缺失、无效或已停用")]
    no_code = remote.post("xml", **{k: v for k, v in good.items() if k != "service_code"})
    assert no_code.status_code == 400 and errors_of(no_code) == [("400", "缺少 service_code")]
    assert remote.post("json", **{**good, "service_code": "nothing"}).status_code == 400
    nowhere = remote.post("json", **{k: v for k, v in good.items() if k != "address_string"})
    assert nowhere.status_code == 400 and "缺少位置" in errors_of(nowhere)[0][1]
    assert remote.post("json", **{**good, "description": "<b>坏了</b>"}).status_code == 400
    assert remote.post("json", **{**good, "description": "长" * 4001}).status_code == 400
    assert remote.post("json", **{**good, "lat": "95", "long": "116.4"}).status_code == 400
    by_coordinates = remote.post("json", **{**good, "address_string": "", "lat": "39.9042", "long": "116.4074"})
    assert by_coordinates.status_code == 200
    assert remote.post("json", **{**good, "jurisdiction_id": "火星社区"}).status_code == 404

    missing = remote.get("requests/2026-9999.xml")
    assert missing.status_code == 404 and errors_of(missing)[0][0] == "404"
    assert remote.get("requests/2026-9999.json").json()[0]["code"] == 404
    assert remote.get("tokens/0123456789abcdef0123456789abcdef.json").status_code == 404
    assert remote.get("requests.csv").status_code == 404 and errors_of(remote.get("requests.csv"))[0][0] == "404"
    assert errors_of(remote.get("nothing.json"))[0][0] == "404"
    assert remote.get("requests.json", start_date="2026-01-01T00:00:00+08:00").status_code == 200
    span = remote.get("requests.json", start_date="2026-01-01T00:00:00+08:00", end_date="2026-06-01T00:00:00+08:00")
    assert span.status_code == 400 and "90" in errors_of(span)[0][1]
    assert remote.get("requests.json", start_date="yesterday").status_code == 400
    assert remote.get("requests.json", status="sleeping").status_code == 400

    scoped = issue_key(remote.world, "和平里网格平台", community="和平里")
    refused = remote.post("json", **{**good, "api_key": scoped, "jurisdiction_id": "幸福里"})
    assert refused.status_code == 403
    number = remote.filed(api_key=scoped)  # no jurisdiction given: the key's own community
    assert remote.world.application.petitions.case(number).community == "和平里"  # type: ignore[union-attr]

    key = next(k for k in remote.world.application.api_keys.keys() if k.name == "和平里网格平台")
    admin = remote.world.client()
    assert sign_in(admin, "chief").status_code == 303
    token = csrf_of(admin, "/api-keys")
    assert admin.post(f"/api-keys/{key.id}/revoke", data={"csrf_token": token}).status_code == 303
    assert remote.post("json", **{**good, "api_key": scoped}).status_code == 403
    cadre = remote.world.client()
    assert sign_in(cadre, "li").status_code == 303
    assert cadre.get("/api-keys").status_code == 403
    actions = [e.action for e in remote.world.application.audit.entries(limit=100)]
    assert "api_key_issued" in actions and "api_key_revoked" in actions


def test_filters_select_by_id_code_status_community_and_dates(remote: Remote) -> None:
    world = remote.world
    ours = file_case(world, "垃圾桶满了没人收", "filter-1")
    theirs = file_case(world, "垃圾站臭气熏天", "filter-2", HE)
    posted = remote.filed(jurisdiction_id="幸福里")
    staff_move(world, ours.number, "reject", note="已由物业处理")

    def ids(**params: str) -> list[str]:
        answer = remote.get("requests.json", **params)
        assert answer.status_code == 200, answer.text
        return [r["service_request_id"] for r in answer.json()]

    listed = ids(service_code="sanitation")
    assert ours.number in listed and theirs.number in listed and posted not in listed
    assert ours.number in ids(status="closed") and ours.number not in ids(status="open")
    assert ours.number in ids(status="no_further_action") and theirs.number in ids(status="for_triage,closed")
    assert theirs.number not in ids(jurisdiction_id="幸福里") and theirs.number in ids(jurisdiction_id="和平里")
    assert sorted(ids(service_request_id=f"{ours.number},{theirs.number}", status="open")) == sorted(
        [ours.number, theirs.number]
    )  # a list of ids overrides the other filters
    assert ids(start_date="2027-01-01T00:00:00+08:00") == []
    assert ids(end_date="2026-01-01T00:00:00+08:00") == []
    assert ours.number in ids(start_date="2026-11-01", end_date="2026-12-01")
    first, second = ids(page_size="1"), ids(page_size="1", page="2")
    assert len(first) == len(second) == 1 and first != second
    xml_ids = [r.findtext("service_request_id") for r in xml_of(remote.get("requests.xml")).findall("request")]
    assert xml_ids == ids()


def test_staff_moves_show_as_statuses_and_updates(remote: Remote) -> None:
    world = remote.world
    remote.clock.advance(minutes=5)
    since = remote.clock.now().isoformat()
    number = remote.filed(jurisdiction_id="幸福里", description="路灯不亮")
    expected = [
        ("accept", {}, "open", "open"),
        ("dispatch", {"department": "城管科"}, "open", "internal_referral"),
        ("start", {}, "open", "in_progress"),
        ("resolve", {"note": "灯已换好"}, "closed", "fixed"),
    ]
    for event, fields, basic, extended in expected:
        remote.clock.advance(minutes=1)
        staff_move(world, number, event, **fields)
        found = one_json(remote, number)
        assert (found["status"], found["extended_status"]) == (basic, extended)
    assert found["agency_responsible"] == "城管科" and found["status_notes"] == "灯已换好"
    queued = world.application.outbox.due(now=remote.clock.now(), limit=500)
    assert not [q for q in queued if q.message.channel == "open311"]  # followed through the API, never messaged

    updates = remote.get("servicerequestupdates.json", start_date=since)
    assert updates.status_code == 200, updates.text
    ours = [u for u in updates.json() if u["service_request_id"] == number]
    assert [u["status"] for u in ours] == ["open", "internal_referral", "in_progress", "fixed"]
    assert ours[-1]["description"] == "灯已换好" and ours[1]["description"] == "派给城管科"
    assert [int(u["update_id"]) for u in ours] == sorted(int(u["update_id"]) for u in ours)
    root = xml_of(remote.get("servicerequestupdates.xml", start_date=since))
    assert root.tag == "service_request_updates"
    xml_statuses = [
        u.findtext("status") for u in root.findall("request_update") if u.findtext("service_request_id") == number
    ]
    assert xml_statuses == ["open", "internal_referral", "in_progress", "fixed"]
    later = remote.get("servicerequestupdates.json", start_date=ours[1]["updated_datetime"]).json()
    assert [u["status"] for u in later if u["service_request_id"] == number] == ["in_progress", "fixed"]
    assert remote.get("servicerequestupdates.json", start_date=since, jurisdiction_id="和平里").json() == []


def post_update(remote: Remote, fmt: str, number: str, update_id: str, status: str, **fields: str) -> httpx.Response:
    """POST servicerequestupdates as the outside system, form-urlencoded, with the key."""
    form = {
        "api_key": remote.key,
        "service_request_id": number,
        "update_id": update_id,
        "status": status,
        "updated_datetime": "2026-11-28T10:00:00+08:00",
        **fields,
    }
    return httpx.post(f"{remote.base}/servicerequestupdates.{fmt}", data=form, timeout=30)


def told_li(remote: Remote) -> list[str]:
    """What is queued for 李阿姨 in her group."""
    queued = remote.world.application.outbox.due(now=remote.clock.now(), limit=1000)
    return [q.message.text for q in queued if q.message.group_id == ROOM_A and "wxid_li" in q.message.mention_ids]


def test_an_outside_system_s_updates_move_the_case_once_and_the_resident_is_told(remote: Remote) -> None:
    world = remote.world
    remote.clock.advance(minutes=30)
    since = remote.clock.now().isoformat()
    remote.clock.advance(minutes=1)
    petition = file_case(world, "小区门口垃圾三天没人清", origin="msg-open311-update")
    before = len(told_li(remote))

    accepted = post_update(remote, "json", petition.number, "12345-u1", "open", description="已转物业公司处理")
    assert accepted.status_code == 200, accepted.text
    (answer,) = accepted.json()
    again = post_update(remote, "json", petition.number, "12345-u1", "open", description="已转物业公司处理")
    assert again.status_code == 200 and again.json() == [answer]  # idempotent by update_id
    case = world.application.petitions.case(petition.number)
    assert case is not None and case.status.value == "accepted"
    told = told_li(remote)[before:]
    assert len(told) == 1 and "已受理" in told[0] and petition.number in told[0]

    dispatched = post_update(
        remote, "xml", petition.number, "12345-u2", "internal_referral", agency_responsible="物业公司"
    )
    root = xml_of(dispatched)
    assert dispatched.status_code == 200 and root.tag == "service_request_updates"
    assert (root.findtext("request_update/update_id") or "").isdigit()
    assert one_json(remote, petition.number)["agency_responsible"] == "物业公司"

    # The workflow does not go from dispatched to fixed: the spec's error list, nothing recorded
    refused = post_update(remote, "xml", petition.number, "12345-u3", "fixed", description="已修好")
    assert refused.status_code == 400
    ((code, description),) = errors_of(refused)
    assert code == "400" and "不能改为 fixed" in description and "已派单" in description
    assert post_update(remote, "json", petition.number, "12345-u3", "fixed").status_code == 400  # still not taken

    # The same status with a note: a history entry of its own, the resident told of the news
    noted = post_update(
        remote, "json", petition.number, "12345-u4", "internal_referral", description="师傅明天上午上门"
    )
    assert noted.status_code == 200, noted.text
    history = world.application.petitions.history(petition)
    assert [(m.event, m.to_status) for m in history[-3:]] == [
        ("accept", "accepted"),
        ("dispatch", "dispatched"),
        ("note", "dispatched"),
    ]
    assert {m.actor for m in history[-3:]} == {"市12345平台"} and history[-1].note == "师傅明天上午上门"
    assert int(noted.json()[0]["update_id"]) == history[-1].id
    assert "有新进展：师傅明天上午上门" in told_li(remote)[-1]
    assert len(told_li(remote)) == before + 3

    listed = remote.get("servicerequestupdates.json", start_date=since).json()
    ours = [u for u in listed if u["service_request_id"] == petition.number]
    assert [u["status"] for u in ours] == ["open", "internal_referral", "internal_referral"]
    assert ours[-1]["description"] == "师傅明天上午上门" and ours[-1]["update_id"] == noted.json()[0]["update_id"]


def test_updates_refused_with_the_spec_s_errors(remote: Remote) -> None:
    petition = file_case(remote.world, "楼道灯坏了", origin="msg-open311-refused")
    moves = len(remote.world.application.petitions.history(petition))
    cases = [
        ({"api_key": "wrong"}, "403"),
        ({"status": "fixed_ish"}, "400"),
        ({"update_id": ""}, "400"),
        ({"service_request_id": "2026-9999"}, "404"),
        ({"updated_datetime": "yesterday"}, "400"),
        ({"status": "for_triage"}, "400"),  # the same status needs a description
        ({"status": "no_further_action"}, "400"),  # a rejection needs its reason
        ({"description": "<b>好</b>"}, "400"),
    ]
    for fields, code in cases:
        form = {
            "api_key": remote.key,
            "service_request_id": petition.number,
            "update_id": "x-1",
            "status": "open",
            "updated_datetime": "2026-11-28T10:00:00+08:00",
            **fields,
        }
        for fmt in ("json", "xml"):
            answer = httpx.post(f"{remote.base}/servicerequestupdates.{fmt}", data=form, timeout=30)
            assert [c for c, _ in errors_of(answer)] == [code], (fields, answer.text)
    case = remote.world.application.petitions.case(petition.number)
    assert case is not None and case.status.value == "submitted"
    assert len(remote.world.application.petitions.history(case)) == moves


def test_media_url_is_a_short_lived_link_only_for_a_reader_with_a_key(remote: Remote) -> None:
    world = remote.world
    petition = file_case(world, "垃圾桶满了没人清", origin="msg-open311-media")
    world.application.photos.attach(petition, phone_jpeg(1200, 900), source=PhotoSource.WECHAT)
    assert one_json(remote, petition.number)["media_url"] is None  # no key: no link to a resident's photo
    other = issue_key(world, "和平里平台", community="和平里")
    assert remote.get(f"requests/{petition.number}.json", api_key=other).json()[0]["media_url"] is None

    read = remote.get(f"requests/{petition.number}.json", api_key=remote.key)
    assert read.status_code == 200, read.text
    link = str(read.json()[0]["media_url"])
    assert link.startswith("http") and "signature=" in link and "/open311/v2/media/" in link
    listed = xml_of(remote.get("requests.xml", service_request_id=petition.number, api_key=remote.key))
    assert (listed.findtext("request/media_url") or "").startswith("http")
    path = link[link.index("/open311/v2/") + len("/open311/v2/") :]
    fetched = httpx.get(f"{remote.base}/{path}", timeout=30)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/jpeg"
    assert opened(fetched.content).size == (1200, 900) and b"PhoneMaker" not in fetched.content

    forged = httpx.get(f"{remote.base}/{path.replace(str(petition.number), '2026-9999')}", timeout=30)
    assert forged.status_code == 403 and errors_of(forged)[0][0] == "403"
    assert httpx.get(f"{remote.base}/{path[:-4]}beef", timeout=30).status_code == 403
    assert remote.get(f"requests/{petition.number}.json", api_key="not-a-key").status_code == 403
    remote.clock.advance(minutes=11)
    assert httpx.get(f"{remote.base}/{path}", timeout=30).status_code == 403  # expired
