"""Errors whose message is meant for people (staff at a terminal or in the console), in Chinese."""


class AssistantError(Exception):
    """Base of every error with a message staff can act on; never shown as a traceback."""


class KnowledgeBusyError(AssistantError):
    """The knowledge base stayed busy with a re-index for longer than an edit waits; the message says so."""
