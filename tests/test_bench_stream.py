"""The stream-mnist benchmark end to end on tiny generated IDX files.

The files are written with :func:`ffstream.data.write_idx` in the official layout; their
checksums are not the official ones, so the suite runs with ``--no-verify``. The tests check the
shape of the records, not accuracy; the replaying backprop baseline is also checked on its own,
on a tiny generated task.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import bench_args, fresh_results, runs_a_batched_kernel, write_fake_mnist
from rich.console import Console

from benchmarks import load_suite, stream_mnist
from benchmarks._common import IMAGE_SUITE_LEARNER
from benchmarks.lab import config_identity, preset_of, run_suite
from benchmarks.stream_conditions import ablation_conditions, selected_conditions, suite_conditions
from benchmarks.stream_learning import make_backprop, make_learner, make_replay, replay_plan
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
        "backprop-replay",
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
    assert "replay" not in runs[("backprop-mlp", "batch 10")]["details"]
    for batch in (10, 30):
        replay = runs[("backprop-replay", f"batch {batch}")]["details"]["replay"]
        assert replay["memory_frames"] == 3_000 and replay["stored_frames"] == N_TRAIN
        assert replay["replayed_per_step"] == 16 and replay["replayed_per_batch"] == 32
        assert replay["frames_per_step"] == batch + 16
        assert replay["steps"] == 2 * (N_TRAIN // batch)  # two steps per observed batch
        assert replay["steps_per_frame"] == pytest.approx(2 / batch)

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


def test_replay_plan_matches_what_ff_stores_and_replays(data_dir):
    cfg = _config(bench_args("stream-mnist", data_dir, "--quick"))
    ff = make_learner(selected_conditions(cfg)[2], cfg, "cpu")  # ff-sleep-1000
    plan = replay_plan(cfg)
    assert plan["memory_frames"] == ff.memory.capacity + ff.recent.capacity
    assert plan["memory"] == "reservoir"
    # the same weight average, with the same rule for when it predicts
    assert plan["ema_decay"] == ff.config["ema_decay"] is not None
    assert plan["ema_fallback_window"] == ff.config["ema_fallback_window"] is not None
    # two steps per batch (FF: one awake, one asleep on average) replay FF's sleep batch
    assert plan["steps_per_batch"] * plan["replayed_per_step"] == ff.sleep_batch
    argv = ["--sleep-batch", "8", "--replay-shift", "1"]
    plan = replay_plan(_config(bench_args("stream-mnist", data_dir, *argv)))
    assert plan["replayed_per_step"] == 4 and plan["replay_shift"] == 1
    image = replay_plan(_config(bench_args("stream-mnist", data_dir, *IMAGE_SUITES)))
    assert image["ema_decay"] is None and image["ema_fallback_window"] is None


IMAGE_SUITES = ["--ff-settings", "image-suites"]


def test_ff_settings_start_from_the_learners_defaults_or_the_image_suites(data_dir):
    cfg = _config(bench_args("stream-mnist", data_dir, "--quick"))
    condition = selected_conditions(cfg)[2]  # ff-sleep-1000
    mine = make_learner(condition, cfg, "cpu").config
    assert mine == StreamLearner(784, 10, seed=0).config
    cfg = _config(bench_args("stream-mnist", data_dir, "--quick", *IMAGE_SUITES, "--lr", "0.01"))
    image = make_learner(condition, cfg, "cpu").config
    assert image.lr == 0.01  # a flag wins over either starting point
    assert {k: getattr(image, k) for k in IMAGE_SUITE_LEARNER if k != "lr"} == {
        k: v for k, v in IMAGE_SUITE_LEARNER.items() if k != "lr"
    }
    with pytest.raises(ValueError, match="--ff-settings"):
        stream_mnist.Config(ff_settings="tuned")


def test_report_is_the_default_learner_against_replay_on_test_seeds():
    report = stream_mnist.REPORT
    assert [run.method for run in stream_mnist.runs(report)] == [
        "ff-sleep-1000",
        "backprop-mlp",
        "backprop-replay",
    ] * 5
    assert report.ff_settings == "defaults" and 100 not in report.seeds  # 100: validation
    assert preset_of(stream_mnist, report).startswith("custom-")


def _separable(n: int, seed: int):
    """``n`` frames of 10 classes, each a noisy copy of its class's random prototype (the same
    prototypes for every ``seed``)."""
    prototypes = torch.rand(10, 784, generator=torch.Generator().manual_seed(99))
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    return (prototypes[y] + 0.3 * torch.rand(n, 784, generator=g)).clamp(0, 1), y


@pytest.mark.parametrize("shift", [0, 1])
def test_backprop_replay_stores_its_capacity_replays_as_stated_and_learns(shift):
    plan = {
        "memory_frames": 40,
        "memory": "reservoir",
        "steps_per_batch": 2,
        "replayed_per_step": 5,
        "replay_shift": shift,
        "ema_decay": None,
    }
    method = make_replay(plan, (784, 32), "adam", 1e-3, seed=0, device="cpu")
    frames_seen = []  # frames in each forward pass: predictions and steps alike
    method.model.register_forward_pre_hook(lambda _m, args: frames_seen.append(len(args[0])))
    x, y = _separable(300, seed=1)
    right = 0
    for i in range(0, 300, 3):
        right += int((method.observe(x[i : i + 3], y[i : i + 3]) == y[i : i + 3]).sum())
        assert len(method.memory) <= 40
    assert len(method.memory) == method.memory.capacity == 40
    assert method.steps == 2 * 100
    # the first batch steps on itself alone; then predict 3, step on 3 + 5 twice
    assert frames_seen[:3] == [3, 3, 3] and frames_seen[3:] == [3, 8, 8] * 99
    x_test, y_test = _separable(200, seed=2)
    accuracy = float((method.predict(x_test, None) == y_test).float().mean())
    assert right / 300 > 0.3 and accuracy > 0.5  # chance is 0.1


def test_backprop_replays_average_steps_aside_while_the_learning_weights_lead():
    plan = {
        "memory_frames": 40,
        "memory": "reservoir",
        "steps_per_batch": 2,
        "replayed_per_step": 5,
        "replay_shift": 0,
        "ema_decay": 0.99,
        "ema_fallback_window": 20,
    }
    method = make_replay(plan, (784, 32), "adam", 1e-3, seed=0, device="cpu")
    x, y = _separable(120, seed=1)
    for i in range(0, 60, 3):
        method.observe(x[i : i + 3], y[i : i + 3])
    with torch.no_grad():  # an average that answers class 0 to everything: it falls behind
        for p in method.averaged.module.parameters():
            p.zero_()
    for i in range(60, 117, 3):
        method.observe(x[i : i + 3], y[i : i + 3])
    assert not method.averaged.trusted and method.predictor() is method.model
    with torch.no_grad():
        expected = method.model(x[117:]).argmax(1)
    assert torch.equal(method.observe(x[117:], y[117:]), expected)  # the learning weights'
    x_test, _ = _separable(50, seed=2)
    assert torch.equal(method.predict(x_test, None), method.model(x_test).argmax(1))
    method.averaged.live_lead.zero_()  # level again: the average predicts
    assert method.averaged.trusted and method.predictor() is method.averaged.module
    unguarded = make_replay(
        {**plan, "ema_fallback_window": None}, (784, 32), "adam", 1e-3, 0, "cpu"
    )
    unguarded.observe(x[:3], y[:3])
    assert unguarded.averaged.trusted and unguarded.predictor() is unguarded.averaged.module


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_both_backprop_conditions_step_with_the_kernels_ff_steps_with(optimizer):
    plan = replay_plan(stream_mnist.QUICK)
    _model, alone = make_backprop((784, 32), optimizer, 1e-3, seed=0, device="cpu")
    replaying = make_replay(plan, (784, 32), optimizer, 1e-3, seed=0, device="cpu").optimizer
    assert runs_a_batched_kernel(alone) and runs_a_batched_kernel(replaying)
