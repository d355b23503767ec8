"""What recognising a petition (诉求) in a resident's message gives: explicit, implicit or none, and its category."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RecognitionKind(StrEnum):
    """How a message reads: a petition said as one ("报事 …"), a complaint that may be one, or neither."""

    EXPLICIT = "explicit"
    IMPLICIT = "implicit"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Recognition:
    """The recogniser's verdict on one message; text is the message with its trigger ("报事", "#诉求") removed."""

    kind: RecognitionKind
    category: str
    score: float
    text: str
