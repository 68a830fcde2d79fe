"""A live terminal dashboard for ``ffstream run`` (rich), and its plain-text fallback.

:class:`Dashboard` shows one agent run: a progress bar over env steps, the returns of recent
episodes as a sparkline with the 100-episode mean, the goodness of real against dreamed frames,
whether the agent is awake or asleep, and frames per second. When the console is not a terminal,
:class:`PlainReport` prints one line every few episodes instead.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["Dashboard", "PlainReport", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], lo: float | None = None, hi: float | None = None) -> str:
    """A one-line bar chart of ``values`` (one character each).

    Examples
    --------
    >>> sparkline([0, 1, 2, 3, 4, 5, 6, 7])
    '▁▂▃▄▅▆▇█'
    >>> sparkline([])
    ''
    """
    if not values:
        return ""
    lo = min(values) if lo is None else lo
    hi = max(values) if hi is None else hi
    span = hi - lo
    if span <= 0:
        return _BARS[0] * len(values)
    top = len(_BARS) - 1
    return "".join(_BARS[max(0, min(top, round((v - lo) / span * top)))] for v in values)


def _fmt(x: float, digits: int = 1) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


class _Rate:
    """Frames per second over the last few seconds."""

    def __init__(self) -> None:
        self.marks: deque[tuple[float, int]] = deque(maxlen=64)

    def __call__(self, steps: int) -> float:
        now = time.perf_counter()
        self.marks.append((now, steps))
        (t0, s0), (t1, s1) = self.marks[0], self.marks[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else math.nan


class Dashboard:
    """A rich ``Live`` view of an agent run; use as a context manager and call :meth:`update`.

    Parameters
    ----------
    console
        Where to draw (must be a terminal to animate).
    total_steps
        Env steps the run is allowed; the progress bar's length.
    title
        Shown on the panel, e.g. the env id and seed.
    threshold
        The mean return at which the env counts as solved (drawn as the sparkline's top).
    """

    def __init__(
        self,
        console: Console,
        total_steps: int,
        title: str = "ffstream run",
        threshold: float | None = None,
        start_steps: int = 0,
    ):
        self.console, self.title, self.threshold = console, title, threshold
        self.returns: deque[float] = deque(maxlen=60)
        self.progress = Progress(
            TextColumn("[bold]env steps"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task("steps", total=total_steps, completed=start_steps)
        self.rate = _Rate()
        self._sleeps = 0
        self._stats: dict[str, Any] = {}
        self.live = Live(self._render(), console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> Dashboard:
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)

    def add_episode(self, ret: float) -> None:
        self.returns.append(ret)

    def update(self, stats: dict[str, Any]) -> None:
        """Redraw with ``stats`` from :func:`ffstream.run.snapshot`."""
        asleep = stats["sleeps"] != self._sleeps
        self._sleeps = stats["sleeps"]
        self._stats = {**stats, "fps": self.rate(stats["steps"]), "asleep": asleep}
        self.progress.update(self.task, completed=stats["steps"])
        self.live.update(self._render())

    def _render(self):
        s = self._stats
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim", justify="right")
        table.add_column()
        hi = self.threshold if self.threshold is not None else None
        lo = 0.0 if hi is not None and hi > 0 else None
        table.add_row("returns", f"[cyan]{sparkline(list(self.returns), lo, hi)}[/]")
        table.add_row(
            "episodes",
            f"{s.get('episodes', 0):,}   last {_fmt(s.get('last_return'))}   "
            f"100-episode mean [bold]{_fmt(s.get('mean_return'))}[/]"
            + (f" / {self.threshold:g}" if self.threshold is not None else ""),
        )
        if s.get("solved_at") is not None:
            table.add_row("solved", f"[bold green]at {s['solved_at']:,} env steps[/]")
        table.add_row(
            "goodness",
            f"real [green]{_fmt(s.get('real_goodness'), 2)}[/]   "
            f"dreamed [magenta]{_fmt(s.get('dream_goodness'), 2)}[/]",
        )
        state = "[magenta]asleep (dreaming)[/]" if s.get("asleep") else "[green]awake[/]"
        table.add_row(
            "agent",
            f"{state}   sleeps {s.get('sleeps', 0):,}   updates {s.get('updates', 0):,}   "
            f"ε {_fmt(s.get('epsilon'), 3)}",
        )
        table.add_row("speed", f"{_fmt(s.get('fps'), 0)} frames/s")
        return Panel(Group(table, self.progress), title=self.title, border_style="blue")


class PlainReport:
    """One plain line every ``every`` episodes (for logs and pipes), then a summary.

    Examples
    --------
    >>> import io
    >>> from rich.console import Console
    >>> report = PlainReport(Console(file=io.StringIO()), every=1)
    >>> report.episode({"episodes": 1, "steps": 20, "last_return": 20.0, "mean_return": 20.0,
    ...                 "epsilon": 1.0, "real_goodness": float("nan"),
    ...                 "dream_goodness": float("nan"), "sleeps": 0})
    >>> report.console.file.getvalue().split()[:2]
    ['episode', '1']
    """

    def __init__(self, console: Console, every: int = 10):
        self.console, self.every = console, max(1, every)
        self.rate = _Rate()
        self.rate(0)

    def episode(self, stats: dict[str, Any]) -> None:
        fps = self.rate(stats["steps"])
        if stats["episodes"] % self.every:
            return
        self.console.print(
            f"episode {stats['episodes']:>6}  steps {stats['steps']:>9,}  "
            f"return {_fmt(stats['last_return']):>7}  mean100 {_fmt(stats['mean_return']):>7}  "
            f"eps {_fmt(stats['epsilon'], 3)}  goodness real {_fmt(stats['real_goodness'], 2)} "
            f"dreamed {_fmt(stats['dream_goodness'], 2)}  sleeps {stats['sleeps']}  "
            f"{_fmt(fps, 0)} frames/s",
            highlight=False,
            soft_wrap=True,
        )
