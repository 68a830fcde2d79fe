"""A live terminal dashboard for ``ffstream run`` (rich), and its plain-text fallback.

:class:`Dashboard` shows one agent run: a progress bar over env steps with the time left, the
returns of recent episodes as a sparkline scaled to them, their mean (over the last 100
episodes, or over all of them before the 100th, labelled with the count), the goodness of real
against dreamed frames and the TD loss, the agent's awake/asleep state and latest sleep, frames
per second, the device and torch's threads. When the console is not a terminal,
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

__all__ = ["Dashboard", "PlainReport", "eta", "mean_label", "sparkline"]

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


def eta(remaining: float, rate: float) -> str:
    """Time left for ``remaining`` steps at ``rate`` steps per second, as ``H:MM:SS``.

    Examples
    --------
    >>> eta(9000, 100.0)
    '0:01:30'
    >>> eta(10, float("nan"))
    '—'
    """
    if remaining <= 0:
        return "0:00:00"
    if not rate > 0 or math.isinf(rate):
        return "—"
    seconds = round(remaining / rate)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def mean_label(count: int, window: int = 100) -> str:
    """What the mean return is over: ``"100-episode mean"`` once ``window`` episodes exist.

    Examples
    --------
    >>> mean_label(4), mean_label(250)
    ('mean of the last 4', '100-episode mean')
    """
    return f"{window}-episode mean" if count >= window else f"mean of the last {count}"


class Dashboard:
    """A rich ``Live`` view of an agent run; use as a context manager and call :meth:`update`.

    The view is redrawn between env steps, where the agent is awake: a sleep phase runs inside
    a step. So the agent row shows the agent's own state (``stats["asleep"]``) and when its
    latest sleep phase ran (``stats["last_sleep"]``), never a guess from counters.

    Parameters
    ----------
    console
        Where to draw (must be a terminal to animate).
    total_steps
        Env steps the run is allowed; the progress bar's length (a vector step can end a little
        past it: the bar stops at its end, the run's summary says the true count).
    title
        Shown on the panel, e.g. the env id and seed.
    threshold
        The mean return at which the env counts as solved (shown beside the mean).
    start_steps
        Env steps done before this run (after ``--resume``).
    device, threads
        Shown in the speed row: where the agent computes, and torch's CPU threads.
    """

    def __init__(
        self,
        console: Console,
        total_steps: int,
        title: str = "ffstream run",
        threshold: float | None = None,
        start_steps: int = 0,
        device: str | None = None,
        threads: int | None = None,
    ):
        self.console, self.title, self.threshold = console, title, threshold
        self.total_steps, self.device, self.threads = total_steps, device, threads
        self.returns: deque[float] = deque(maxlen=60)
        self.progress = Progress(
            TextColumn("[bold]env steps"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA {task.fields[eta]}"),
            console=console,
        )
        self.task = self.progress.add_task(
            "steps", total=total_steps, completed=min(start_steps, total_steps), eta="—"
        )
        self.rate = _Rate()
        self._stats: dict[str, Any] = {}
        self.live = Live(self._render(), console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> Dashboard:
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)

    @property
    def last_return(self) -> float:
        """The latest episode's return shown (NaN before the first)."""
        return self.returns[-1] if self.returns else math.nan

    def add_episode(self, ret: float) -> None:
        self.returns.append(ret)

    def update(self, stats: dict[str, Any]) -> None:
        """Redraw with ``stats`` from :func:`ffstream.run.snapshot`."""
        fps = self.rate(stats["steps"])
        steps = min(stats["steps"], self.total_steps)
        left = eta(self.total_steps - stats["steps"], fps)
        self._stats = {**stats, "fps": fps}
        self.progress.update(self.task, completed=steps, eta=left)
        self.live.update(self._render())

    def _render(self):
        s = self._stats
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim", justify="right")
        table.add_column()
        returns = list(self.returns)
        span = f"   [dim]{_fmt(min(returns))} to {_fmt(max(returns))}[/]" if returns else ""
        table.add_row("returns", f"[cyan]{sparkline(returns)}[/]{span}")
        count, window = s.get("mean_count", 0), s.get("window", 100)
        row = f"{s.get('episodes', 0):,}   last {_fmt(s.get('last_return'))}"
        if count:
            row += f"   {mean_label(count, window)} [bold]{_fmt(s['mean_return'])}[/]"
        if self.threshold is not None:  # the goal is always the full window's mean
            row += f"   [dim]goal: {window}-episode mean ≥ {self.threshold:g}[/]"
        table.add_row("episodes", row)
        if s.get("solved_at") is not None:
            table.add_row("solved", f"[bold green]at {s['solved_at']:,} env steps[/]")
        table.add_row(
            "goodness",
            f"real [green]{_fmt(s.get('real_goodness'), 2)}[/]   "
            f"dreamed [magenta]{_fmt(s.get('dream_goodness'), 2)}[/]   "
            f"TD loss {_fmt(s.get('td_loss'), 4)}",
        )
        table.add_row("agent", self._agent_row(s))
        where = f"   {self.device}" if self.device else ""
        if self.threads is not None:
            where += f" · {self.threads} thread{'s' if self.threads != 1 else ''}"
        table.add_row("speed", f"{_fmt(s.get('fps'), 0)} frames/s{where}")
        return Panel(Group(table, self.progress), title=self.title, border_style="blue")

    @staticmethod
    def _agent_row(s: dict[str, Any]) -> str:
        state = "[magenta]asleep (dreaming)[/]" if s.get("asleep") else "[green]awake[/]"
        sleeps, last = s.get("sleeps", 0), s.get("last_sleep")
        slept = f"sleeps {sleeps:,}"
        if last is not None:
            slept += f" (the last at {last:,} env steps, {s['steps'] - last:,} ago)"
        return (
            f"{state}   {slept}   updates {s.get('updates', 0):,}   ε {_fmt(s.get('epsilon'), 3)}"
        )


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
        count, window = stats.get("mean_count", 100), stats.get("window", 100)
        mean = f"mean{min(count, window)}"  # over what there is, until the window is full
        self.console.print(
            f"episode {stats['episodes']:>6}  steps {stats['steps']:>9,}  "
            f"return {_fmt(stats['last_return']):>7}  {mean:<7} {_fmt(stats['mean_return']):>7}  "
            f"eps {_fmt(stats['epsilon'], 3)}  goodness real {_fmt(stats['real_goodness'], 2)} "
            f"dreamed {_fmt(stats['dream_goodness'], 2)}  sleeps {stats['sleeps']}  "
            f"{_fmt(fps, 0)} frames/s",
            highlight=False,
            soft_wrap=True,
        )
