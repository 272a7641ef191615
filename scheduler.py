"""When the domain functions run: the service's scheduled jobs (SPEC §10), and nothing else.

Jobs, by the id ``GET /v1/jobs`` shows::

    inbox_ingest   every --ingest-every seconds (default 300), and at start-up:
                   ingest.inbox.ingest_inbox, then ingest.inbox.ingest_received (in the
                   service: in a child process at a lower CPU priority, subsidy.ingest_child)
    monthly_draft  the 1st of each month at 02:00 Asia/Shanghai:
                   subsidy.drafts.write_monthly_draft of the previous month, as of the run
    store_upkeep   daily at 03:30 Asia/Shanghai: ingest.upkeep.clean_store,
                   subsidy.refresh.upkeep_publish (figures an interrupted publication left
                   unpublished), subsidy.frozen.freeze_closed (the parcel list of a closed
                   month that has none), then ingest.upkeep.compact_store and
                   subsidy.results.adopt_compaction, and the job history older than
                   HISTORY_DAYS is dropped

How the guarantees are kept (APScheduler 3, in-memory job store: the jobs are rebuilt at every
start, the history lives in the store's ``job_runs`` table):

- A job never overlaps itself: ``max_instances=1`` in the process, and every run holds
  ``DIR/.job-<id>.lock`` (flock), so a direct trigger or a second service on the same data dir
  waits its turn instead of running alongside.
- A run missed while the service was down runs once at start-up: a cron job whose history has
  no successful run since the last time it was due is due at once; the ingest job always runs
  at start-up. ``coalesce=True`` folds the runs a live scheduler misses (a suspended machine)
  into one, and ``misfire_grace_time=None`` lets a late cron run go on however late.
- Every run is a ``job_runs`` row (started, finished, outcome, what it did, error) and one JSON
  log line. A run that raises is recorded ``failed`` with its error and the schedule goes on; a
  run whose job reports per-item ``errors`` (an inbox file left in place) is ``failed`` too. A
  row left ``running`` by a dead process is marked ``interrupted`` once its lock is free.
- ``shutdown(wait=True)`` lets a running job finish: an ingest is atomic, an inbox pass stops
  between files, so nothing is left half-done.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.policy import Policy, resolve_policy
from core.store import Store
from core.timeutil import TZ, now_local
from ingest.inbox import DEFAULT_SETTLE
from ingest.upkeep import clean_store, compact_store
from subsidy.drafts import previous_month, write_monthly_draft
from subsidy.frozen import freeze_closed
from subsidy.ingest_child import DEFAULT_TIMEOUT, inbox_pass, inbox_pass_in_child
from subsidy.refresh import upkeep_publish
from subsidy.results import adopt_compaction

INBOX_INGEST, MONTHLY_DRAFT, STORE_UPKEEP = "inbox_ingest", "monthly_draft", "store_upkeep"
DEFAULT_INGEST_EVERY = 300.0
#: Environment fallback of ``start(ingest_every=...)`` (what ``serve --ingest-every`` sets).
HISTORY_DAYS = 90
RUNS_SHOWN = 10

log = logging.getLogger("parcel_subsidy.jobs")

StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class RunContext:
    """What a job's run is given: the store, the policy, the time of the run, a stop flag."""

    store: Store
    policy: Policy
    now: datetime
    stop: StopCheck
    settle: timedelta
    #: Run the ingest job in a niced child process (:mod:`subsidy.ingest_child`), which
    #: loads the policy from ``policy_path`` as :func:`start` did; else in this thread.
    in_child: bool = False
    policy_path: Path | None = None
    child_timeout: float = DEFAULT_TIMEOUT


def _inbox_ingest(ctx: RunContext) -> dict[str, Any]:
    if ctx.in_child:
        return inbox_pass_in_child(
            ctx.store,
            ctx.policy_path,
            now=ctx.now,
            settle=ctx.settle,
            stop=ctx.stop,
            timeout=ctx.child_timeout,
        )
    return inbox_pass(ctx.store, ctx.policy, now=ctx.now, settle=ctx.settle, stop=ctx.stop)


