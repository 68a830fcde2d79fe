"""The ``ffstream run`` dashboard and plain report, drawn from given stats (no training)."""

from __future__ import annotations

import io
import math

from rich.console import Console

from ffstream.dashboard import Dashboard, PlainReport, eta, mean_label


def _stats(**changes) -> dict:
    """Stats shaped like :func:`ffstream.run.snapshot`'s."""
    stats = {
        "episodes": 4, "steps": 100, "last_return": 12.0, "mean_return": 15.0,
        "mean_count": 4, "window": 100, "solved_at": None, "epsilon": 0.5, "td_loss": 0.25,
        "real_goodness": 1.5, "dream_goodness": 0.5, "asleep": False, "sleeps": 0,
        "last_sleep": None, "updates": 10,
    }  # fmt: skip
    return {**stats, **changes}


def _dashboard(total: int = 3000, **kwargs) -> Dashboard:
    console = Console(file=io.StringIO(), force_terminal=True, width=160)
    return Dashboard(console, total, "test", **kwargs)


def _text(dash: Dashboard) -> str:
    """The panel as plain text."""
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(dash._render())
    return console.file.getvalue()


def test_progress_bar_stops_at_its_end_and_shows_an_eta():
    dash = _dashboard(3000, threshold=475.0)
    dash.update(_stats(steps=1000))
    assert "ETA" in _text(dash) and "1000/3000" in _text(dash)
    dash.rate.marks[0] = (dash.rate.marks[0][0] - 10.0, 0)  # 1000 steps in 10 s: 100 per s
    dash.update(_stats(steps=1000))
    assert "ETA 0:00:20" in _text(dash)  # 2000 steps left at 100 per second
    dash.update(_stats(steps=3001))  # a vector step ends past the budget
    text = _text(dash)
    assert "3000/3000" in text and "3001" not in text and "ETA 0:00:00" in text


def test_eta_formats_and_unknown_rates():
    assert eta(7200 + 65, 1.0) == "2:01:05"
    assert eta(100, 0.0) == eta(100, math.nan) == "—"
    assert eta(-4, 100.0) == "0:00:00"


def test_sparkline_scales_to_the_returns():
    dash = _dashboard(threshold=475.0)
    for ret in (10.0, 20.0, 30.0):
        dash.add_episode(ret)
    dash.update(_stats())
    text = _text(dash)
    # pinned to 0-475, these returns would all draw the lowest bar
    assert "▁▅█" in text and "10.0 to 30.0" in text


def test_mean_is_labelled_with_what_it_is_over():
    dash = _dashboard(threshold=475.0)
    dash.update(_stats(mean_count=4, mean_return=15.0))
    text = _text(dash)
    assert "mean of the last 4 15.0" in text and "goal: 100-episode mean ≥ 475" in text
    dash.update(_stats(mean_count=100, episodes=130, mean_return=200.0))
    assert "100-episode mean 200.0" in _text(dash)
    dash.update(_stats(mean_count=0, episodes=0, mean_return=math.nan))
    assert "mean of" not in _text(dash)
    assert mean_label(99) == "mean of the last 99" and mean_label(5, window=5) == "5-episode mean"


def test_awake_and_asleep_come_from_the_agent_state():
    dash = _dashboard()
    dash.update(_stats(sleeps=3, last_sleep=90))  # the counter moved: still awake
    text = _text(dash)
    assert "awake" in text and "asleep" not in text
    assert "sleeps 3 (the last at 90 env steps, 10 ago)" in text
    dash.update(_stats(sleeps=3, last_sleep=90, asleep=True))  # counter still: asleep
    assert "asleep" in _text(dash)


def test_device_threads_and_td_loss_are_shown():
    dash = _dashboard(device="cpu", threads=1)
    dash.update(_stats())
    text = _text(dash)
    assert "cpu · 1 thread" in text and "TD loss 0.2500" in text
    dash = _dashboard(device="cuda:0", threads=4)
    dash.update(_stats())
    assert "cuda:0 · 4 threads" in _text(dash)


def test_plain_report_labels_the_mean_by_its_count():
    report = PlainReport(Console(file=io.StringIO(), width=200), every=1)
    report.episode(_stats(episodes=4, mean_count=4))
    report.episode(_stats(episodes=150, mean_count=100))
    first, second = report.console.file.getvalue().splitlines()
    assert "mean4 " in first and "mean100" not in first
    assert "mean100" in second
