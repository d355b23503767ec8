"""The 门牌码 phone page in a real headless Chromium at phone width (390×844): a resident opens the code's page, files
a problem with a photo, sees the case number, follows it; a cadre signs in and sees the case with the photo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.console.server import ConsoleServer
from bot.domain.staff import Actor, Role
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.console.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from tests.support.console import PASSWORD, console_world
from tests.support.gateway import free_port
from tests.support.photos import phone_jpeg

pytestmark = pytest.mark.slow
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def fits(page: Any) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px on a phone"


def test_a_resident_files_with_a_photo_at_phone_width_and_staff_see_it(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> None:
    world = console_world(tmp_path, use_embeddings, default_community="幸福里")
    cadre = world.user("li", Role.CADRE, community="幸福里")
    (code,) = world.application.door_codes.create(Actor.console(cadre, ip=""), community="幸福里", places="3号楼")
    server = ConsoleServer(world.app, host="127.0.0.1", port=free_port())
    server.start()
    try:
        phone = browser.new_context(**PHONE)
        page = phone.new_page()
        page.goto(f"{server.address}m/{code.token}")
        assert "3号楼" in page.inner_text(".place")
        assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18  # large type
        fits(page)
        page.fill("textarea[name=text]", "3号楼2单元电梯坏了，停在5楼不动")
        page.set_input_files(
            "input[name=photo]", files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": phone_jpeg()}]
        )
        page.fill("input[name=phone]", "13812345678")
        page.screenshot(path=str(tmp_path / "phone-form.png"), full_page=True)
        page.click("button[type=submit]")
        page.wait_for_selector(".notice .number")
        number = page.inner_text(".notice .number")
        assert "已登记" in page.inner_text(".notice") and "已登记" in page.inner_text(".status")
        fits(page)

        page.screenshot(path=str(tmp_path / "phone-filed.png"), full_page=True)
        page.goto(f"{server.address}m/{code.token}")
        page.click(f"text={number}")
        page.wait_for_url(f"**/case/{number}")
        assert "3号楼" in page.inner_text(".fields") and "138****5678" in page.inner_text(".fields")
        fits(page)

        staff = browser.new_context(**PHONE).new_page()
        staff.goto(f"{server.address}petitions/{number}")
        staff.fill("input[name=username]", "li")
        staff.fill("input[name=password]", PASSWORD)
        staff.click("button[type=submit]")
        staff.wait_for_url(f"**/petitions/{number}")
        staff.wait_for_function("() => { const i = document.querySelector('.photos img'); return i && i.complete }")
        assert staff.evaluate("document.querySelector('.photos img').naturalWidth") == 1600
        assert "门牌码扫码" in staff.inner_text(".fields")
        fits(staff)
        staff.screenshot(path=str(tmp_path / "staff-case.png"), full_page=True)
        staff.goto(f"{server.address}door-codes")
        assert "3号楼" in staff.inner_text(".list")
        fits(staff)
        phone.close()
    finally:
        server.stop()