def _monthly_draft(ctx: RunContext) -> dict[str, Any]:
    return write_monthly_draft(ctx.store, ctx.policy, previous_month(ctx.now), ctx.now)


def _store_upkeep(ctx: RunContext) -> dict[str, Any]:
    cleaned = clean_store(ctx.store, now=ctx.now)
    published = upkeep_publish(ctx.store, ctx.policy, ctx.now)
    frozen = freeze_closed(ctx.store, ctx.policy)
    compacted = compact_store(ctx.store, now=ctx.now)
    carried = adopt_compaction(ctx.store, compacted)
    return {
        **cleaned,
        **compacted,
        "results_published": published,
        "results_carried_over": carried,
        "closed_parcel_lists_written": frozen,
        "job_runs_dropped": _drop_runs_before(ctx.store, ctx.now),
    }


#: Each job: what it runs, and what it does in a few words (shown by ``GET /v1/jobs``).
JOBS: dict[str, tuple[Callable[[RunContext], dict[str, Any]], str]] = {
    INBOX_INGEST: (
        _inbox_ingest,
        "ingest the files settled in DIR/inbox/<CARRIER>/ and the uploads still 'received'",
    ),
    MONTHLY_DRAFT: (
        _monthly_draft,
        "write the previous month's draft report to DIR/reports/YYYY-MM/ (JSON, CSV, XLSX)",
    ),
    STORE_UPKEEP: (
        _store_upkeep,
        "remove crash debris and stale scratch files older than a day; trim the job history",
    ),
}


def triggers(ingest_every: float) -> dict[str, tuple[BaseTrigger, str]]:
    """Each job's trigger (Asia/Shanghai) and its schedule in words."""
    return {
        INBOX_INGEST: (
            IntervalTrigger(seconds=ingest_every, timezone=TZ),
            f"every {ingest_every:g} s, and at start-up",
        ),
        MONTHLY_DRAFT: (
            CronTrigger(day=1, hour=2, minute=0, timezone=TZ),
            "the 1st of each month at 02:00 Asia/Shanghai",
        ),
        STORE_UPKEEP: (
            CronTrigger(hour=3, minute=30, timezone=TZ),
            "daily at 03:30 Asia/Shanghai",
        ),
    }


# -- the run history ----------------------------------------------------------------------


def _stamp(at: datetime) -> str:
    """Times of the history: Asia/Shanghai ISO 8601 to the millisecond (they sort as text)."""
    return at.astimezone(TZ).isoformat(timespec="milliseconds")


@contextlib.contextmanager
def _job_lock(store: Store, job: str, *, wait: bool = True) -> Iterator[bool]:
    """Hold ``DIR/.job-<job>.lock``; yields ``False`` (without it) if busy and not ``wait``."""
    with (store.root / f".job-{job}.lock").open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _mark_interrupted(store: Store, job: str) -> None:
    """Under the job's lock: a row still ``running`` belongs to a process that died."""
    with store.connect() as db:
        db.execute(
            "UPDATE job_runs SET outcome='interrupted', error=? WHERE job=? AND outcome='running'",
            ("the process stopped during the run", job),
        )


def _drop_runs_before(store: Store, now: datetime) -> int:
    with store.connect() as db:
        cur = db.execute(
            "DELETE FROM job_runs WHERE started_at < ? AND outcome != 'running'",
            (_stamp(now - timedelta(days=HISTORY_DAYS)),),
        )
        return cur.rowcount


def _ok_since(store: Store, job: str, since: datetime) -> bool:
    with store.connect() as db:
        row = db.execute(
            "SELECT 1 FROM job_runs WHERE job=? AND outcome='ok' AND started_at >= ? LIMIT 1",
            (job, _stamp(since)),
        ).fetchone()
    return row is not None


def _log_line(event: str, **fields: Any) -> None:
    log.info(json.dumps({"event": event, **fields}, ensure_ascii=False, default=str))


