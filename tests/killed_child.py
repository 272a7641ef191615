"""``python -m tests.killed_child STEP NICE_FILE ARGV...``: the ingest child
(:mod:`subsidy.ingest_child`), which writes its niceness to ``NICE_FILE`` and kills itself
with SIGKILL when the upload's ingest reaches ``STEP`` (a real process death). The kill is
injected through :func:`subsidy.ingest_child.main`'s ``on_step``; the product has no test hook
of its own."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from subsidy import ingest_child


def _die_at(step: str, nice_file: Path) -> Callable[[str], None]:
    def on_step(reached: str) -> None:
        if reached == step:
            nice_file.write_text(str(os.nice(0)), encoding="utf-8")
            os.kill(os.getpid(), signal.SIGKILL)

    return on_step


if __name__ == "__main__":
    step, nice_file = sys.argv[1], Path(sys.argv[2])
    raise SystemExit(ingest_child.main(sys.argv[3:], on_step=_die_at(step, nice_file)))
