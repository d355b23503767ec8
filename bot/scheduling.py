"""Scheduled jobs (reminders, notices) that survive restarts, run by exactly one process of a deployment.

Jobs are kept in the application database (table scheduled_jobs, APScheduler 3's SQLAlchemyJobStore), in UTC. Every
stored job refers to one function, run_job, with the job's name and picklable keyword arguments; run_job looks the
name up in the job table the application gave the JobScheduler of this process, so jobs call the application's
services, never a channel, and code can change between restarts without unpickling functions. A job missed while
nothing ran fires once on the next start (coalesced), if it is no later than the misfire grace time.

One process runs jobs. Every process starts APScheduler paused: it can add, list and remove jobs, but processes none.
A lease row (scheduler_lease: name, holder, expires_at) names the process that may. Every lease_s/3 each process
tries to renew or take it with one compare-and-set UPDATE (holder is this process, or the lease has expired), or an
INSERT when there is no row; the database lets exactly one of concurrent tries win. The winner resumes job
processing, and wakes up at each renewal to see jobs other processes added; a process that fails to renew pauses
at once. A killed holder stops renewing: its lease runs out after at most lease_s and a standby takes over within
lease_s/3 more. shutdown() deletes the lease, so a successor takes over at its next try.

The failure window: a holder that stalls (a frozen machine, a stopped process) for longer than lease_s may, on
waking, still hand a due job to its workers before its next renewal attempt tells it the lease is gone, while the
new holder runs the same job. run_job re-checks the lease just before calling a job, which leaves only a job begun
in the instant before the lease expired. Clocks of hosts sharing the database must agree to well within lease_s.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from bot.domain.privacy import masked_traceback
from bot.ports import Clock, SystemClock
from bot.storage.engine import make_engine
from bot.storage.lease import SqlLease

log = logging.getLogger(__name__)
JOB_TABLE = "scheduled_jobs"
LEASE_NAME = "scheduler"
# Logged when this process wins the lease and starts running jobs (a readiness signal for tests and operators).
LEADING = "scheduler lease taken: running scheduled jobs"
_RUN_JOB = f"{__name__}:run_job"
# The JobScheduler whose worker thread this is (set as each worker starts).
_worker = threading.local()


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """A stored job, as a console lists it."""

    job_id: str
    name: str
    trigger: str
    next_run_at: datetime | None


def default_holder() -> str:
    """A name for this process as a lease holder, unique even where every container's process is pid 1."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_job(job_name: str, /, **kwargs: Any) -> None:
    """What every stored job calls: the job of that name, from the job table of the scheduler running it."""
    scheduler: JobScheduler = _worker.scheduler
    scheduler._run(job_name, kwargs)


def _bind_worker(scheduler: JobScheduler) -> None:
    _worker.scheduler = scheduler


