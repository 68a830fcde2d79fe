"""A benchmark process's resident memory: its peak so far, and what it holds now."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

__all__ = ["peak_rss_mb", "rss_mb"]


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, else KiB


def rss_mb() -> float:
    """This process's resident memory now, in MiB (its peak where ``/proc`` is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()
