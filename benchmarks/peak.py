"""A benchmark child's own peak memory, without importing anything heavy (the DuckDB peer
uses it too, and must not pay for Polars)."""

from __future__ import annotations

import resource
from pathlib import Path


def own_peak_rss() -> int:
    """This process's peak resident memory in bytes (``VmHWM``: the high-water mark of its
    own memory since its ``exec``). The parent's ``wait4`` figure is not used alone: Linux
    carries the forking parent's high-water mark into the child's ``ru_maxrss`` across
    ``exec``, so a child of a large parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
