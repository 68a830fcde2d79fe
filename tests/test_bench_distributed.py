"""The distributed suite: one process and 2 gloo ranks on a tiny stream."""

import pytest
from rich.console import Console

from benchmarks import distributed
from benchmarks.lab import Context, Run


def test_ranks_and_one_process_learn_the_same_frames_and_report_alike(monkeypatch):
    monkeypatch.setattr(distributed, "START_METHOD", "fork")  # seconds less per rank
    cfg = distributed.Config(frames=96, test_frames=16, batch=4, every=8, repeats=1)
    ctx = Context(device="cpu", console=Console(quiet=True))
    single = distributed.run_one(cfg, Run("1-process", 3, task="linear"), ctx)["metrics"]
    ranks = distributed.run_one(cfg, Run("average", 3, task="linear"), ctx)["metrics"]
    for metrics in (single, ranks):
        assert metrics["frames_per_s"] > 0 and metrics["frames_per_cpu_s"] > 0
        assert 0.0 <= metrics["prequential_accuracy"] <= 1.0
        assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert single["speedup"] == 1.0 and single["ranks"] == 1
    assert ranks["ranks"] == 2 and ranks["max_divergence"] == 0.0  # averaged at the end
    assert ranks["speedup"] == pytest.approx(ranks["frames_per_s"] / single["frames_per_s"])


def test_bad_settings_are_refused_naming_them():
    with pytest.raises(ValueError, match="--nproc"):
        distributed.Config(nproc=0)
