"""The console in a real headless Chromium beside the assistant on the Wechaty gateway: a cadre signs in, answers
an unanswered question and sees it reach the resident's group; adds a FAQ entry and sees chat answer from it; an
admin writes a group's welcome and new members get it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.console.app import create_console
from bot.console.server import ConsoleServer
from bot.domain.staff import Role, StaffProfile
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.runtime import WechatRuntime
from tests.support.console import PASSWORD
from tests.support.gateway import TOKEN, Gateway, free_port, running_gateway, serving_in_thread
from tests.support.services import STARTER_KNOWLEDGE, ready_services

pytestmark = pytest.mark.slow
ROOM = "room-3@chatroom"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium (the Makefile installs it); missing fails in CI and skips elsewhere."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (make test installs Debian's chromium package)")
        pytest.skip("chromium is not installed")
    return found


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with running_gateway() as running:
        yield running


def texts_to(gateway: Gateway, room: str) -> list[str]:
    return [str(m["text"]) for m in gateway.sent() if m["conversationId"] == room]


def test_a_cadre_answers_in_the_browser_and_the_resident_gets_it_in_the_group(
    browser: Any, gateway: Gateway, tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    knowledge = tmp_path / "kb"
    shutil.copytree(STARTER_KNOWLEDGE, knowledge)
    services = ready_services(
        tmp_path / "data", use_embeddings, knowledge_dir=knowledge, send_interval_s=0.05, send_jitter_s=0.0
    )
    runtime = WechatRuntime(services, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=30)
    services.accounts.create_user(None, username="li", profile=StaffProfile("李干部", Role.ADMIN), password=PASSWORD)
    server = ConsoleServer(create_console(services), host="127.0.0.1", port=free_port())
    server.start()
    try:
        with serving_in_thread(runtime, poll_s=0.1):
            gateway.say("wxid_li", "@社区小助手 小区东门的自行车棚晚上几点锁门", room=ROOM, mentions=("bot",))
            gateway.wait_for_sent(1)
            assert "转给社区工作人员" in texts_to(gateway, ROOM)[0]

            page = browser.new_page()
            page.goto(server.address + "questions")
            assert "/login" in page.url  # no session yet
            page.fill("input[name=username]", "li")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/questions")
            page.click("text=自行车棚")
            page.fill("textarea[name=answer]", "东门车棚每晚22点锁门，早上6点开。")
            page.check("input[name=to_knowledge]")
            page.click("text=发送答复")
            page.wait_for_selector("text=已加入知识库")

            sent = gateway.wait_for_sent(2)
            answer = sent[1]
            assert answer["conversationId"] == ROOM and answer["mentionIdList"] == ["wxid_li"]
            assert "22点锁门" in str(answer["text"])

            gateway.say("wxid_wang", "@社区小助手 东门自行车棚晚上几点锁门？", room=ROOM, mentions=("bot",))
            gateway.wait_for_sent(3)
            assert "22点锁门" in texts_to(gateway, ROOM)[-1]  # answered from the new FAQ entry, no staff needed

            page.goto(server.address + "knowledge/faq/new")
            page.fill("input[name=question]", "社区游泳馆几点开门？")
            page.fill("textarea[name=similar]", "游泳馆开放时间\n游泳池几点开")
            page.fill("textarea[name=answer]", "社区游泳馆（示例）每天9点到21点开放，周一闭馆。")
            page.click("text=保存并重新索引")
            page.wait_for_selector("text=问答已保存")
            gateway.say("wxid_zhao", "@社区小助手 游泳馆几点开门", room=ROOM, mentions=("bot",))
            gateway.wait_for_sent(4)
            assert "9点到21点" in texts_to(gateway, ROOM)[-1]

            page.goto(server.address + "knowledge")
            page.click("text=重新导入知识库")
            page.wait_for_selector("#reindex-summary:has-text('导入完成')", timeout=60_000)
            assert page.eval_on_selector("#reindex-progress", "bar => bar.value") == 100
            page.close()
    finally:
        server.stop()


def test_the_console_fits_a_phone_screen(
    browser: Any, tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    from tests.support.console import console_world

    world = console_world(tmp_path, use_embeddings)
    world.user("li", Role.ADMIN)
    server = ConsoleServer(world.app, host="127.0.0.1", port=free_port())
    server.start()
    try:
        phone = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
        page = phone.new_page()
        page.goto(server.address + "login")
        page.fill("input[name=username]", "li")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.address)
        pages = ("", "questions", "petitions", "petitions/routing", "knowledge", "knowledge/try", "groups", "users")
        for path in (*pages, "api-keys", "audit", "settings"):
            page.goto(server.address + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"/{path} scrolls sideways by {overflow}px on a phone"
        phone.close()
    finally:
        server.stop()


def test_an_admin_writes_a_groups_welcome_in_the_browser_and_new_members_get_it(
    browser: Any, gateway: Gateway, tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    services = ready_services(tmp_path / "data", use_embeddings, send_interval_s=0.05, send_jitter_s=0.0)
    services.groups.get_or_register(group_id=ROOM, channel="wechat", name="幸福里3号楼群", now=services.clock.now())
    services.accounts.create_user(None, username="li", profile=StaffProfile("李干部", Role.ADMIN), password=PASSWORD)
    runtime = WechatRuntime(services, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=30)
    server = ConsoleServer(create_console(services), host="127.0.0.1", port=free_port())
    server.start()
    try:
        with serving_in_thread(runtime, poll_s=0.1):
            page = browser.new_page()
            page.goto(server.address + "groups")
            page.fill("input[name=username]", "li")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/groups")
            form = page.locator("form.group-form", has=page.locator(f"input[name=group_id][value='{ROOM}']"))
            assert form.locator("input[name=welcome]").is_checked()  # on by default, with the default text shown
            assert form.locator("textarea[name=welcome_text]").get_attribute("placeholder") == (
                services.settings.welcome_text
            )
            form.locator("textarea[name=welcome_text]").fill("欢迎新邻居！有事@社区小助手，报修发“报事 加情况”。")
            form.locator("button[type=submit]").click()
            page.wait_for_selector("text=群设置已保存")
            page.close()

            gateway.join(ROOM, {"wxid_chen": "新邻居小陈"}, by="wxid_li")
            [welcome] = gateway.wait_for_sent(1, timeout=60)
            assert welcome["conversationId"] == ROOM and welcome["mentionIdList"] == ["wxid_chen"]
            assert str(welcome["text"]).startswith("@新邻居小陈") and str(welcome["text"]).endswith(
                "欢迎新邻居！有事@社区小助手，报修发“报事 加情况”。"
            )
    finally:
        server.stop()
