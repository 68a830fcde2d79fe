"""The learning curve of ``ffstream run --plot FILE.png``: episode returns over env steps.

matplotlib is an optional extra (``pip install "ffstream[plot]"``). :func:`check_plot` runs
before training, so a missing matplotlib or an unknown file type is refused up front;
:func:`plot_curve` draws with matplotlib's object API (no pyplot), so it changes no global
backend or figure state of the program that calls it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from ffstream._io import atomic_write

__all__ = ["PLOT_INSTALL", "PLOT_SUFFIXES", "check_plot", "plot_curve"]

#: how to install what ``--plot`` needs
PLOT_INSTALL = 'pip install "ffstream[plot]" (or pip install matplotlib)'
#: the file types ``--plot`` writes (matplotlib picks the format from the suffix)
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def check_plot(path: str | Path) -> None:
    """``ValueError`` (one line) unless matplotlib loads and ``path`` has a known suffix.

    Examples
    --------
    >>> check_plot("curve.gif")
    Traceback (most recent call last):
    ...
    ValueError: --plot curve.gif: give a .png, .svg or .pdf file
    """
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"--plot {path}: give a .png, .svg or .pdf file")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as err:
        raise ValueError(
            f"--plot needs matplotlib, which is not installed ({err}): {PLOT_INSTALL}"
        ) from None


def plot_curve(
    path: str | Path,
    curve: Sequence[tuple[int, float, float]],
    title: str,
    threshold: float | None = None,
) -> Path:
    """Draw episode returns and their running mean against env steps into ``path``.

    Parameters
    ----------
    path
        The image file (its suffix picks the format; see :data:`PLOT_SUFFIXES`).
    curve
        ``(env steps, return, mean return)`` of each episode, as
        :attr:`ffstream.run_log.RunOutputs.curve` keeps them (NaN means: no mean yet).
    title
        The figure's title (env id, seed).
    threshold
        The solved threshold, drawn as a dashed line when given.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    steps = [c[0] for c in curve]
    ax.plot(steps, [c[1] for c in curve], ".", ms=3, alpha=0.35, label="episode return")
    means = [(s, m) for s, _, m in curve if not math.isnan(m)]
    if means:
        ax.plot(
            *zip(*means, strict=True),
            lw=2,
            label="mean of the last 100 episodes (fewer before the 100th)",
        )
    if threshold is not None:
        ax.axhline(threshold, ls="--", color="gray", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlabel("env steps")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if curve:
        ax.legend(loc="best", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no episode finished", ha="center", transform=ax.transAxes)
    figure.tight_layout()
    path = Path(path)
    return atomic_write(path, lambda f: figure.savefig(f, format=path.suffix[1:].lower()))