class JobScheduler:
    """Runs the application's named jobs on schedules kept in the database, in the one process holding the lease."""

    def __init__(
        self,
        url_or_engine: str | Engine,
        jobs: Mapping[str, Callable[..., object]],
        *,
        holder: str,
        lease_s: float,
        misfire_grace_s: int,
        clock: Clock | None = None,
    ) -> None:
        self._owns_engine = isinstance(url_or_engine, str)
        self._engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        self._jobs = dict(jobs)
        self._lease = SqlLease(
            self._engine, LEASE_NAME, holder=holder, duration=timedelta(seconds=lease_s), clock=clock or SystemClock()
        )
        self._renew_every_s = lease_s / 3
        self._leading = False
        self._stop = threading.Event()
        self._lease_thread: threading.Thread | None = None
        self._scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self._engine, tablename=JOB_TABLE)},
            executors={"default": ThreadPoolExecutor(pool_kwargs={"initializer": _bind_worker, "initargs": (self,)})},
            job_defaults={"coalesce": True, "misfire_grace_time": misfire_grace_s, "max_instances": 1},
            timezone=UTC,
        )

    @property
    def holder(self) -> str:
        """This process's name as a lease holder."""
        return self._lease.holder

    @property
    def is_leader(self) -> bool:
        """Whether this process holds the lease and runs the jobs."""
        return self._leading

    def start(self) -> None:
        """Open the job store (jobs can be registered from now on) and start competing for the lease in a
        background thread; returns at once."""
        self._scheduler.start(paused=True)
        self._lease_thread = threading.Thread(target=self._keep_lease, name="scheduler-lease", daemon=True)
        self._lease_thread.start()

    def shutdown(self) -> None:
        """Stop running jobs (waiting for those running now) and give the lease up for a successor."""
        if self._lease_thread is None:
            return
        self._stop.set()
        self._lease_thread.join()
        self._lease_thread = None
        self._scheduler.shutdown(wait=True)
        self._leading = False
        try:
            self._lease.release()
        except Exception as exc:  # the lease then runs out by itself
            log.error("could not release the scheduler lease:\n%s", masked_traceback(exc))
        if self._owns_engine:
            self._engine.dispose()

    def every(self, name: str, interval: float | timedelta, *, job_id: str, **kwargs: Any) -> None:
        """Run the named job every interval (seconds or a timedelta), the first time one interval from now."""
        period = interval if isinstance(interval, timedelta) else timedelta(seconds=interval)
        if period <= timedelta(0):
            raise ValueError(f"interval must be positive, not {period}")
        self._register(name, IntervalTrigger(seconds=period.total_seconds(), timezone=UTC), job_id, kwargs)

    def at(self, name: str, when: datetime, *, job_id: str, **kwargs: Any) -> None:
        """Run the named job once, at when (timezone-aware)."""
        if when.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        self._register(name, DateTrigger(run_date=when, timezone=UTC), job_id, kwargs)

    def cron(self, name: str, expression: str, *, job_id: str, timezone: tzinfo = UTC, **kwargs: Any) -> None:
        """Run the named job on a crontab expression ("0 9 * * 1"), read in timezone."""
        self._register(name, CronTrigger.from_crontab(expression, timezone=timezone), job_id, kwargs)

    def remove(self, job_id: str) -> bool:
        """Delete a stored job; whether there was one."""
        try:
            self._scheduler.remove_job(job_id)
        except JobLookupError:
            return False
        return True

    def jobs(self) -> list[ScheduledJob]:
        """Every stored job, the soonest first."""
        return [
            ScheduledJob(job_id=job.id, name=job.name, trigger=str(job.trigger), next_run_at=job.next_run_time)
            for job in self._scheduler.get_jobs()
        ]

    def _register(self, name: str, trigger: Any, job_id: str, kwargs: dict[str, Any]) -> None:
        """Store the job under job_id, replacing a different one; the same schedule registered again (as every
        process does at each start) keeps its stored next run, so runs missed while nothing ran stay due."""
        if name not in self._jobs:
            raise ValueError(f"no job named {name!r}")
        if not self._scheduler.running:
            raise RuntimeError("start() the scheduler before registering jobs: they are written to the database")
        stored = self._scheduler.get_job(job_id)
        if stored is not None and stored.args == (name,) and stored.kwargs == kwargs:
            if _same_schedule(stored.trigger, trigger):
                return
        self._scheduler.add_job(
            _RUN_JOB, trigger, args=(name,), kwargs=kwargs, id=job_id, name=name, replace_existing=True
        )

    def _keep_lease(self) -> None:
        """The lease thread: try at once, then every lease_s/3 until shutdown."""
        while True:
            self._try_lease()
            if self._stop.wait(self._renew_every_s):
                return

    def _try_lease(self) -> None:
        """Renew or take the lease; resume job processing when won, pause it when lost (or not renewable)."""
        try:
            held = self._lease.try_acquire()
        except Exception as exc:  # the database is unreachable: this process cannot know it still leads
            log.error("could not renew the scheduler lease:\n%s", masked_traceback(exc))
            held = False
        if held and not self._leading:
            log.info("%s (%s)", LEADING, self.holder)
            self._scheduler.resume()
        elif held:
            self._scheduler.wakeup()  # look for jobs other processes added since
        elif self._leading:
            log.warning("scheduler lease lost (%s): scheduled jobs paused", self.holder)
            self._scheduler.pause()
        self._leading = held

    def _run(self, name: str, kwargs: dict[str, Any]) -> None:
        """Call one job (on a worker thread) if this process still holds the lease; log an error, never raise."""
        try:
            if not self._lease.held():
                log.warning("job %s skipped: this process no longer holds the scheduler lease", name)
                return
            job = self._jobs.get(name)
            if job is None:
                log.error("job %s skipped: no job of that name in this version", name)
                return
            job(**kwargs)
        except Exception as exc:  # one job's failure must not stop the scheduler
            log.error("job %s failed:\n%s", name, masked_traceback(exc))


def _same_schedule(stored: Any, trigger: Any) -> bool:
    """Whether two triggers fire alike: intervals by their length (an interval counts from when it was first
    stored), cron and date triggers by their whole state."""
    if isinstance(stored, IntervalTrigger) and isinstance(trigger, IntervalTrigger):
        return bool(stored.interval == trigger.interval)
    return type(stored) is type(trigger) and bool(stored.__getstate__() == trigger.__getstate__())
