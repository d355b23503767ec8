"""Grounded answers from an OpenAI-compatible chat model through LangChain, checked before they are trusted."""

from __future__ import annotations

import concurrent.futures
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.domain.knowledge import RetrievalHit
from bot.rag.prompts import PromptLibrary

if TYPE_CHECKING:  # LangChain's chat-model stack costs ~0.4 s to import; only LLM mode needs it
    from langchain_core.language_models.chat_models import BaseChatModel

log = logging.getLogger(__name__)

NO_ANSWER_MARK = "无法回答"
_CITATION = re.compile(r"\[(\d{1,2})\]|【(\d{1,2})】")
_MARKDOWN = re.compile(r"(\*\*|__|`|^#+\s*|^\s*[-*+]\s+|^\s*\d+[.)]\s+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class WrittenAnswer:
    """What the model wrote: the text without citation marks and the hits it cited; or a refusal."""

    text: str
    cited: tuple[RetrievalHit, ...]
    refused: bool = False


class GroundedAnswerWriter:
    """Asks the model to answer only from numbered passages; any failure returns None (caller falls back)."""

    def __init__(self, model: BaseChatModel, prompts: PromptLibrary, *, timeout_s: float) -> None:
        self._model = model
        self._prompts = prompts
        self._timeout_s = timeout_s
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="llm")

    def write(self, question: str, hits: list[RetrievalHit]) -> WrittenAnswer | None:
        """A checked answer, a refusal ("not in the material"), or None on error, timeout or missing citations."""
        from langchain_core.messages import HumanMessage, SystemMessage

        if not hits:
            return None
        materials = "\n\n".join(
            f"[{n}] {hit.title}"
            + (f" · {hit.section}" if hit.section and hit.section != hit.title else "")
            + f"\n{hit.content}"
            for n, hit in enumerate(hits, start=1)
        )
        messages = [
            SystemMessage(content=self._prompts.render("answer_system")),
            HumanMessage(content=self._prompts.render("answer_user", materials=materials, question=question)),
        ]
        future = self._pool.submit(self._model.invoke, messages)
        try:
            response: Any = future.result(timeout=self._timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            log.warning("LLM did not answer within %.1f s; using the extractive answer", self._timeout_s)
            return None
        except Exception as exc:  # any provider error: the extractive answer is always there to fall back on
            log.warning("LLM call failed (%s); using the extractive answer", type(exc).__name__)
            return None
        return _check(str(getattr(response, "content", "") or ""), hits)


def _check(raw: str, hits: list[RetrievalHit]) -> WrittenAnswer | None:
    text = raw.strip()
    if not text:
        return None
    if text.strip("。.！! ") == NO_ANSWER_MARK or (NO_ANSWER_MARK in text and not _CITATION.search(text)):
        return WrittenAnswer("", (), refused=True)
    numbers = {int(a or b) for a, b in _CITATION.findall(text)}
    cited = tuple(hits[n - 1] for n in sorted(numbers) if 1 <= n <= len(hits))
    if not cited:
        log.info("LLM answer cited no retrieved passage; using the extractive answer")
        return None
    plain = _MARKDOWN.sub("", _CITATION.sub("", text))
    plain = re.sub(r"[ \t]+([，。！？；])", r"\1", plain)
    return WrittenAnswer(re.sub(r"\n{2,}", "\n", plain).strip(), cited)


def make_chat_model(*, base_url: str, model: str, api_key: str, timeout_s: float, max_tokens: int) -> BaseChatModel:
    """An OpenAI-compatible chat model (DeepSeek, Qwen, vLLM, Ollama …) through LangChain; no retries here."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(
        base_url=base_url,
        model=model,
        api_key=SecretStr(api_key),
        timeout=timeout_s,
        max_retries=0,
        temperature=0.1,
        max_tokens=max_tokens,  # type: ignore[call-arg]  # a pydantic alias of max_completion_tokens
    )
