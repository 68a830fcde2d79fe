"""The soak suite: windows, metrics and resuming a run that was stopped."""

import pytest
from rich.console import Console

from benchmarks import soak
from benchmarks.lab import Context, Run
from ffstream.stream import StreamLearner


def soak_once(tmp_path, **kw):
    cfg = soak.Config(frames=200, long_frames=300, progress_dir=str(tmp_path / "progress"), **kw)
    ctx = Context(device="cpu", console=Console(quiet=True))
    return soak.run_one(cfg, Run("ff-stream", 3, task="linear"), ctx)


def test_a_run_reports_every_window_and_leaves_no_progress_behind(tmp_path):
    out = soak_once(tmp_path)
    assert [w["end"] for w in out["windows"]] == list(range(20, 201, 20))
    assert all(0.0 <= w["accuracy"] <= 1.0 and w["rss_mb"] > 0 for w in out["windows"])
    report = out["metrics"]
    best = max(w["accuracy"] for w in out["windows"][:-1])
    assert report["last_minus_best_pp"] == pytest.approx(
        100 * (out["windows"][-1]["accuracy"] - best)
    )
    assert not any((tmp_path / "progress").iterdir())


def test_a_stopped_run_resumes_where_it_stopped_and_ends_alike(tmp_path, monkeypatch):
    whole = soak_once(tmp_path / "a")
    save, calls = StreamLearner.save, []

    def stop_after_four(self, path):
        save(self, path)
        calls.append(path)
        if len(calls) == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(StreamLearner, "save", stop_after_four)
    with pytest.raises(KeyboardInterrupt):
        soak_once(tmp_path / "b")
    monkeypatch.setattr(StreamLearner, "save", save)
    resumed = soak_once(tmp_path / "b")
    accuracy = [[w["accuracy"] for w in out["windows"]] for out in (whole, resumed)]
    assert accuracy[0] == accuracy[1]
