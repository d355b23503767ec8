"""The scheduler: jobs fire, survive restarts (a missed run fires once), run in one process of several sharing a
database, and a failing job is logged masked without stopping the others; the lease's compare-and-set."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.ports import SystemClock
from bot.scheduling import LEADING, LEASE_NAME, JobScheduler
from bot.storage.engine import make_engine, upgrade
from bot.storage.lease import SqlLease
from tests.conftest import REPO
from tests.support import processes
from tests.support.clock import FakeClock
from tests.support.scheduler_process import READY

WAIT_S = 30.0  # generous upper bound for anything to happen; tests return as soon as it does


def wait_until(condition: Callable[[], bool], *, timeout: float = WAIT_S, what: str = "the condition") -> float:
    """Poll until condition holds; the time it took. Fails after timeout."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - started


class Recorder:
    """A job that records when it ran and with what."""

    def __init__(self) -> None:
        self.runs: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def __call__(self, **kwargs: Any) -> None:
        with self._lock:
            self.runs.append((time.time(), kwargs))

    @property
    def times(self) -> list[float]:
        """When each run happened (epoch seconds)."""
        with self._lock:
            return [at for at, _ in self.runs]

    def wait_for(self, count: int) -> None:
        """Wait until the job ran count times."""
        wait_until(lambda: len(self.times) >= count, what=f"{count} runs")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database of each kind."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def recorder() -> Recorder:
    """The job named "record"."""
    return Recorder()


@pytest.fixture
def make_scheduler(engine: Engine, recorder: Recorder) -> Iterator[Callable[..., JobScheduler]]:
    """Builds started schedulers on the test database (each shut down at the end)."""
    made: list[JobScheduler] = []

    def make(holder: str, jobs: dict[str, Callable[..., object]] | None = None, **options: Any) -> JobScheduler:
        options = {"lease_s": 30.0, "misfire_grace_s": 60, **options}
        scheduler = JobScheduler(engine, jobs or {"record": recorder}, holder=holder, **options)
        scheduler.start()
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.shutdown()


def test_a_job_fires_with_its_arguments_and_leaves_the_store(
    make_scheduler: Callable[..., JobScheduler], recorder: Recorder
) -> None:
    scheduler = make_scheduler("only")
    wait_until(lambda: scheduler.is_leader, what="the lease")
    scheduler.at("record", datetime.now(UTC) + timedelta(milliseconds=200), job_id="notice-1", notice=7)
    [listed] = scheduler.jobs()
    assert (listed.job_id, listed.name) == ("notice-1", "record")
    recorder.wait_for(1)
    assert recorder.runs[0][1] == {"notice": 7}
    wait_until(lambda: not scheduler.jobs(), what="the fired date job to leave the store")


def test_registering_the_same_schedule_again_keeps_its_next_run(make_scheduler: Callable[..., JobScheduler]) -> None:
    scheduler = make_scheduler("only")
    scheduler.every("record", timedelta(hours=1), job_id="remind")
    [first] = scheduler.jobs()
    scheduler.every("record", timedelta(hours=1), job_id="remind")
    assert scheduler.jobs() == [first]
    scheduler.every("record", timedelta(hours=2), job_id="remind")  # a changed schedule replaces the stored one
    [changed] = scheduler.jobs()
    assert changed.next_run_at is not None and first.next_run_at is not None
    assert changed.next_run_at > first.next_run_at
    scheduler.cron("record", "0 9 * * 1", job_id="weekly")
    assert scheduler.remove("weekly")
    assert not scheduler.remove("weekly")
    with pytest.raises(ValueError, match="no job named"):
        scheduler.every("unknown", 60, job_id="x")


def test_a_date_job_missed_while_nothing_ran_fires_once_after_the_restart(
    make_scheduler: Callable[..., JobScheduler], recorder: Recorder
) -> None:
    first = make_scheduler("before")
    when = datetime.now(UTC) + timedelta(seconds=1)
    first.at("record", when, job_id="notice")
    first.shutdown()
    assert recorder.runs == []
    wait_until(lambda: datetime.now(UTC) > when, what="the run time to pass")
    second = make_scheduler("after")
    recorder.wait_for(1)
    wait_until(lambda: not second.jobs(), what="the fired job to leave the store")
    second.shutdown()
    assert len(recorder.runs) == 1
    assert make_scheduler("later").jobs() == []  # nothing left that could fire again


