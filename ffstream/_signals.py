"""Stop a run cleanly on a signal: SIGINT, SIGTERM and SIGHUP become exceptions, once.

``docker stop``, systemd and SLURM send SIGTERM; a dropped ssh session sends SIGHUP; Ctrl-C sends
SIGINT. Inside :class:`StopOnSignal` the first of them raises (:class:`Stopped`, or
``KeyboardInterrupt`` for SIGINT) where the main thread is, so the caller can save and exit;
every later one is only recorded, so a second signal cannot interrupt that save.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["StopOnSignal", "Stopped"]


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived. A ``BaseException``, like ``KeyboardInterrupt``, so that no
    ``except Exception`` (an env wrapper's, say) swallows it; ``status`` is ``128 + signum``."""

    def __init__(self, signum: int):
        self.signum = signum
        self.status = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


class StopOnSignal:
    """Context manager turning SIGINT/SIGTERM/SIGHUP into a clean stop between steps.

    The first signal is only noted; the caller's loop calls :meth:`check` between steps, which
    raises (``KeyboardInterrupt`` for SIGINT, :class:`Stopped` otherwise), so the state it then
    saves is the state after a whole step. A second signal before that raises at once (a step
    that hangs can still be stopped). After :meth:`hold` (call it before saving) every signal is
    only recorded in ``deferred``: nothing can cut the save short. A signal that was ignored
    when the block started (``nohup`` ignores SIGHUP) stays ignored. Outside the main thread,
    where Python cannot install handlers, it does nothing.

    Examples
    --------
    >>> import os, signal
    >>> with StopOnSignal() as stop:
    ...     os.kill(os.getpid(), signal.SIGTERM)  # noted, nothing raised yet
    ...     try:
    ...         stop.check()
    ...     except Stopped as err:
    ...         os.kill(os.getpid(), signal.SIGHUP)  # while saving: deferred
    ...         print(err.status, stop.deferred)
    143 [1]
    """

    def __init__(self) -> None:
        names = ("SIGINT", "SIGTERM", "SIGHUP")  # SIGHUP does not exist on Windows
        self.signals = [getattr(signal, n) for n in names if hasattr(signal, n)]
        self.requested: int | None = None
        self.deferred: list[int] = []
        self._holding = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue  # ignored on purpose (nohup, a background job): keep it so
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def check(self) -> None:
        """Raise for a signal that arrived since the last check (call between steps)."""
        if self.requested is not None and not self._holding:
            self.hold()
            raise _exception(self.requested)

    def hold(self) -> None:
        """From now on only record signals (call before saving; idempotent)."""
        self._holding = True

    def _on_signal(self, signum: int, frame: object) -> None:
        if self._holding:
            self.deferred.append(signum)
        elif self.requested is None:
            self.requested = signum
        else:  # a second signal: the first was not acted on in time
            self.hold()
            raise _exception(signum)


def _exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)
