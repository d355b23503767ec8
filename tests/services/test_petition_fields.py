"""LLM mode reading a petition's fields against a real OpenAI-compatible HTTP server on loopback, on both databases:
the model's category, place and urgency are taken when they pass the checks; garbage, an unknown category, an
invented place, an error or a timeout file the rules' draft; only masked text ever reaches the model."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot.app import petition_field_extractor
from bot.config import Settings
from bot.domain.petitions import PetitionDraft, Receipt, Recognition, RecognitionKind, Reporter, Urgency
from bot.services.audit import StaffAudit
from bot.services.petitions import LOCATION_QUESTION, KeywordTriggers, PetitionDesk
from bot.storage.petitions import SqlPetitions
from bot.storage.staff import SqlAuditLog
from tests.conftest import REPO
from tests.support.clock import FakeClock
from tests.support.fake_llm import FakeLLM, Held, fails, fake_llm_server, replies

LI = Reporter("wechat", "room-3", "3号楼群", "wxid_li", "李阿姨")
CATEGORIES = ("设施维修", "环境卫生", "噪音扰民", "物业服务", "安全隐患", "邻里纠纷", "其他")
PHONE = "13812345678"
WIRES = f"车棚那边的电线垂下来了，孩子经常在那里玩，电话{PHONE}"


def _settings(tmp_path: Path, base_url: str, timeout_s: float = 5.0) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        prompts_dir=REPO / "prompts",
        llm_base_url=base_url,
        llm_model="fake-model",
        llm_api_key=SecretStr("sk-test-key"),
        petition_llm_timeout_s=timeout_s,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with fake_llm_server() as server:
        yield server


def _desk(sessions: sessionmaker[Session], settings: Settings) -> PetitionDesk:
    clock = FakeClock()
    return PetitionDesk(
        SqlPetitions(sessions),
        KeywordTriggers(),
        clock,
        audit=StaffAudit(SqlAuditLog(sessions), clock),
        fields=petition_field_extractor(settings, CATEGORIES),
    )


@pytest.fixture
def desk(sessions: sessionmaker[Session], llm: FakeLLM, tmp_path: Path) -> PetitionDesk:
    return _desk(sessions, _settings(tmp_path, llm.base_url))


def _draft(desk: PetitionDesk, text: str, origin: str = "m1") -> PetitionDraft:
    return desk.draft(Recognition(RecognitionKind.EXPLICIT, "其他", 1.0, text), LI, origin=origin)


def _answer(**fields: str) -> str:
    return json.dumps(fields, ensure_ascii=False)


def test_the_models_fields_are_filed_and_only_masked_text_reaches_it(desk: PetitionDesk, llm: FakeLLM) -> None:
    llm.behaviour = replies(
        "```json\n"
        + _answer(category="安全隐患", location="车棚那边", urgency="紧急", summary="车棚电线垂落")
        + "\n```"
    )
    draft = _draft(desk, WIRES)
    assert (draft.category, draft.location, draft.urgency) == ("其他", "", Urgency.NORMAL)
    filing = desk.file(draft, receipt=Receipt("m1", "petition_filed"))
    petition = filing.petition
    assert petition is not None
    assert (petition.category, petition.location, petition.urgency) == ("安全隐患", "车棚那边", Urgency.URGENT)
    assert petition.description == draft.description  # the resident's own words, masked; the summary is not kept
    assert not filing.replies[0].text.endswith(LOCATION_QUESTION)  # the place is known: not asked
    (request,) = llm.requests
    prompt = "\n".join(m["content"] for m in request["messages"])
    assert PHONE not in json.dumps(request, ensure_ascii=False)
    assert "138****5678" in prompt and "车棚那边的电线垂下来了" in prompt
    assert "设施维修、环境卫生、噪音扰民" in prompt and '"category"' in prompt


def test_the_rules_place_and_urgency_stand(desk: PetitionDesk, llm: FakeLLM) -> None:
    llm.behaviour = replies(_answer(category="安全隐患", location="2单元楼道", urgency="一般", summary="煤气味"))
    petition = desk.file(_draft(desk, "3号楼2单元楼道里有煤气味")).petition
    assert petition is not None
    assert (petition.category, petition.location, petition.urgency) == ("安全隐患", "3号楼2单元", Urgency.URGENT)


def test_a_category_that_came_with_the_case_stands(desk: PetitionDesk, llm: FakeLLM) -> None:
    """An outside system's service_code (Open311) is its choice: the model may add the place, not change that."""
    llm.behaviour = replies(_answer(category="安全隐患", location="车棚那边", urgency="一般", summary="电线垂落"))
    chosen = replace(_draft(desk, WIRES), category="设施维修", category_chosen=True)
    petition = desk.file(chosen).petition
    assert petition is not None and (petition.category, petition.location) == ("设施维修", "车棚那边")


