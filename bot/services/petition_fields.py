"""A petition's fields read by an OpenAI-compatible chat model (LLM mode): the category from the staff's list, the
place when the rules found none, and the urgency; strictly checked, and any failure keeps the rules' draft."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.domain.messages import one_line
from bot.domain.petitions import PetitionDraft, Urgency
from bot.domain.privacy import mask_personal_data
from bot.rag.prompts import PromptLibrary
from bot.services.petitions import LOCATION_CHARS, masked_text

if TYPE_CHECKING:  # LangChain's chat-model stack costs ~0.4 s to import; only LLM mode needs it
    from langchain_core.language_models.chat_models import BaseChatModel

log = logging.getLogger(__name__)

_URGENCY = {"一般": Urgency.NORMAL, "紧急": Urgency.URGENT}
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class PetitionFieldExtractor:
    """Asks the model for {"category","location","urgency","summary"} of a petition's masked text. The description
    stays the resident's own words (the summary is not kept); the category is taken only from the staff's list, a
    place only when the rules found none and only as the resident wrote it, urgency only "一般"/"紧急" (the rules'
    紧急 is never lowered). Timeout, HTTP error, a refusal or a bad answer: the draft unchanged, one log line."""

    def __init__(
        self, model: BaseChatModel, prompts: PromptLibrary, categories: Sequence[str], *, timeout_s: float
    ) -> None:
        self._model = model
        self._prompts = prompts
        self._categories = tuple(categories)
        self._timeout_s = timeout_s
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="llm-petition")

    def refine(self, draft: PetitionDraft) -> PetitionDraft:
        """The draft with the model's validated fields, or the draft itself on any failure."""
        from langchain_core.messages import HumanMessage, SystemMessage

        text = mask_personal_data(draft.description)  # masked when drafted; masked again before it leaves us
        if not text.strip():
            return draft
        messages = [
            SystemMessage(
                content=self._prompts.render("petition_fields_system", categories="、".join(self._categories))
            ),
            HumanMessage(content=self._prompts.render("petition_fields_user", text=text)),
        ]
        future = self._pool.submit(self._model.invoke, messages)
        try:
            response: Any = future.result(timeout=self._timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            log.warning(
                "LLM did not read the petition's fields within %.1f s; keeping the rules' draft", self._timeout_s
            )
            return draft
        except Exception as exc:  # any provider error: the rules' draft is always there
            log.warning("LLM petition fields failed (%s); keeping the rules' draft", type(exc).__name__)
            return draft
        fields = _fields(str(getattr(response, "content", "") or ""))
        if fields is None:
            log.warning("LLM petition fields were no JSON object; keeping the rules' draft")
            return draft
        return self._checked(draft, text, fields)

    def _checked(self, draft: PetitionDraft, text: str, fields: dict[str, Any]) -> PetitionDraft:
        category = fields.get("category")
        if not draft.category_chosen and isinstance(category, str) and category.strip() in self._categories:
            draft = replace(draft, category=category.strip())
        location = fields.get("location")
        if not draft.location and isinstance(location, str):
            place = one_line(location, limit=LOCATION_CHARS * 2)
            if 0 < len(place) <= LOCATION_CHARS and _said(place, text):
                draft = replace(draft, location=masked_text(place, LOCATION_CHARS))
        if _URGENCY.get(str(fields.get("urgency", "")).strip()) is Urgency.URGENT:
            draft = replace(draft, urgency=Urgency.URGENT)
        return draft


def _fields(raw: str) -> dict[str, Any] | None:
    """The JSON object in the model's answer (code fences allowed), or None."""
    match = _JSON_OBJECT.search(raw)
    if match is None:
        return None
    try:
        value = json.loads(match.group(0))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _said(place: str, text: str) -> bool:
    """Whether the resident wrote this place (width and spaces aside): the model may find it, never invent it."""

    def squeezed(value: str) -> str:
        return "".join(unicodedata.normalize("NFKC", value).split())

    return bool(squeezed(place)) and squeezed(place) in squeezed(text)