def _summary(detail: dict[str, Any]) -> dict[str, Any]:
    """The detail of a run with its lists replaced by their lengths (for the log line)."""
    return {k: len(v) if isinstance(v, list) else v for k, v in detail.items()}


def run_job(
    store: Store,
    policy: Policy,
    job: str,
    *,
    now: datetime | None = None,
    settle: timedelta = DEFAULT_SETTLE,
    stop: StopCheck | None = None,
    in_child: bool = False,
    policy_path: Path | None = None,
    child_timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Run one job now, recorded and logged; never raises for a failure of the job itself.

    Waits for a run of the same job in progress (in any thread or process) to end first.
    ``now`` is the time the job acts as of (default: the clock when the run starts).
    Returns the ``job_runs`` row as a dict (``detail`` parsed). ``in_child``: the ingest
    job runs in a niced child process that loads the policy from ``policy_path`` (see
    :class:`RunContext`).
    """
    if job not in JOBS:
        raise ValueError(f"no job {job!r}; jobs: {', '.join(JOBS)}")
    runner = JOBS[job][0]
    with _job_lock(store, job):
        _mark_interrupted(store, job)
        started, clock = now_local(), time.monotonic()
        with store.connect() as db:
            run_id = db.execute(
                "INSERT INTO job_runs (job, started_at, outcome) VALUES (?, ?, 'running')",
                (job, _stamp(started)),
            ).lastrowid
        ctx = RunContext(
            store,
            policy,
            now or started,
            stop or (lambda: False),
            settle,
            in_child=in_child,
            policy_path=policy_path,
            child_timeout=child_timeout,
        )
        tb = None
        try:
            detail = runner(ctx)
            errors = detail.get("errors") or []
            outcome, error = ("failed", "; ".join(errors)) if errors else ("ok", None)
        except Exception as exc:
            detail, outcome, error = {}, "failed", f"{type(exc).__name__}: {exc}"
            tb = traceback.format_exc()
        finished = now_local()
        with store.connect() as db:
            db.execute(
                "UPDATE job_runs SET finished_at=?, outcome=?, detail=?, error=? WHERE id=?",
                (
                    _stamp(finished),
                    outcome,
                    json.dumps(detail, ensure_ascii=False, default=str),
                    error,
                    run_id,
                ),
            )
    _log_line(
        "job_run",
        job=job,
        run_id=run_id,
        outcome=outcome,
        started_at=_stamp(started),
        finished_at=_stamp(finished),
        seconds=round(time.monotonic() - clock, 3),
        detail=_summary(detail),
        error=error,
        traceback=tb,
    )
    return {
        "id": run_id,
        "job": job,
        "started_at": _stamp(started),
        "finished_at": _stamp(finished),
        "outcome": outcome,
        "detail": detail,
        "error": error,
    }


def last_due(trigger: BaseTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest fire time of ``trigger`` at or before ``now`` (within ``lookback``)."""
    due, fire = None, trigger.get_next_fire_time(None, now - lookback)
    while fire is not None and fire <= now:
        due, fire = fire, trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return due


def missed(store: Store, job: str, trigger: BaseTrigger, now: datetime) -> bool:
    """Whether a cron job was due since its last successful run (it missed a run)."""
    due = last_due(trigger, now, timedelta(days=62))
    return due is not None and not _ok_since(store, job, due)


# -- the running service ------------------------------------------------------------------


class ServiceScheduler:
    """The handle :func:`start` returns: the running scheduler of one data dir."""

    def __init__(self, store: Store, scheduler: BackgroundScheduler, ingest_every: float):
        self.store = store
        self.ingest_every = ingest_every
        self._scheduler = scheduler
        self._stop = threading.Event()

    @property
    def stopping(self) -> StopCheck:
        return self._stop.is_set

    def next_run_time(self, job: str) -> datetime | None:
        found = self._scheduler.get_job(job)
        return None if found is None else found.next_run_time

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling; with ``wait``, return once the running jobs have ended."""
        global _active
        self._stop.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        if _active is self:
            _active = None


#: The scheduler running in this process, if any (what :func:`jobs_status` reports on).
_active: ServiceScheduler | None = None


def _ensure_log_handler() -> None:
    """One JSON line per record on stderr, whatever logging the host (uvicorn) set up."""
    if not any(getattr(h, "_parcel_subsidy", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._parcel_subsidy = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _on_skipped(event: JobEvent) -> None:
    reason = "still running" if event.code == EVENT_JOB_MAX_INSTANCES else "missed"
    _log_line("job_skipped", job=event.job_id, reason=reason)


def start(
    store: Store,
    policy_path: Path | None = None,
    *,
    ingest_every: float = DEFAULT_INGEST_EVERY,
    settle: timedelta = DEFAULT_SETTLE,
    ingest_in_child: bool = False,
    child_timeout: float = DEFAULT_TIMEOUT,
) -> ServiceScheduler:
    """Start the jobs in background threads; returns a handle with ``shutdown(wait=True)``.

    ``ingest_every`` (seconds) comes from the settings (``Settings.ingest_every``). The
    policy is loaded now (``policy_path``, else ``DIR/policy.toml``, else the default), so a
    bad one fails the start-up, not the first run. ``ingest_in_child`` (the service's
    ``Settings.ingest_in_child``): the inbox ingest job runs in a niced child process, which
    loads the same policy file; it is killed after ``child_timeout`` seconds.
    """
    global _active
    if not (math.isfinite(ingest_every) and ingest_every > 0):
        raise ValueError(f"ingest_every must be a positive number of seconds, not {ingest_every}")
    store.init()
    policy = resolve_policy(store.root, policy_path)
    _ensure_log_handler()
    scheduler = BackgroundScheduler(
        timezone=TZ,
        executors={"default": ThreadPoolExecutor(max_workers=len(JOBS))},
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    handle = ServiceScheduler(store, scheduler, ingest_every)
    scheduler.add_listener(_on_skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    now = now_local()
    for job, (trigger, schedule) in triggers(ingest_every).items():
        with _job_lock(store, job, wait=False) as free:
            if free:
                _mark_interrupted(store, job)
        at_once = job == INBOX_INGEST or missed(store, job, trigger, now)
        scheduler.add_job(
            run_job,
            trigger,
            args=(store, policy, job),
            kwargs={
                "settle": settle,
                "stop": handle.stopping,
                "in_child": ingest_in_child and job == INBOX_INGEST,
                "policy_path": policy_path,
                "child_timeout": child_timeout,
            },
            id=job,
            name=f"{job}: {schedule}",
            misfire_grace_time=max(1, int(ingest_every)) if job == INBOX_INGEST else None,
            **({"next_run_time": now} if at_once else {}),
        )
    scheduler.start()
    _active = handle
    return handle


def jobs_status(store: Store, ingest_every: float = DEFAULT_INGEST_EVERY) -> list[dict[str, Any]]:
    """Each job: id, what it does, its schedule, next run (when scheduled in this process;
    ISO 8601 Asia/Shanghai) and its last runs, newest first."""
    active = _active if _active is not None and _active.store.root == store.root else None
    every = active.ingest_every if active else ingest_every
    out = []
    with store.connect() as db:
        for job, (_, schedule) in triggers(every).items():
            rows = db.execute(
                "SELECT id, started_at, finished_at, outcome, detail, error FROM job_runs"
                " WHERE job=? ORDER BY id DESC LIMIT ?",
                (job, RUNS_SHOWN),
            ).fetchall()
            nxt = active.next_run_time(job) if active else None
            out.append(
                {
                    "id": job,
                    "description": JOBS[job][1],
                    "schedule": schedule,
                    "scheduled": active is not None,
                    "next_run_time": nxt.astimezone(TZ).isoformat() if nxt else None,
                    "last_runs": [{**dict(r), "detail": json.loads(r["detail"])} for r in rows],
                }
            )
    return out