def test_a_date_job_later_than_the_grace_time_is_dropped(
    make_scheduler: Callable[..., JobScheduler], recorder: Recorder
) -> None:
    first = make_scheduler("before", misfire_grace_s=1)
    when = datetime.now(UTC) + timedelta(milliseconds=300)
    first.at("record", when, job_id="notice")
    first.shutdown()
    wait_until(lambda: datetime.now(UTC) > when + timedelta(seconds=1.5), what="the grace time to pass")
    second = make_scheduler("after", misfire_grace_s=1)
    wait_until(lambda: not second.jobs(), what="the missed job to leave the store")
    second.shutdown()
    assert recorder.runs == []


def test_a_missed_interval_job_fires_once_not_once_per_missed_run(
    make_scheduler: Callable[..., JobScheduler], recorder: Recorder
) -> None:
    interval = 1.0
    first = make_scheduler("before")
    first.every("record", interval, job_id="tick")
    [stored] = first.jobs()
    assert stored.next_run_at is not None
    origin = stored.next_run_at.timestamp()
    first.shutdown()
    wait_until(lambda: time.time() > origin + 2 * interval + 0.1, timeout=10, what="three runs to be missed")
    second = make_scheduler("after")
    second.every("record", interval, job_id="tick")  # every start registers its jobs again
    recorder.wait_for(1)
    second.shutdown()
    came = recorder.times[0]
    assert came > origin + 2 * interval
    next_slot = origin + math.floor((came - origin) / interval + 1) * interval
    assert [at for at in recorder.times if at < next_slot] == [came]


