"""Command line: `python -m bot <command>`. Each command is a row in COMMANDS; its module holds a thin function that
calls the application's services and prints the result."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.cli import knowledge, petitions, serve, sms, staff, wecom
from bot.cli.command import Command
from bot.cli.failures import report_unexpected, validation_message
from bot.config import Settings
from bot.domain.errors import AssistantError

# Every command, in the order `--help` lists them. A new command: a function in one of these modules and one row.
COMMANDS: tuple[Command, ...] = (
    *serve.COMMANDS,
    *staff.COMMANDS,
    *knowledge.COMMANDS,
    *petitions.COMMANDS,
    *wecom.COMMANDS,
    *sms.COMMANDS,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one command; errors are printed in Chinese, not as tracebacks."""
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"配置错误：{validation_message(exc)}", file=sys.stderr)
        return 2
    command: Command = args.command_row
    try:
        return command.run(settings, args)
    except KeyboardInterrupt:
        return 130
    except AssistantError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except Exception as exc:  # last resort: a short Chinese message on screen, the traceback in a log file
        report_unexpected(settings, exc)
        return 1


def parser() -> argparse.ArgumentParser:
    """The argument parser of every command in COMMANDS."""
    root = argparse.ArgumentParser(prog="python -m bot", description="社区微信群智能助手")
    sub = root.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command_parser = sub.add_parser(command.name, help=command.help)
        command.arguments(command_parser)
        command_parser.set_defaults(command_row=command)
    return root
