"""Ingest the knowledge base: a thin wrapper over `python -m bot ingest`."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
