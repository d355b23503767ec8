"""Workflows as data: every (status, event) pair of the question workflow, and a generic table like petitions'."""

from __future__ import annotations

import itertools
from enum import StrEnum

import pytest

from bot.domain.errors import AssistantError
from bot.domain.escalation import QUESTION_WORKFLOW, QuestionEvent, QuestionNotOpenError, QuestionStatus
from bot.domain.workflow import TransitionNotAllowed, Workflow

QUESTION_MOVES = {
    (QuestionStatus.OPEN, QuestionEvent.ANSWER): QuestionStatus.ANSWERED,
    (QuestionStatus.OPEN, QuestionEvent.CLOSE): QuestionStatus.CLOSED,
}


@pytest.mark.parametrize(("status", "event"), list(itertools.product(QuestionStatus, QuestionEvent)))
def test_every_pair_of_the_question_workflow(status: QuestionStatus, event: QuestionEvent) -> None:
    expected = QUESTION_MOVES.get((status, event))
    if expected is not None:
        assert QUESTION_WORKFLOW.next(status, event) is expected
        return
    with pytest.raises(TransitionNotAllowed) as refused:
        QUESTION_WORKFLOW.next(status, event, entity_id=7)
    assert isinstance(refused.value, QuestionNotOpenError) and isinstance(refused.value, AssistantError)
    assert (refused.value.entity_id, refused.value.status, refused.value.event) == (7, status, event)
    assert str(refused.value).startswith("问题 #7 现在是“已")


def test_only_an_open_question_allows_events() -> None:
    assert QUESTION_WORKFLOW.allowed_events(QuestionStatus.OPEN) == (QuestionEvent.ANSWER, QuestionEvent.CLOSE)
    assert QUESTION_WORKFLOW.allowed_events(QuestionStatus.ANSWERED) == ()
    assert QUESTION_WORKFLOW.allowed_events(QuestionStatus.CLOSED) == ()
    assert QUESTION_WORKFLOW.kind == "question"
    assert (
        QUESTION_WORKFLOW.status_of("answered") is QuestionStatus.ANSWERED and QUESTION_WORKFLOW.status_of("x") is None
    )


class Petition(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Act(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    RESOLVE = "resolve"
    CLOSE = "close"


PETITION = Workflow(
    "petition",
    "诉求",
    statuses={
        Petition.SUBMITTED: "已提交",
        Petition.ACCEPTED: "已受理",
        Petition.REJECTED: "不予受理",
        Petition.RESOLVED: "已办结",
        Petition.CLOSED: "已关闭",
    },
    events={Act.ACCEPT: "受理", Act.REJECT: "不予受理", Act.RESOLVE: "办结", Act.CLOSE: "关闭"},
    moves={
        (Petition.SUBMITTED, Act.ACCEPT): Petition.ACCEPTED,
        (Petition.SUBMITTED, Act.REJECT): Petition.REJECTED,
        (Petition.ACCEPTED, Act.RESOLVE): Petition.RESOLVED,
        (Petition.RESOLVED, Act.CLOSE): Petition.CLOSED,
        (Petition.REJECTED, Act.CLOSE): Petition.CLOSED,
    },
)


def test_a_generic_table_allows_exactly_its_moves_with_chinese_refusals() -> None:
    assert PETITION.next(Petition.SUBMITTED, Act.ACCEPT) is Petition.ACCEPTED
    assert PETITION.next(Petition.REJECTED, Act.CLOSE) is Petition.CLOSED  # one event, several sources
    assert PETITION.allowed_events(Petition.SUBMITTED) == (Act.ACCEPT, Act.REJECT)
    assert PETITION.allowed_events(Petition.CLOSED) == ()
    allowed = 0
    for status, event in itertools.product(Petition, Act):
        if event in PETITION.allowed_events(status):
            allowed += 1
            PETITION.next(status, event)
        else:
            with pytest.raises(TransitionNotAllowed):
                PETITION.next(status, event)
    assert allowed == 5
    with pytest.raises(TransitionNotAllowed) as refused:
        PETITION.next(Petition.SUBMITTED, Act.RESOLVE)
    assert str(refused.value) == "“已提交”的诉求不能办结"
    assert type(refused.value) is TransitionNotAllowed  # the default refusal
    assert str(PETITION.refusal(12, None, Act.ACCEPT)) == "没有找到诉求 #12"


def test_a_table_naming_an_unknown_status_or_event_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="unnamed"):
        Workflow(
            "petition",
            "诉求",
            statuses={Petition.SUBMITTED: "已提交"},
            events={Act.ACCEPT: "受理"},
            moves={(Petition.SUBMITTED, Act.ACCEPT): Petition.ACCEPTED},
        )
