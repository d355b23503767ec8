"""Petitions (诉求): residents' complaints and reports that become cases, and how a message is recognised as one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class PetitionCategory:
    """A category staff define for petitions: its name, what it covers, and a few example messages."""

    name: str
    description: str
    examples: tuple[str, ...] = ()


class RecognitionKind(StrEnum):
    """Whether a resident's message is a petition."""

    # The resident said so ("报事 …", "#诉求 …", "我要反映…", "投诉…"): always a petition
    EXPLICIT = "explicit"
    # It reads as a complaint or report: the resident is asked to confirm before a case is made
    IMPLICIT = "implicit"
    # A question, chatter or anything else: answered as before
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Recognition:
    """What the recogniser made of a message: the kind, the likeliest category, its score and the petition's text.

    `text` is the message (spaces collapsed) with an explicit trigger ("报事", "#诉求" …) removed; `score` is the
    petition score in [0, 1] (1.0 for an explicit petition); `category` is the likeliest category's name for a
    petition, "" for `none` and for a bare trigger ("报事" alone: nothing to judge yet).
    """

    kind: RecognitionKind
    category: str
    score: float
    text: str

    @property
    def is_petition(self) -> bool:
        """Explicit or implicit."""
        return self.kind is not RecognitionKind.NONE
