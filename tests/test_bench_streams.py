"""The streams suite: every stream kind, FF learners against river's baselines."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import runs_a_batched_kernel

from benchmarks import _streams_methods as methods
from benchmarks import streams
from benchmarks.lab import load_records
from ffstream import cli
from ffstream.data import linear_stream


def test_validation_and_report_seeds_never_overlap():
    assert set(streams.VALIDATION_SEEDS).isdisjoint(streams.REPORT_SEEDS)
    assert streams.SPLITS == {
        "validation": streams.VALIDATION_SEEDS,
        "report": streams.REPORT_SEEDS,
    }
    with pytest.raises(ValueError, match="seed 2 is both"):
        streams.check_splits({"validation": (0, 1, 2), "report": (2, 3)})
    for split, seeds in streams.SPLITS.items():
        ran = {r.seed for r in streams.runs(streams.Config(split=split))}
        assert ran == set(seeds)
        other = next(s for s in streams.SPLITS if s != split)
        with pytest.raises(ValueError, match=f"not a {split} seed"):
            streams.Config(split=split, seeds=(streams.SPLITS[other][0],))
    quick = streams.runs(streams.Config(frames=300, split="validation", seed_count=1))
    assert {r.seed for r in quick} == {streams.VALIDATION_SEEDS[0]}


def test_runs_put_classifiers_on_labelled_streams_and_detectors_on_sensor():
    cfg = streams.Config(seeds=(100,))
    pairs = {(r.task, r.method) for r in streams.runs(cfg)}
    labelled = [s for s in streams.STREAMS if s != "sensor"]
    assert pairs == {(s, m) for s in labelled for m in methods.CLASSIFIERS} | {
        ("sensor", m) for m in methods.DETECTORS
    }
    assert len(streams.STREAMS) >= 11
    assert {"logreg", "hat", "arf", "knn", "mlp", "hst"} <= set(streams.METHODS)
    assert streams.FULL.frames == 20_000 and streams.FULL.split == "report"


def test_suite_runs_end_to_end_and_resumes(tmp_path, capsys):
    results = tmp_path / "results"
    argv = ["bench", "streams", "--quick", "--frames", "300", "--streams", "linear,sensor"]
    argv += ["--methods", "ff-stream,logreg,mlp,hst", "--split", "validation"]
    argv += ["--results", str(results)]
    assert cli.main(argv) == 0
    records = {(r["task"], r["method"], r["seed"]): r for r in load_records(results)}
    assert set(records) == {
        ("linear", "ff-stream", 0),
        ("linear", "logreg", 0),
        ("linear", "mlp", 0),
        ("sensor", "ff-stream", 0),
        ("sensor", "hst", 0),
    }
    for (task, _, _), record in records.items():
        metrics, details = record["metrics"], record["details"]
        learner_options = ("lr", "weight_decay", "readout_lr", "readout_decay", "standardize")
        learner_options += ("long_term_share", "ema_decay", "ema_fallback_window")
        expected = {"frames": 300, "split": "validation", "ff_readout_reads_input": None}
        expected |= {f"ff_{name}": None for name in learner_options}
        assert record["config"] == expected
        assert details["split"] == "validation" and details["frames"] == 300
        assert metrics["frames_per_s"] > 0 and "peak_rss_mb" not in metrics
        if task == "sensor":
            assert 0.0 <= metrics["roc_auc"] <= 1.0 and details["anomalies"] > 0
            assert len(details["window_roc_auc"]) == 10
        else:
            assert set(metrics) == {"prequential_accuracy", "last_10pct_accuracy", "frames_per_s"}
            assert [n for n, _ in details["curve"]] == list(range(30, 301, 30))
            curve = [a for _, a in details["curve"]]
            assert metrics["prequential_accuracy"] == pytest.approx(np.mean(curve))
            assert metrics["last_10pct_accuracy"] == pytest.approx(curve[-1])
    # a linear concept on 16 features: the scaled linear model is well above chance (4 classes)
    assert records["linear", "logreg", 0]["metrics"]["prequential_accuracy"] > 0.5
    capsys.readouterr()
    assert cli.main(argv) == 0  # every run is found in the results folder
    assert capsys.readouterr().out.count("already in") == 5
    assert {(r["task"], r["method"]): r["metrics"] for r in load_records(results)} == {
        (t, m): r["metrics"] for (t, m, _), r in records.items()
    }


def test_memory_runs_each_method_in_its_own_process(tmp_path):
    argv = ["bench", "streams", "--quick", "--frames", "200", "--streams", "linear"]
    argv += ["--methods", "logreg", "--memory", "--results", str(tmp_path)]
    assert cli.main(argv) == 0
    (record,) = load_records(tmp_path)
    peak, baseline = record["metrics"]["peak_rss_mb"], record["details"]["baseline_rss_mb"]
    assert 10 < baseline <= peak < 10_000
    assert record["seed"] == streams.REPORT_SEEDS[0] and record["details"]["frames"] == 200


def test_methods_are_seeded_and_deterministic():
    x, y = linear_stream(200, seed=0)
    for method in ("mlp", "logreg", "hat"):
        first = methods.run_method(method, "linear", x, y, seed=5)
        again = methods.run_method(method, "linear", x, y, seed=5)
        assert first["curve"] == again["curve"], method
    assert methods.run_method("mlp", "linear", x, y, seed=0)["hidden"] == [64, 64]
    assert runs_a_batched_kernel(methods.OnlineMLP(16, 4, seed=0).optimizer)


def test_roc_auc_is_exact_with_ties():
    assert methods.roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert methods.roc_auc(np.array([0, 1, 0, 1]), np.array([1.0, 1.0, 1.0, 1.0])) == 0.5
    assert methods.roc_auc(np.array([0, 0]), np.array([0.1, 0.2])) is None


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--streams", "linear,nope", "'nope' is not one of"),
        ("--methods", "svm", "'svm' is not one of"),
        ("--split", "test", "'test' is not one of"),
    ],
)
def test_a_bad_flag_is_refused_by_the_parser(capsys, flag, value, message):
    with pytest.raises(SystemExit):
        cli.main(["bench", "streams", flag, value])
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "0"], "seed 0 is not a report seed"),
        (["--split", "validation", "--seeds", "100"], "seed 100 is not a validation seed"),
        (["--frames", "50"], "--frames must be at least 100"),
        (["--seed-count", "0"], "--seed-count must be at least 1"),
        (["--ff-ema-decay", "1.5"], "an --ff-* setting: ema_decay must be None or in [0, 1)"),
        (["--ff-lr", "-1"], "an --ff-* setting: lr must be"),
    ],
)
def test_a_bad_setting_is_a_clear_error(tmp_path, capsys, extra, message):
    argv = ["bench", "streams", "--quick", "--results", str(tmp_path), *extra]
    assert cli.main(argv) == 2
    assert message in " ".join(capsys.readouterr().out.split())
    assert not list(tmp_path.rglob("*.json"))


def test_learner_options_reach_the_learner(monkeypatch):
    from benchmarks import _streams_methods

    made = []
    real = _streams_methods.StreamLearner
    monkeypatch.setattr(
        _streams_methods, "StreamLearner", lambda *a, **kw: made.append(kw) or real(*a, **kw)
    )
    cfg = streams.Config(frames=100, ff_readout_decay=0.003, ff_ema_decay=0.999)
    assert cfg.learner_options() == {"readout_decay": 0.003, "ema_decay": 0.999}
    assert streams.Config(frames=100).learner_options() == {}
    x, y = _streams_methods.make_stream("linear", 100, 0)
    _streams_methods.run_method("ff-stream", "linear", x, y, 0, cfg.learner_options())
    assert made and made[0]["readout_decay"] == 0.003 and made[0]["ema_decay"] == 0.999


def test_the_seed_note_names_methods_and_streams_that_differ_from_the_usual_count():
    from benchmarks._streams_table import _seed_counts

    def records(method, stream, seeds):
        return [{"method": method, "task": stream, "seed": s} for s in seeds]

    rows = records("a", "x", range(3)) + records("a", "y", range(3)) + records("b", "x", range(3))
    rows += records("b", "y", range(4)) + records("c", "x", range(5)) + records("c", "y", range(5))
    assert _seed_counts(rows) == "3 seeds (c: 5; y: 3 to 4)"
    assert _seed_counts(records("a", "x", [7])) == "1 seed"
