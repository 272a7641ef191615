"""The service's background ingests, each in a child process at a lower CPU priority.

An upload accepted by the API (``api.intake.take_upload``) and the scheduler's inbox ingest
job are ingested, and their figures published after each commit
(:func:`subsidy.refresh.publish` on :data:`ingest.uploads.AFTER_COMMIT`), in a child process
``python -m subsidy.ingest_child`` niced by :data:`NICE`: the service's own process keeps the
GIL and the CPU for the requests. The child is given only the data dir, the policy file
location (resolved there as the service resolves it: :func:`core.policy.resolve_policy`), the
upload id and the time of the ingest, never anything a client sent.

The calling thread waits for the child (the upload's status and ``GET /v1/jobs`` show the
progress as an in-process ingest would). A child that fails leaves the upload ``received``
(:func:`ingest.uploads.ingest_upload` does it in the child) for the scheduler's ingest job to
retry; a child killed, or killed by the parent after ``timeout`` seconds, leaves the store as
it was: the parent then takes the writer lock and runs :meth:`core.store.Store.recover`, which
puts the upload back to ``received`` and removes the event files it had written.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.exceptions import CoreError
from core.policy import Policy
from core.store import Store

#: How much lower the child's CPU priority is than the service's (``os.nice``).
NICE = 10
#: The default longest run of a child before it is killed (seconds).
DEFAULT_TIMEOUT = 6 * 3600.0
#: How often the waiting thread looks at its stop flag and the clock (seconds).
POLL = 0.2
#: The product's root folder: put on the child's ``PYTHONPATH``, so it runs this same code.
ROOT = Path(__file__).resolve().parents[1]

logger = logging.getLogger(__name__)

StopCheck = Callable[[], bool]
StepHook = Callable[[str], None]


class ChildFailed(CoreError):
    """The child process ended without doing its work (an error, a signal, the timeout)."""


def inbox_pass(
    store: Store, policy: Policy, *, now: datetime, settle: timedelta, stop: StopCheck
) -> dict[str, Any]:
    """The inbox ingest job's work: the settled inbox files, then the uploads still
    ``received`` (``errors``: both lists of errors)."""
    from ingest.inbox import ingest_inbox, ingest_received

    inbox = ingest_inbox(store, policy, now=now, settle=settle, stop=stop)
    received = ingest_received(store, policy, now=now, stop=stop)
    return {**inbox, **received, "errors": inbox["errors"] + received["errors"]}


def _command(data_dir: Path, policy_path: Path | None, task: list[str]) -> list[str]:
    command = [sys.executable, "-m", "subsidy.ingest_child", "--data-dir", str(data_dir)]
    if policy_path is not None:
        command += ["--policy", str(policy_path)]
    return command + task


def _run(
    store: Store,
    policy_path: Path | None,
    task: list[str],
    *,
    timeout: float,
    stop: StopCheck | None = None,
    stop_file: Path | None = None,
) -> None:
    """Run the child to its end; raises :class:`ChildFailed` unless it exits 0.

    Once ``stop()`` is true, ``stop_file`` is created: the child looks for it before each
    file and ends early (no signal: no race with its start-up). After ``timeout`` seconds it
    is killed. A child that failed is followed by a recovery of the store under the writer
    lock.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    command = _command(store.root, policy_path, task)
    asked = False
    if stop is not None and stop_file is not None and stop():  # stopping already
        stop_file.touch()
        asked = True
    # Its own session: a Ctrl-C to the service's process group does not reach it; the
    # service asks it to stop (``stop``) and waits for it, as for a job in a thread.
    child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            code = child.wait(timeout=POLL)
            break
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            child.kill()
            child.wait()
            _recover(store)
            raise ChildFailed(
                f"the ingest child (pid {child.pid}) ran longer than {timeout:g} s and was "
                "killed; the store is as it was before",
                code="ingest_child_timeout",
                seconds=timeout,
            )
        if stop is not None and stop_file is not None and not asked and stop():
            stop_file.touch()
            asked = True
    if code != 0:
        # Killed by a signal (or dead before its own clean-up): it may have left its upload
        # 'ingesting' and unlisted event files; nothing to do when it did not.
        _recover(store)
        raise ChildFailed(
            f"the ingest child (pid {child.pid}) ended with code {code}; the store is as "
            "it was before",
            code="ingest_child_failed",
            exit_code=code,
        )


def _recover(store: Store) -> None:
    """What a dead child left: its upload back to ``received``, its event files removed."""
    with store.writer_lock():
        store.recover()


def ingest_upload_in_child(
    store: Store,
    policy_path: Path | None,
    upload_id: int,
    now: datetime,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Ingest an accepted upload in a niced child (then publish); a failure is logged and
    leaves the upload ``received`` for the scheduler's ingest job to retry (as
    :func:`ingest.uploads.ingest_in_background` in a thread)."""
    try:
        _run(
            store,
            policy_path,
            ["upload", str(upload_id), "--now", now.isoformat()],
            timeout=timeout,
        )
    except Exception:
        logger.exception("background ingest of upload %s failed; it stays 'received'", upload_id)


def inbox_pass_in_child(
    store: Store,
    policy_path: Path | None,
    *,
    now: datetime,
    settle: timedelta,
    stop: StopCheck,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """:func:`inbox_pass` in a niced child; raises :class:`ChildFailed` when the child fails."""
    with tempfile.TemporaryDirectory(prefix="ingest-child-") as scratch:
        out, stop_file = Path(scratch) / "detail.json", Path(scratch) / "stop"
        task = ["inbox", "--now", now.isoformat(), "--settle", repr(settle.total_seconds())]
        task += ["--detail", str(out), "--stop-file", str(stop_file)]
        _run(store, policy_path, task, timeout=timeout, stop=stop, stop_file=stop_file)
        detail: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return detail


# -- the child ----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m subsidy.ingest_child")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--policy", type=Path, default=None)
    tasks = parser.add_subparsers(dest="task", required=True)
    upload = tasks.add_parser("upload")
    upload.add_argument("upload_id", type=int)
    upload.add_argument("--now", type=datetime.fromisoformat, required=True)
    inbox = tasks.add_parser("inbox")
    inbox.add_argument("--now", type=datetime.fromisoformat, required=True)
    inbox.add_argument("--settle", type=float, required=True)
    inbox.add_argument("--detail", type=Path, required=True)
    inbox.add_argument("--stop-file", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None, *, on_step: StepHook | None = None) -> int:
    """The child: ingest (and publish) at the lower priority; exit 0 once done.

    ``on_step`` is called with the name of each step of an upload's ingest (tests kill the
    child there: ``tests.killed_child``)."""
    os.nice(NICE)
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    # The publication after each commit: registered on ingest.uploads.AFTER_COMMIT.
    import subsidy.refresh  # noqa: F401
    from core.policy import resolve_policy
    from ingest.uploads import ingest_upload

    store = Store(args.data_dir).open_existing()
    policy = resolve_policy(store.root, args.policy)
    if args.task == "upload":
        ingest_upload(store, args.upload_id, policy, now=args.now, on_step=on_step)
        return 0
    detail = inbox_pass(
        store,
        policy,
        now=args.now,
        settle=timedelta(seconds=args.settle),
        stop=args.stop_file.exists,
    )
    args.detail.write_text(json.dumps(detail, ensure_ascii=False, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
