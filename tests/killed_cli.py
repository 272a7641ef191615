"""``python -m tests.killed_cli STEP ARGV...``: the CLI, killed with ``os._exit(75)`` when the
ingest reaches ``STEP`` (a real process death, for the crash tests). The kill is injected
through :func:`cli.main`'s ``on_step``; the product has no test hook of its own."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import cli


def _die_at(step: str) -> Callable[[str], None]:
    def on_step(reached: str) -> None:
        if reached == step:
            os._exit(75)

    return on_step


if __name__ == "__main__":
    raise SystemExit(cli.main(sys.argv[2:], on_step=_die_at(sys.argv[1])))
