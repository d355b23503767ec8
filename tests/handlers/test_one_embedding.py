"""One embedding a message: the petition recogniser reads the vector retrieval computes for the same normalised text
(the question and its clauses, in one batch), so the message is embedded once on the whole chat path (implicit
recognition on, as by default)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from bot.app import Application, fusion_weights
from bot.rag.embeddings import ArrayEmbeddings, UniversalSentenceEncoderEmbeddings, embed_array
from bot.rag.lexical import normalise_text
from bot.rag.retriever import query_parts
from tests.handlers.conftest import chat_application, resident_message


class CountingEmbeddings(ArrayEmbeddings):
    """The real model, counting every text it embeds."""

    def __init__(self, model: UniversalSentenceEncoderEmbeddings) -> None:
        self._model = model
        self.embedded: Counter[str] = Counter()

    def _encode(self, texts: list[str]) -> np.ndarray[Any, np.dtype[Any]]:
        self.embedded.update(texts)
        return self._model.embed_array(texts)


@pytest.fixture(scope="module")
def counted(
    tmp_path_factory: pytest.TempPathFactory, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> Iterator[tuple[Application, CountingEmbeddings]]:
    embeddings = CountingEmbeddings(use_embeddings)
    with chat_application("sqlite", tmp_path_factory.mktemp("one-embedding"), embeddings) as application:
        yield application, embeddings


@pytest.mark.parametrize(
    "text",
    ["社区食堂几点开饭", "我家老人今年八十岁了，高龄津贴怎么申请？", "楼下的路灯坏了好几天了，晚上出门黑乎乎的"],
)
def test_a_message_is_embedded_once_for_recognition_and_retrieval(
    counted: tuple[Application, CountingEmbeddings], text: str
) -> None:
    application, embeddings = counted
    handling = application.router.handle(resident_message(application, text, sender="wxid_once"))
    assert handling.replies
    seen = {t: n for t, n in embeddings.embedded.items() if text[:4] in t}
    assert embeddings.embedded[normalise_text(text)] == 1, (handling.outcome, seen)


def test_the_recogniser_reads_the_vector_retrieval_computes(counted: tuple[Application, CountingEmbeddings]) -> None:
    application, embeddings = counted
    text = "电梯又坏了，物业到底管不管"
    clean = normalise_text(text)
    alone = embed_array(embeddings, query_parts(clean, fusion_weights(application.settings).max_query_parts))[0]
    assert np.array_equal(application.recogniser.embed(text), alone)
    assert application.recogniser.recognise(text) == application.recogniser.recognise(text, vector=alone)