def test_a_failing_job_is_logged_masked_and_the_scheduler_goes_on(
    make_scheduler: Callable[..., JobScheduler], recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    failed = threading.Event()

    def failing() -> None:
        failed.set()
        raise RuntimeError("居民王阿姨的电话 13912345678 打不通")

    scheduler = make_scheduler("only", {"fail": failing, "record": recorder})
    with caplog.at_level(logging.INFO):
        scheduler.at("fail", datetime.now(UTC), job_id="failing")
        assert failed.wait(WAIT_S)
        scheduler.at("record", datetime.now(UTC), job_id="after")
        recorder.wait_for(1)
        scheduler.shutdown()
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job fail failed")]
    assert len(failures) == 1
    assert "RuntimeError" in failures[0]
    assert "13912345678" not in caplog.text


def test_a_process_that_lost_the_lease_skips_a_due_job(
    engine: Engine, make_scheduler: Callable[..., JobScheduler], recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    scheduler = make_scheduler("stalled", clock=clock)
    wait_until(lambda: scheduler.is_leader, what="the lease")
    clock.advance(seconds=60)  # it stalled past its lease (it renews only every 10 s) and another process took over
    other = SqlLease(engine, LEASE_NAME, holder="other", duration=timedelta(seconds=30), clock=clock)
    assert other.try_acquire()
    with caplog.at_level(logging.WARNING):
        scheduler.at("record", datetime.now(UTC), job_id="notice")
        wait_until(lambda: not scheduler.jobs(), what="the due job to be taken from the store")
        scheduler.shutdown()
    assert recorder.runs == []
    assert "job record skipped: this process no longer holds the scheduler lease" in caplog.text


def test_shutdown_gives_the_lease_up(engine: Engine, make_scheduler: Callable[..., JobScheduler]) -> None:
    clock = FakeClock()
    scheduler = make_scheduler("leaving", clock=clock)
    wait_until(lambda: scheduler.is_leader, what="the lease")
    scheduler.shutdown()
    assert not scheduler.is_leader
    successor = SqlLease(engine, LEASE_NAME, holder="successor", duration=timedelta(seconds=30), clock=clock)
    assert successor.try_acquire()  # at the same instant: not waiting for the lease to run out


def test_the_lease_has_one_holder_until_it_expires(engine: Engine) -> None:
    clock = FakeClock()

    def lease(holder: str) -> SqlLease:
        return SqlLease(engine, LEASE_NAME, holder=holder, duration=timedelta(seconds=30), clock=clock)

    first, second = lease("first"), lease("second")
    assert first.try_acquire()
    assert not second.try_acquire()
    assert first.held() and not second.held()
    clock.advance(seconds=29)
    assert first.try_acquire()  # renewed: 30 s from now
    clock.advance(seconds=29)
    assert not second.try_acquire()
    clock.advance(seconds=2)  # the holder died: no renewal for more than the lease
    assert not first.held()
    assert second.try_acquire()
    assert not first.try_acquire()  # the old holder cannot take it back
    second.release()
    assert first.try_acquire()


def test_of_holders_trying_at_once_exactly_one_wins(engine: Engine) -> None:
    holders = [
        SqlLease(engine, LEASE_NAME, holder=f"h{n}", duration=timedelta(seconds=30), clock=SystemClock())
        for n in range(6)
    ]
    start = threading.Barrier(len(holders))
    won: list[bool] = []

    def attempt(lease: SqlLease) -> None:
        start.wait()
        won.append(lease.try_acquire())

    threads = [threading.Thread(target=attempt, args=(lease,)) for lease in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 5 + [True]
    assert sum(lease.held() for lease in holders) == 1


class SchedulerProcess:
    """A tests/support/scheduler_process.py process and the file its log goes to."""

    def __init__(self, database_url: str, holder: str, runs: Path, directory: Path, *, lease_s: float) -> None:
        self.holder = holder
        self.log = directory / f"{holder}.log"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", "tests.support.scheduler_process", database_url, holder, str(runs)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "--lease-s", str(lease_s), "--interval-s", "1"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )

    def logged(self, line: str) -> bool:
        """Whether the process logged line; fails if the process died."""
        text = self.log.read_text(errors="replace")
        if self.process.poll() is not None:
            raise AssertionError(f"{self.holder} exited with {self.process.returncode}:\n{text[-3000:]}")
        return line in text

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it hangs."""
        processes.stop(self.process)


def _runs(path: Path) -> list[tuple[str, float]]:
    if not path.exists():
        return []
    return [(holder, float(at)) for holder, at in (line.split() for line in path.read_text().splitlines())]


@pytest.mark.slow
def test_two_processes_run_a_job_once_per_period_and_the_standby_takes_over(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    lease_s, runs = 3.0, tmp_path / "runs.txt"
    leader = SchedulerProcess(database_url, "leader", runs, tmp_path, lease_s=lease_s)
    processes = [leader]
    try:
        wait_until(lambda: leader.logged(LEADING) and leader.logged(READY), what="the first process to lead")
        standby = SchedulerProcess(database_url, "standby", runs, tmp_path, lease_s=lease_s)
        processes.append(standby)
        wait_until(lambda: standby.logged(READY), what="the second process to start")
        both_since = time.time()
        wait_until(lambda: sum(at > both_since for _, at in _runs(runs)) >= 5, what="five runs")
        together = [(holder, at) for holder, at in _runs(runs) if at > both_since][:5]
        assert {holder for holder, _ in together} == {"leader"}  # the standby ran nothing
        assert together[-1][1] - together[0][1] > 3.0  # five runs span four periods of 1 s: each ran once

        leader.process.kill()  # SIGKILL: its lease stays in the database until it runs out
        leader.process.wait(timeout=10)
        killed = time.time()
        took = wait_until(
            lambda: any(holder == "standby" for holder, _ in _runs(runs)), what="the standby to run the job"
        )
        assert took < 2 * lease_s + 1.0  # the lease runs out within lease_s; the standby tries every lease_s / 3
        assert standby.logged(LEADING)
        wait_until(lambda: sum(at > killed for _, at in _runs(runs)) >= 4, what="four runs by the standby")
        after = [(holder, at) for holder, at in _runs(runs) if at > killed][:4]
        assert {holder for holder, _ in after} == {"standby"}
        assert after[-1][1] - after[1][1] > 1.5  # after the one coalesced catch-up run, once per period
    finally:
        for process in processes:
            process.stop()
