"""Errors whose message is meant for people (staff at a terminal or in the console), in Chinese."""


class AssistantError(Exception):
    """Base of every error with a message staff can act on; never shown as a traceback."""
