"""A scheduler process for tests: registers one interval job that appends "<holder> <time>" to a file, and runs
until SIGTERM (shut down cleanly) or SIGKILL.

    python -m tests.support.scheduler_process DATABASE_URL HOLDER RUNS_FILE --lease-s 3 --interval-s 1

It logs READY once its jobs are registered, and bot.scheduling.LEADING when it wins the lease.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from bot.scheduling import JobScheduler

READY = "scheduler process ready"


def main() -> None:
    """Run one scheduler on the database until told to stop."""
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("holder")
    parser.add_argument("runs", type=Path)
    parser.add_argument("--lease-s", type=float, required=True)
    parser.add_argument("--interval-s", type=float, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(name)s %(message)s")

    def append() -> None:
        with args.runs.open("a", encoding="utf-8") as runs:
            runs.write(f"{args.holder} {time.time()}\n")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler = JobScheduler(
        args.database_url, {"append": append}, holder=args.holder, lease_s=args.lease_s, misfire_grace_s=60
    )
    scheduler.start()
    scheduler.every("append", args.interval_s, job_id="append")
    logging.getLogger(__name__).info(READY)
    stop.wait()
    scheduler.shutdown()


if __name__ == "__main__":
    main()