@pytest.mark.parametrize(
    ("behaviour", "category"),
    [
        (replies("抱歉，我无法处理这个请求。"), "其他"),
        (replies("{category: 安全隐患"), "其他"),
        (replies('["安全隐患"]'), "其他"),
        (replies(_answer(category="外星人入侵", location="月球背面", urgency="十万火急", summary="x")), "其他"),
        (replies(_answer(category="安全隐患", location="车棚那边" * 30, urgency="特急", summary="x")), "安全隐患"),
        (fails(500), "其他"),
        (fails(429), "其他"),
    ],
    ids=["refusal", "bad-json", "not-an-object", "unknown-category-invented-place", "place-too-long", "500", "429"],
)
def test_anything_wrong_keeps_the_rules_fields(
    desk: PetitionDesk, llm: FakeLLM, behaviour: object, category: str, caplog: pytest.LogCaptureFixture
) -> None:
    llm.behaviour = behaviour  # type: ignore[assignment]
    with caplog.at_level(logging.INFO):
        petition = desk.file(_draft(desk, WIRES)).petition
    assert petition is not None and len(llm.requests) == 1  # no retries
    assert (petition.category, petition.location, petition.urgency) == (category, "", Urgency.NORMAL)
    assert petition.description == "车棚那边的电线垂下来了，孩子经常在那里玩，电话138****5678"
    assert "车棚" not in caplog.text and "5678" not in caplog.text  # no resident text in the log


def test_a_slow_model_is_abandoned_and_the_rules_draft_filed(
    sessions: sessionmaker[Session], llm: FakeLLM, tmp_path: Path
) -> None:
    held = Held(_answer(category="安全隐患", location="车棚那边", urgency="紧急", summary="x"))
    llm.behaviour = held
    desk = _desk(sessions, _settings(tmp_path, llm.base_url, timeout_s=0.3))
    try:
        petition = desk.file(_draft(desk, WIRES)).petition
        assert held.arrived.is_set()  # the model was asked, and did not answer in time
    finally:
        held.released.set()
    assert petition is not None
    assert (petition.category, petition.location, petition.urgency) == ("其他", "", Urgency.NORMAL)


def test_a_complaint_is_read_only_once_confirmed(desk: PetitionDesk, llm: FakeLLM) -> None:
    llm.behaviour = replies(_answer(category="安全隐患", location="车棚那边", urgency="紧急", summary="x"))
    complaint = desk.draft(Recognition(RecognitionKind.IMPLICIT, "设施维修", 0.7, WIRES), LI, origin="m1")
    assert desk.ask_to_confirm(complaint, receipt=Receipt("m1", "petition_to_confirm"))
    assert llm.requests == []  # asking to confirm costs no model call
    held = desk.pending(LI)
    assert held is not None
    petition = desk.file(held, receipt=Receipt("m2", "petition_filed")).petition
    assert petition is not None and (petition.category, petition.location) == ("安全隐患", "车棚那边")
    assert len(llm.requests) == 1


def test_offline_there_is_no_extractor(tmp_path: Path) -> None:
    assert petition_field_extractor(_settings(tmp_path, ""), CATEGORIES) is None
