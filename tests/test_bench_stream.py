"""The stream-mnist benchmark end to end on tiny generated IDX files.

The files are written with :func:`ffstream.data.write_idx` in the official layout; their
checksums are not the official ones, so the suite runs with ``--no-verify``. The tests check the
shape of the records, not accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import bench_args, fresh_results, write_fake_mnist
from rich.console import Console

from benchmarks import load_suite, stream_mnist
from benchmarks.lab import config_identity, run_suite
from benchmarks.stream_conditions import ablation_conditions, selected_conditions, suite_conditions
from benchmarks.stream_learning import make_learner
from ffstream import cli
from ffstream.config import config_from_args
from ffstream.stream import StreamLearner

N_TRAIN, N_TEST = 300, 50
TINY = ["--hidden", "32,32", "--window", "100"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), N_TRAIN, N_TEST)


def _run(args):
    """The suite through the lab's runner: (records, combined JSON)."""
    combined = run_suite(stream_mnist, args, Console(quiet=True))
    json.dumps(combined)  # serialisable as it is
    records = [json.loads(p.read_text()) for p in sorted(Path(args.results).rglob("*.json"))]
    return records, combined


def _config(args):
    return config_from_args(args, stream_mnist.QUICK if args.quick else stream_mnist.FULL)


def test_run_writes_a_complete_record_per_condition_and_batch(data_dir):
    args = bench_args("stream-mnist", data_dir, "--quick", *TINY, "--batch-sizes", "10,30")
    records, combined = _run(args)
    names = [c.name for c in selected_conditions(stream_mnist.QUICK)]
    assert names == [
        "ff-interleaved",
        "ff-sleep-100",
        "ff-sleep-1000",
        "ff-sleep-10000",
        "ff-sleep-1000-no-replay",
        "backprop-mlp",
    ]
    for r in records:
        assert r["suite"] == "stream-mnist" and r["seed"] == 0
        for key in ("date", "device", "device_name", "torch", "ffstream", "python"):
            assert isinstance(r["environment"][key], str) and r["environment"][key]
        assert r["details"]["stream_frames"] == N_TRAIN and r["details"]["test_frames"] == N_TEST
    runs = {(r["method"], r["task"]): r for r in records}
    assert len(runs) == len(records)
    assert set(runs) == {(name, f"batch {b}") for name in names for b in (10, 30)}
    for r in runs.values():
        m = r["metrics"]
        assert 0.0 <= m["prequential_accuracy"] <= 1.0 and 0.0 <= m["test_accuracy"] <= 1.0
        assert m["frames_per_s"] > 0
        assert [p[0] for p in r["details"]["curve"]] == [100, 200, 300]
        assert all(0.0 <= p[1] <= 1.0 for p in r["details"]["curve"])
    assert runs[("ff-sleep-100", "batch 10")]["metrics"]["sleeps"] == 3
    assert runs[("ff-sleep-10000", "batch 30")]["metrics"]["sleeps"] == 0
    interleaved = runs[("ff-interleaved", "batch 10")]
    assert interleaved["details"]["schedule"] == "Interleaved()"
    assert {"test_goodness", "test_readout"} <= set(interleaved["metrics"])
    assert interleaved["details"]["learner_overrides"] == {"hidden": [32, 32]}
    assert runs[("ff-sleep-1000-no-replay", "batch 10")]["details"]["learner"]["replay"] is False
    tuning = runs[("backprop-mlp", "batch 10")]["details"]["tuning"]
    assert len(tuning["grid"]) == len(stream_mnist.QUICK.bp_grid)
    assert tuning["chosen"] in tuning["grid"] and tuning["tune_frames"] == N_TRAIN
    assert runs[("backprop-mlp", "batch 30")]["details"]["sizes"] == [784, 32, 32, 10]

    # the combined --out JSON keeps the suite's earlier layout
    assert combined["suite"] == "stream-mnist" and combined["preset"].startswith("custom-")
    assert combined["data"] == {
        "root": str(data_dir),
        "stream_frames": N_TRAIN,
        "test_frames": N_TEST,
    }
    assert combined["learner_overrides"] == {"hidden": (32, 32)}
    assert "lr" in combined["learner_defaults"]
    assert {(r["condition"], r["batch_size"]) for r in combined["runs"]} == {
        (name, b) for name in names for b in (10, 30)
    }
    assert not any(key.startswith("speed") for key in combined)


def test_data_source_is_not_part_of_a_runs_identity(data_dir):
    cfg = _config(bench_args("stream-mnist", data_dir, "--quick"))
    assert cfg.data == str(data_dir) and cfg.verify is False
    assert config_identity(cfg) == config_identity(stream_mnist.QUICK)


def test_a_second_invocation_resumes_from_the_records(data_dir):
    argv = ["--quick", "--frames", "40", "--hidden", "16,16", "--only", "ff-interleaved"]
    args = bench_args("stream-mnist", data_dir, *argv)
    first, _ = _run(args)
    again, _ = _run(args)
    assert [r["environment"]["date"] for r in first] == [r["environment"]["date"] for r in again]
    assert [r["method"] for r in first] == ["ff-interleaved"]


