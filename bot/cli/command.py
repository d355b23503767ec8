"""One command-line command: its name, its help line, its arguments and the function that runs it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """A command that takes no arguments."""


@dataclass(frozen=True, slots=True)
class Command:
    """A row of the command table: `python -m bot <name> …` runs `run(settings, args)`; its result is the exit code."""

    name: str
    help: str
    run: Callable[[Settings, argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] = no_arguments
