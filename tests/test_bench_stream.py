"""The stream-mnist benchmark end to end on tiny generated IDX files.

The files are written with :func:`ffstream.data.write_idx` in the official layout; their
checksums are not the official ones, so the suite runs with ``--no-verify``. The tests check the
shape of the results and that the bare loop really does the learner's arithmetic, not accuracy.
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import bench_args, write_fake_mnist
from rich.console import Console

from ffstream import bench, cli
from benchmarks import stream_mnist

N_TRAIN, N_TEST = 300, 50
TINY = [
    "--hidden",
    "32,32",
    "--window",
    "100",
    "--speed-batch-sizes",
    "1,64",
    "--speed-seconds",
    "0.02",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), N_TRAIN, N_TEST)


def test_run_returns_complete_result(data_dir):
    args = bench_args("stream-mnist", data_dir, "--quick", *TINY, "--batch-sizes", "10,30")
    threads = torch.get_num_threads()
    result = stream_mnist.run(args, Console(quiet=True))
    assert torch.get_num_threads() == threads  # restored after the run
    json.dumps(result)  # serialisable as it is
    assert result["suite"] == "stream-mnist" and result["quick"] is True
    for key in ("date", "device", "device_name", "torch", "ffstream", "python"):
        assert isinstance(result[key], str) and result[key]
    assert result["data"] == {
        "root": str(data_dir),
        "stream_frames": N_TRAIN,
        "test_frames": N_TEST,
    }
    assert result["learner_overrides"] == {"hidden": (32, 32)}
    assert "lr" in result["learner_defaults"]

    names = [c.name for c in stream_mnist.conditions(stream_mnist.QUICK)]
    assert names == [
        "ff-interleaved",
        "ff-sleep-100",
        "ff-sleep-1000",
        "ff-sleep-10000",
        "ff-sleep-1000-no-replay",
        "backprop-mlp",
    ]
    runs = {(r["condition"], r["batch_size"]): r for r in result["runs"]}
    assert set(runs) == {(name, b) for name in names for b in (10, 30)}
    for r in result["runs"]:
        assert 0.0 <= r["prequential_accuracy"] <= 1.0
        assert 0.0 <= r["test_accuracy"] <= 1.0
        assert r["frames_per_s"] > 0
        assert [p["frames"] for p in r["curve"]] == [100, 200, 300]
    assert runs[("ff-sleep-100", 10)]["sleeps"] == 3
    assert runs[("ff-sleep-10000", 30)]["sleeps"] == 0
    assert runs[("ff-interleaved", 10)]["schedule"] == "Interleaved()"
    assert runs[("ff-sleep-1000-no-replay", 10)]["learner"]["replay"] is False
    assert set(runs[("ff-interleaved", 10)]["test_accuracy_by_mode"]) == {"goodness", "readout"}
    tuning = runs[("backprop-mlp", 10)]["tuning"]
    assert len(tuning["grid"]) == len(stream_mnist.QUICK.bp_grid)
    assert tuning["chosen"] in tuning["grid"] and tuning["tune_frames"] == N_TRAIN
    assert runs[("backprop-mlp", 30)]["sizes"] == [784, 32, 32, 10]

    speed = {(s["labelled"], s["batch_size"]): s for s in result["speed"]}
    assert set(speed) == {(False, 1), (False, 64), (True, 1), (True, 64)}
    for s in speed.values():
        assert s["observe_frames_per_s"] > 0 and s["bare_frames_per_s"] > 0
        assert s["ratio"] > 0 and s["ratio_cpu_time"] > 0
        assert len(s["ratio_per_round"]) == s["rounds"] >= 3
    assert all(d < 1e-4 for d in result["speed_equivalence_max_weight_diff"].values())


def test_bare_loop_matches_observe():
    x, y = torch.rand(8, 784), torch.randint(0, 10, (8,))
    for labelled in (False, True):
        diff = stream_mnist.equivalence_check(labelled, (16, 16), None, x, y, "cpu", 0, steps=5)
        assert diff < 1e-5


def test_profile_reports_ffstream_functions():
    learner = stream_mnist._speed_learner(True, (16, 16), None, "cpu", 0)
    bare = stream_mnist.bare_learner(learner)
    sample = [(torch.rand(1, 784), torch.tensor([3]))]
    report = stream_mnist.profile_observe(learner, bare, sample, labelled=True, iters=5)
    functions = [r["function"] for r in report["ffstream_by_cumulative"]]
    assert functions[0] == "ffstream/stream/learner.py:observe"
    assert report["observe_us_profiled"] > 0
    ops = report["aten_ops_per_call"]
    assert ops["observe"] > ops["bare"] > 0


def test_cli_writes_json(data_dir, tmp_path):
    out = tmp_path / "result.json"
    argv = ["bench", "stream-mnist", "--data", str(data_dir), "--no-verify", "--out", str(out)]
    argv += ["--device", "cpu", "--quick", "--frames", "100", *TINY, "--profile"]
    assert cli.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["suite"] == "stream-mnist" and result["data"]["stream_frames"] == 100
    assert {r["batch_size"] for r in result["runs"]} == {1}  # --quick: batch 1 only
    assert all("profile" in s for s in result["speed"])


def test_registered_and_quick_is_smaller():
    suite = bench.load_suite("stream-mnist")
    assert suite is stream_mnist and stream_mnist.DESCRIPTION
    assert stream_mnist.QUICK.frames < 60_000 and stream_mnist.QUICK.batch_sizes == (1,)
    assert stream_mnist.FULL.frames is None and stream_mnist.FULL.batch_sizes == (1, 10)


def test_ablation_runs_each_lever_once_without_backprop_or_speed(data_dir):
    argv = ["--ablation", "--frames", "60", "--batch-sizes", "10", "--hidden", "16,16"]
    args = bench_args("stream-mnist", data_dir, *argv)
    result = stream_mnist.run(args, Console(quiet=True))
    names = [r["condition"] for r in result["runs"]]
    assert (
        len(names)
        == len(set(names))
        == len(stream_mnist.ablation_conditions(stream_mnist.config_from_args(args)))
    )
    assert all(r["kind"] == "ff" for r in result["runs"]) and "speed" not in result
    by_name = {r["condition"]: r["learner"] for r in result["runs"]}
    assert by_name["SGD lr 1e-3, momentum 0.99"]["optimizer"] == "sgd"
    assert by_name["SGD lr 1e-3, momentum 0.99"]["momentum"] == 0.99
    assert by_name["no positive replay"]["replay"] is False
    assert "hard=False" in next(
        r["learner"]["dreams"] for r in result["runs"] if "uniform" in r["condition"]
    )


def test_only_narrows_conditions_and_names_the_choices(data_dir):
    args = bench_args(
        "stream-mnist", data_dir, "--ablation", "--only", "no positive replay", "--frames", "40"
    )
    assert [
        c.name for c in stream_mnist.selected_conditions(stream_mnist.config_from_args(args))
    ] == ["no positive replay"]
    with pytest.raises(ValueError, match="unknown condition.*ff-interleaved"):
        stream_mnist.config_from_args(
            bench_args("stream-mnist", data_dir, "--only", "no such thing")
        )


def test_replay_shift_gives_the_learner_image_frames_and_runs(data_dir):
    argv = ["--replay-shift", "1", "--only", "ff-sleep-100", "--frames", "120"]
    args = bench_args("stream-mnist", data_dir, *argv, "--batch-sizes", "10", "--hidden", "16,16")
    cfg = stream_mnist.config_from_args(args)
    learner = stream_mnist.make_learner(stream_mnist.selected_conditions(cfg)[0], cfg, "cpu")
    assert learner.frame_shape == (28, 28) and learner.replay_shift == 1
    result = stream_mnist.run(args, Console(quiet=True))
    assert result["learner_overrides"]["replay_shift"] == 1
    (run,) = result["runs"]
    assert run["learner"]["replay_shift"] == 1 and run["learner"]["in_features"] == [28, 28]
    assert run["sleeps"] == 1 and 0.0 <= run["test_accuracy"] <= 1.0
    with pytest.raises(ValueError, match="replay-shift"):
        stream_mnist.config_from_args(bench_args("stream-mnist", data_dir, "--replay-shift", "-1"))


def test_sleep_batch_override_reaches_the_learner(data_dir):
    cfg = stream_mnist.config_from_args(bench_args("stream-mnist", data_dir, "--sleep-batch", "5"))
    learner = stream_mnist.make_learner(stream_mnist.conditions(cfg)[1], cfg, "cpu")
    assert learner.sleep_batch == 5
    with pytest.raises(ValueError, match="sleep-batch"):
        stream_mnist.config_from_args(bench_args("stream-mnist", data_dir, "--sleep-batch", "0"))
