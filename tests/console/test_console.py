"""The staff console over real services, through HTTP: sign-in, sessions, CSRF, roles, community scope, escaping,
and the unanswered-question loop from the console. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute

from bot.console.app import AREAS
from bot.console.routes import phone
from bot.console.web import SESSION_COOKIE
from bot.domain.conversation import Question
from bot.domain.escalation import UnansweredQuestion
from bot.domain.staff import Role
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.support.clock import FakeClock
from tests.support.console import (
    PASSWORD,
    ROOM_A,
    ROOM_B,
    ConsoleWorld,
    csrf_of,
    sign_in,
    two_communities,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> Iterator[ConsoleWorld]:
    directory = tmp_path_factory.mktemp(f"console-{request.param}")
    with two_communities(request.param, directory, use_embeddings) as built:
        yield built


def ask(world: ConsoleWorld, text: str, room: str, resident: str = "wxid_li") -> UnansweredQuestion:
    question = Question(text, room, resident, world.application.clock.now(), "wechat")
    return world.application.escalation.escalate(question, reason="low_confidence")


def test_every_page_but_sign_in_and_the_door_code_phone_page_needs_a_session(world: ConsoleWorld) -> None:
    client = world.client()
    public = {r.path for r in phone.router.routes if isinstance(r, APIRoute)}
    assert public and all(path.startswith("/m/") for path in public)  # residents' phones never sign in
    routes = [
        r
        for area in AREAS
        for r in area.router.routes
        if isinstance(r, APIRoute) and r.path != "/login" and r.path not in public
    ]
    assert len(routes) >= 15
    for route in routes:
        path = route.path.replace("{number}", "1").replace("{entry_id}", "faq-elderly-01").replace("{user_id}", "1")
        for method in route.methods:
            response = client.request(method, path)
            if method == "GET":
                assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
            else:
                assert response.status_code == 401 and "重新登录" in response.text, path


def test_sign_in_sets_a_protected_cookie_and_sign_out_ends_the_session_on_the_server(world: ConsoleWorld) -> None:
    client = world.client()
    response = sign_in(client, "chief")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    token = client.cookies[SESSION_COOKIE]
    assert client.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_of(client)}).status_code == 303
    replay = world.client()
    replay.cookies.set(SESSION_COOKIE, token)
    assert replay.get("/").status_code == 303  # the old cookie no longer signs anyone in


def test_wrong_passwords_get_a_chinese_message_and_no_session(world: ConsoleWorld) -> None:
    client = world.client()
    response = sign_in(client, "chief", "not-the-password")
    assert response.status_code == 400 and "用户名或密码不正确" in response.text
    assert SESSION_COOKIE not in client.cookies
    forged = client.post("/login", data={"username": "chief", "password": PASSWORD, "login_csrf": "made-up"})
    assert forged.status_code == 400 and "登录页面已过期" in forged.text


def test_sign_in_is_rate_limited(world: ConsoleWorld) -> None:
    world.user("target", Role.CADRE, community="幸福里")
    client = world.client()
    for _ in range(5):
        assert sign_in(client, "target", "guess-guess-1").status_code == 400
    locked = sign_in(client, "target")
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text


@pytest.mark.parametrize(
    "target", ["//evil.example/steal", "/\\evil.example", "/\t/evil.example", "https://evil.example", "javascript:x"]
)
def test_after_sign_in_the_browser_goes_only_to_console_pages(world: ConsoleWorld, target: str) -> None:
    client = world.client()
    form = client.get("/login", params={"next": target}).text
    assert 'name="next" value="/"' in form and "evil.example" not in form
    assert (
        'name="next" value="/questions?status=answered"'
        in client.get("/login", params={"next": "/questions?status=answered"}).text
    )


def test_forms_without_the_session_csrf_token_are_refused(world: ConsoleWorld) -> None:
    client = world.client()
    sign_in(client, "chief")
    for data in ({}, {"csrf_token": "guess"}):
        response = client.post("/knowledge/faq/new", data={"question": "q", "answer": "a", **data})
        assert response.status_code == 403 and "表单已过期" in response.text
    other = world.client()
    sign_in(other, "li")
    stolen = csrf_of(other)  # another session's token is no good either
    assert client.post("/knowledge/reindex", data={"csrf_token": stolen}).status_code == 403


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        ("li", "/users", 403),
        ("li", "/groups", 403),
        ("li", "/audit", 403),
        ("li", "/settings", 403),
        ("chief", "/settings", 200),
        ("li", "/questions", 200),
        ("li", "/knowledge", 200),
        ("zhao", "/questions", 403),
        ("zhao", "/knowledge", 403),
        ("zhao", "/knowledge/try", 403),
        ("chief", "/users", 200),
        ("chief", "/audit", 200),
    ],
)
def test_roles_are_checked_on_the_server(world: ConsoleWorld, username: str, path: str, status: int) -> None:
    client = world.client()
    sign_in(client, username)
    response = client.get(path)
    assert response.status_code == status
    if status == 403:
        assert "没有权限" in response.text


def test_roles_are_checked_on_actions_too(world: ConsoleWorld) -> None:
    client = world.client()
    sign_in(client, "li")
    token = csrf_of(client)
    created = client.post(
        "/users", data={"csrf_token": token, "username": "sneaky", "role": "admin", "password": "Sneaky-pass-99"}
    )
    assert created.status_code == 403
    assert all(u.username != "sneaky" for u in world.application.accounts.users())
    handler = world.client()
    sign_in(handler, "zhao")
    assert handler.post("/knowledge/try", data={"csrf_token": csrf_of(handler), "text": "你好"}).status_code == 403


def test_a_cadre_sees_and_answers_only_their_community(world: ConsoleWorld) -> None:
    ours = ask(world, "社区活动室周末开门吗", ROOM_A)
    theirs = ask(world, "和平里的快递柜坏了找谁修", ROOM_B)
    assert (ours.community, theirs.community) == ("幸福里", "和平里")
    client = world.client()
    sign_in(client, "li")
    listing = client.get("/questions").text
    assert "社区活动室周末开门吗" in listing and "快递柜" not in listing
    assert client.get(f"/questions/{theirs.id}").status_code == 403
    token = csrf_of(client)
    refused = client.post(f"/questions/{theirs.id}/answer", data={"csrf_token": token, "answer": "不告诉你"})
    assert refused.status_code == 403 and world.application.escalation.get(theirs.id).answer == ""  # type: ignore[union-attr]
    dashboard = client.get("/").text
    assert "和平里1号楼" not in dashboard
    admin = world.client()
    sign_in(admin, "chief")
    assert "快递柜" in admin.get("/questions").text


def test_residents_text_is_escaped_everywhere_it_is_shown(world: ConsoleWorld) -> None:
    attack = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    question = ask(world, f"请问{attack}怎么办", ROOM_A, resident="wxid_bad")
    client = world.client()
    sign_in(client, "chief")
    for path in ("/questions", f"/questions/{question.id}", "/"):
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;" in page, path
    assert "script-src 'self'" in client.get("/questions").headers["content-security-policy"]


def test_answering_from_the_console_queues_the_reply_and_adds_the_faq_that_answers_the_next_asker(
    world: ConsoleWorld,
) -> None:
    question = ask(world, "小区东门的自行车棚晚上几点锁门", ROOM_A, resident="wxid_zhang")
    client = world.client()
    sign_in(client, "li")
    response = client.post(
        f"/questions/{question.id}/answer",
        data={"csrf_token": csrf_of(client), "answer": "东门车棚每晚22点锁门，早上6点开。", "to_knowledge": "1"},
    )
    assert response.status_code == 303
    queued = [q.message for q in world.application.outbox.due(now=world.application.clock.now(), limit=100)]
    reply = next(m for m in queued if "22点锁门" in m.text)
    assert (reply.group_id, reply.mention_ids) == (ROOM_A, ("wxid_zhang",))
    assert "社区工作人员答复" in reply.text
    page = client.get(response.headers["location"]).text
    assert "已加入知识库" in page and f"faq-staff-{question.id}" in page

    later = world.application.assistant.reply(Question("东门自行车棚晚上几点锁门？", ROOM_A, "wxid_qian"))
    assert later.answered and "22点锁门" in later.text
    actions = [e.action for e in world.application.audit.entries(limit=20, actor="li")]
    assert "question_answered" in actions and "faq_added" in actions
    again = client.post(f"/questions/{question.id}/answer", data={"csrf_token": csrf_of(client), "answer": "再答"})
    assert again.status_code == 409 and "已经有人答过" in again.text


def test_the_faq_box_is_off_and_an_answer_about_one_case_is_added_only_when_confirmed(world: ConsoleWorld) -> None:
    question = ask(world, "楼道里的旧沙发什么时候搬走", ROOM_A, resident="wxid_zhou")
    client = world.client()
    sign_in(client, "li")
    form = client.get(f"/questions/{question.id}").text
    assert 'name="to_knowledge" value="1">' in form  # not ticked
    queued_before = len(world.application.outbox.due(now=world.application.clock.now(), limit=1000))
    answer = "已经通知物业，今天下午会清走。"
    warned = client.post(
        f"/questions/{question.id}/answer",
        data={"csrf_token": csrf_of(client), "answer": answer, "to_knowledge": "1"},
    )
    assert warned.status_code == 200 and "只针对这一件事" in warned.text and "仍然加入" in warned.text
    assert "说的是哪天的安排" in warned.text and answer in warned.text
    assert len(world.application.outbox.due(now=world.application.clock.now(), limit=1000)) == queued_before
    assert world.application.escalation.get(question.id).status.value == "open"  # type: ignore[union-attr]
    sent = client.post(
        f"/questions/{question.id}/answer",
        data={"csrf_token": csrf_of(client), "answer": answer, "to_knowledge": "1", "skip_faq": "1"},
    )
    assert sent.status_code == 303
    page = client.get(sent.headers["location"]).text
    assert f"faq-staff-{question.id}" not in page and "加入知识库</button>" in page
    again = client.post(f"/questions/{question.id}/faq", data={"csrf_token": csrf_of(client)})
    assert again.status_code == 200 and "只针对这一件事" in again.text and "仍然加入" in again.text
    confirmed = client.post(f"/questions/{question.id}/faq", data={"csrf_token": csrf_of(client), "confirm_faq": "1"})
    assert confirmed.status_code == 303
    assert f"faq-staff-{question.id}" in client.get(confirmed.headers["location"]).text


def test_questions_waiting_too_long_are_marked_overdue(world: ConsoleWorld) -> None:
    client = world.client()
    sign_in(client, "li")
    ask(world, "垃圾房的门锁坏了", ROOM_A)
    assert "超时" not in client.get("/questions").text.split("垃圾房的门锁坏了")[0].rsplit("<li", 1)[-1]
    clock = world.application.clock
    assert isinstance(clock, FakeClock)
    clock.advance(minutes=61)
    item = client.get("/questions").text.split("垃圾房的门锁坏了")[0].rsplit("<li", 1)[-1]
    assert "超时" in item


def test_a_question_needing_no_answer_is_closed_without_messaging_the_resident(world: ConsoleWorld) -> None:
    question = ask(world, "哈哈哈你们真逗", ROOM_A)
    client = world.client()
    sign_in(client, "li")
    queued_before = len(world.application.outbox.due(now=world.application.clock.now(), limit=1000))
    response = client.post(
        f"/questions/{question.id}/close", data={"csrf_token": csrf_of(client), "note": "闲聊，不是问题"}
    )
    assert response.status_code == 303
    assert len(world.application.outbox.due(now=world.application.clock.now(), limit=1000)) == queued_before
    assert "哈哈哈你们真逗" not in client.get("/questions").text
    closed = client.get("/questions?status=closed").text
    assert "哈哈哈你们真逗" in closed and "闲聊，不是问题" in closed
    audit = world.application.audit.entries(limit=5, action="question_closed")
    assert audit and audit[0].target == f"#{question.id}"


def test_an_empty_answer_is_refused_with_a_reason(world: ConsoleWorld) -> None:
    question = ask(world, "楼下的路灯坏了三天了", ROOM_A)
    client = world.client()
    sign_in(client, "li")
    response = client.post(f"/questions/{question.id}/answer", data={"csrf_token": csrf_of(client), "answer": "  "})
    assert response.status_code == 400 and "请填写答复内容" in response.text


def test_editing_a_faq_entry_rewrites_its_table_and_the_next_answer(world: ConsoleWorld) -> None:
    client = world.client()
    sign_in(client, "li")
    form = client.get("/knowledge/faq/faq-elderly-02")
    assert form.status_code == 200 and "高龄津贴每个月能领多少钱" in form.text
    new_answer = "高龄津贴（示例标准）：80至89岁每月150元，90至99岁每月350元，100岁及以上每月700元。"
    saved = client.post(
        "/knowledge/faq/faq-elderly-02",
        data={
            "csrf_token": csrf_of(client),
            "question": "高龄津贴每个月能领多少钱？",
            "similar": "高龄补贴发多少\n长寿金一个月多少钱",
            "answer": new_answer,
            "category": "养老服务",
            "source": "XX区民政局（示例）",
        },
    )
    assert saved.status_code == 303
    table = (world.application.settings.knowledge_dir / "faq" / "elderly.csv").read_text(encoding="utf-8")
    assert "每月150元" in table and "faq-elderly-01" in table  # other rows kept
    tried = client.post("/knowledge/try", data={"csrf_token": csrf_of(client), "text": "高龄补贴一个月发多少"})
    assert "每月150元" in tried.text and "faq-elderly-02" in tried.text  # the reply and its sources with scores
    assert "回答阈值 1.35（默认值，知识库尚未校准）" in tried.text  # the threshold in force (no calibration here)


def test_uploads_are_checked_before_they_are_stored(world: ConsoleWorld) -> None:
    client = world.client()
    sign_in(client, "li")
    token = csrf_of(client)
    cases = [
        ("virus.exe", b"MZ...", "不支持 .exe"),
        ("../../etc/passwd.csv", b"id,question\n", "缺少列"),
        ("_hidden.md", b"# x", "不能以 . 或 _ 开头"),
        ("broken.xlsx", b"not a zip", "不是有效的 Excel"),
    ]
    for name, data, reason in cases:
        response = client.post("/knowledge/upload", data={"csrf_token": token}, files={"file": (name, data)})
        assert response.status_code == 400 and reason in response.text, name
    assert not (world.application.settings.knowledge_dir.parent / "etc").exists()
    guide = (
        "---\nid: guide-pool\ntitle: 社区游泳馆使用说明\ncategory: 文体\nsource: 社区文体中心（示例）\n"
        "updated: 2026-11-20\n---\n\n## 开放时间\n\n社区游泳馆每天上午9点到晚上9点开放，周一闭馆（示例）。\n"
    )
    response = client.post(
        "/knowledge/upload", data={"csrf_token": token}, files={"file": ("社区游泳馆使用说明.md", guide.encode())}
    )
    assert response.status_code == 303
    deadline = time.monotonic() + 60
    status = client.get("/knowledge/reindex/status").json()
    while (status["running"] or not status["summary"]) and time.monotonic() < deadline:
        time.sleep(0.2)
        status = client.get("/knowledge/reindex/status").json()
    assert status["percent"] == 100 and not status["error"]
    assert (world.application.settings.knowledge_dir / "guides" / "社区游泳馆使用说明.md").exists()
    reply = world.application.assistant.reply(Question("社区游泳馆几点开门", ROOM_A, "wxid_sun"))
    assert reply.answered and "上午9点到晚上9点" in reply.text


def test_an_oversized_upload_is_refused_before_it_is_read(world: ConsoleWorld) -> None:
    client = world.client()
    sign_in(client, "li")
    too_big = b"x" * (world.application.knowledge.upload_limit + 2 * 1024 * 1024)
    response = client.post(
        "/knowledge/upload", data={"csrf_token": csrf_of(client)}, files={"file": ("big.txt", too_big)}
    )
    assert response.status_code == 413 and "提交的内容太大" in response.text
    assert not (world.application.settings.knowledge_dir / "docs" / "big.txt").exists()

    def chunks() -> Iterator[bytes]:
        yield b"csrf_token=x&question=q"

    chunked = client.post(
        "/knowledge/faq/new", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert chunked.status_code == 413 and "content-length" not in chunked.request.headers


def test_a_temporary_password_must_be_changed_before_anything_else(world: ConsoleWorld) -> None:
    admin = world.client()
    sign_in(admin, "chief")
    created = admin.post(
        "/users",
        data={
            "csrf_token": csrf_of(admin),
            "username": "newbie",
            "display_name": "小新",
            "role": "cadre",
            "community": "幸福里",
            "password": "Temp-pass-777",
        },
    )
    assert created.status_code == 303
    client = world.client()
    first = sign_in(client, "newbie", "Temp-pass-777")
    assert first.headers["location"] == "/account/password"
    assert client.get("/questions").headers["location"] == "/account/password"
    acting = client.post("/knowledge/try", data={"csrf_token": csrf_of(client), "text": "你好"})
    assert acting.status_code == 303 and acting.headers["location"] == "/account/password"  # forms too
    changed = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_of(client),
            "current": "Temp-pass-777",
            "new": "Own-pass-888",
            "repeat": "Own-pass-888",
        },
    )
    assert changed.status_code == 303
    assert client.get("/questions").status_code == 200
    audit = admin.get("/audit?actor=newbie").text
    assert "修改密码" in audit and "登录" in audit


def test_admins_switch_groups_and_their_trigger_mode(world: ConsoleWorld) -> None:
    client = world.client()
    sign_in(client, "chief")
    response = client.post(
        "/groups/update",
        data={
            "csrf_token": csrf_of(client),
            "group_id": ROOM_B,
            "trigger": "mention",
            "keywords": "小助手，#问",
            "community": "和平里",
        },
    )
    assert response.status_code == 303
    config = world.application.groups.get(ROOM_B)
    assert config is not None and not config.enabled and config.trigger.value == "mention"
    assert config.keywords == ("小助手", "#问")
    assert "群设置已保存" in client.get(response.headers["location"]).text
    missing = client.post("/groups/update", data={"csrf_token": csrf_of(client), "group_id": "nope"})
    assert missing.status_code == 404 and "没有这个群" in missing.text


def test_admins_set_a_groups_welcome_or_turn_it_off(world: ConsoleWorld) -> None:
    client = world.client()
    sign_in(client, "chief")
    page_text = client.get("/groups").text
    assert "有人进群时发欢迎语" in page_text and world.application.settings.welcome_text in page_text  # the default
    form = {
        "csrf_token": csrf_of(client),
        "group_id": ROOM_A,
        "enabled": "1",
        "community": "幸福里",
        "keywords": "小助手,#问",
    }
    own = "欢迎新邻居！有事请@社区小助手，报修请发“报事 加上情况”。"
    response = client.post("/groups/update", data={**form, "welcome": "1", "welcome_text": f"  {own}\x00 "})
    assert response.status_code == 303
    config = world.application.groups.get(ROOM_A)
    assert config is not None and config.welcome_enabled and config.welcome_text == own
    assert config.welcome("默认") == own and own in client.get("/groups").text
    assert "自定义欢迎语" in client.get("/audit").text

    too_long = client.post("/groups/update", data={**form, "welcome": "1", "welcome_text": "欢" * 301})
    assert too_long.status_code == 400 and "欢迎语太长（301 字），最多 300 字" in too_long.text
    assert world.application.groups.get(ROOM_A).welcome_text == own  # type: ignore[union-attr]

    cleared = client.post("/groups/update", data={**form, "welcome_text": ""})  # box unticked, text emptied
    assert cleared.status_code == 303
    config = world.application.groups.get(ROOM_A)
    assert config is not None and not config.welcome_enabled and config.welcome_text == ""
    assert config.welcome("默认") == ""
    client.post("/groups/update", data={**form, "welcome": "1"})
    assert world.application.groups.get(ROOM_A).welcome("默认") == "默认"  # type: ignore[union-attr]


def test_the_dashboard_counts_the_weeks_questions(world: ConsoleWorld) -> None:
    assistant = world.application.assistant
    assistant.reply(Question("灭火器过期了找谁换", ROOM_A, "wxid_a", channel="wechat"))
    assistant.reply(Question("火星上能办居住证吗", ROOM_A, "wxid_b", channel="wechat"))
    figures = world.application.dashboard.figures(community="幸福里", titles={})
    assert figures.today >= 2 and figures.week >= figures.today
    assert 0 < figures.answered_week < figures.week
    assert any(g.label == "幸福里3号楼" for g in figures.groups)
    client = world.client()
    sign_in(client, "li")
    page = client.get("/").text
    assert '<svg class="chart"' in page and "幸福里3号楼" in page


def test_admins_see_the_settings_in_force_but_never_a_secret(world: ConsoleWorld) -> None:
    client = world.client()
    sign_in(client, "chief")
    page = client.get("/settings").text
    assert "BOT_ANSWER_THRESHOLD" in page and "BOT_LLM_API_KEY" in page and "未设置" in page


def test_unknown_pages_and_bad_input_get_chinese_pages_not_tracebacks(world: ConsoleWorld) -> None:
    client = world.client()
    sign_in(client, "chief")
    assert "页面不存在" in client.get("/no-such-page").text
    bad = client.get("/questions/not-a-number")
    assert bad.status_code == 400 and "格式不对" in bad.text and "Traceback" not in bad.text
    assert client.get("/questions/999999").status_code == 403
