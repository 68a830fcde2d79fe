"""How a learner's calls run: one at a time (a lock), on a set number of CPU threads."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import torch

__all__ = ["check_threads", "cpu_threads", "locked", "resolve_device"]


def locked(method):
    """Run ``method`` holding its object's lock (``_lock``), so concurrent calls take turns,
    with torch limited to the object's CPU ``threads`` for the call."""

    @functools.wraps(method)
    def run_locked(self, *args, **kwargs):
        with self._lock, cpu_threads(self.threads if self.device.type == "cpu" else None):
            return method(self, *args, **kwargs)

    return run_locked


@contextlib.contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Let torch use ``threads`` CPU threads inside the block, then restore the setting.

    ``None`` leaves torch's setting alone. Setting it costs well under a microsecond, so a
    learner can scope every call.
    """
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_threads(threads: int | None) -> int | None:
    """``threads`` if it is None or an int >= 1; ``ValueError`` otherwise."""
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be None or an int >= 1, got {threads!r}")
    return threads


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"`` (or None): CUDA when there is one, else the CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