def test_cli_writes_json(data_dir, tmp_path):
    out = tmp_path / "result.json"
    argv = ["bench", "stream-mnist", "--data", str(data_dir), "--no-verify", "--out", str(out)]
    argv += ["--device", "cpu", "--quick", "--frames", "100", *TINY]
    assert cli.main([*argv, "--results", fresh_results()]) == 0
    result = json.loads(out.read_text())
    assert result["suite"] == "stream-mnist" and result["data"]["stream_frames"] == 100
    assert result["preset"].startswith("custom-")
    assert {r["batch_size"] for r in result["runs"]} == {1}  # --quick: batch 1 only


def test_registered_and_quick_is_smaller():
    suite = load_suite("stream-mnist")
    assert suite is stream_mnist and stream_mnist.DESCRIPTION
    assert stream_mnist.QUICK.frames < 60_000 and stream_mnist.QUICK.batch_sizes == (1,)
    assert stream_mnist.FULL.frames is None and stream_mnist.FULL.batch_sizes == (1, 10)


def test_ablation_runs_each_lever_once_without_backprop(data_dir):
    argv = ["--ablation", "--frames", "60", "--batch-sizes", "10", "--hidden", "16,16"]
    records, combined = _run(bench_args("stream-mnist", data_dir, *argv))
    names = [r["method"] for r in records]
    assert len(names) == len(set(names)) == len(ablation_conditions(1_000))
    assert all(r["details"]["kind"] == "ff" for r in records)
    by_name = {r["method"]: r["details"]["learner"] for r in records}
    assert by_name["sgd-lr1e-3-m0.99"]["optimizer"] == "sgd"
    assert by_name["sgd-lr1e-3-m0.99"]["momentum"] == 0.99
    assert by_name["ff-sleep-1000-no-replay"]["replay"] is False
    assert "hard=False" in by_name["dreams-uniform"]["dreams"]
    # the ablation shares its reference conditions with the suite (same names, same runs)
    shared = {c.name for c in suite_conditions((1_000,), 1_000)} & set(names)
    assert shared == {"ff-interleaved", "ff-sleep-1000", "ff-sleep-1000-no-replay"}


def test_only_narrows_conditions_and_names_the_choices(data_dir):
    argv = ["--ablation", "--only", "ff-sleep-1000-no-replay,dreams-hybrid", "--frames", "40"]
    cfg = _config(bench_args("stream-mnist", data_dir, *argv))
    assert [c.name for c in selected_conditions(cfg)] == [
        "ff-sleep-1000-no-replay",
        "dreams-hybrid",
    ]
    runs = [(r.task, r.method) for r in stream_mnist.runs(cfg)]  # no backprop
    assert runs == [(f"batch {b}", c.name) for b in (1, 10) for c in selected_conditions(cfg)]
    with pytest.raises(ValueError, match="unknown condition.*ff-interleaved"):
        _config(bench_args("stream-mnist", data_dir, "--only", "no such thing"))


def test_replay_shift_gives_the_learner_image_frames_and_runs(data_dir):
    argv = ["--replay-shift", "1", "--only", "ff-sleep-100", "--frames", "120"]
    args = bench_args("stream-mnist", data_dir, *argv, "--batch-sizes", "10", "--hidden", "16,16")
    cfg = _config(args)
    learner = make_learner(selected_conditions(cfg)[0], cfg, "cpu")
    assert learner.frame_shape == (28, 28) and learner.replay_shift == 1
    (record,), combined = _run(args)
    assert combined["learner_overrides"]["replay_shift"] == 1
    details = record["details"]
    assert details["learner"]["replay_shift"] == 1 and details["learner"]["in_features"] == [28, 28]
    assert record["metrics"]["sleeps"] == 1 and 0.0 <= record["metrics"]["test_accuracy"] <= 1.0
    with pytest.raises(ValueError, match="replay-shift"):
        _config(bench_args("stream-mnist", data_dir, "--replay-shift", "-1"))


def test_sleep_batch_override_reaches_the_learner(data_dir):
    cfg = _config(bench_args("stream-mnist", data_dir, "--sleep-batch", "5"))
    learner = make_learner(selected_conditions(cfg)[1], cfg, "cpu")
    assert learner.sleep_batch == 5
    with pytest.raises(ValueError, match="sleep-batch"):
        _config(bench_args("stream-mnist", data_dir, "--sleep-batch", "0"))


def test_bad_settings_name_their_flag(data_dir):
    with pytest.raises(ValueError, match="bp-grid"):
        _config(bench_args("stream-mnist", data_dir, "--bp-grid", "sgd:0.1,rmsprop:0.1"))
    with pytest.raises(ValueError, match="batch-sizes"):
        _config(bench_args("stream-mnist", data_dir, "--batch-sizes", "0"))
    assert _config(bench_args("stream-mnist", data_dir, "--seed", "3")).seeds == (3,)


def test_default_widths_are_the_learners_for_an_mnist_frame():
    from benchmarks.stream_mnist import FULL, QUICK, _hidden

    assert _hidden(FULL) == _hidden(QUICK) == StreamLearner(784, 10).config.hidden
