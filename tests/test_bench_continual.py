"""The continual suites (split-, permuted-, rotated-mnist, drift) end to end on tiny data.

MNIST-shaped IDX files are generated (a bright square whose place gives the class away), so the
suites run with ``--no-verify``. The tests check the shape of the results, not accuracy.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from conftest import bench_args, is_moved_copy, write_fake_mnist
from rich.console import Console

from ffstream import bench, cli
from benchmarks import continual, drift, permuted_mnist, rotated_mnist, split_mnist
from benchmarks._common import load_frames
from ffstream.stream import ClassBalancedMemory, ReservoirMemory, StreamLearner

N_TRAIN, N_TEST = 300, 60
TINY = ["--hidden", "16,16", "--eval-every", "50", "--memory", "40", "--sleep-every", "10"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), N_TRAIN, N_TEST)


def test_suites_are_registered():
    for name in ("split-mnist", "permuted-mnist", "rotated-mnist", "drift"):
        assert bench.load_suite(name).DESCRIPTION


def test_split_mnist_matrices_and_metrics(data_dir):
    args = bench_args("split-mnist", data_dir, "--quick", *TINY, "--train-per-task", "20")
    result = split_mnist.run(args, Console(file=io.StringIO()))
    entries = {(e["scenario"], e["method"]): e for e in result["results"]}
    assert set(entries) == {
        (s, m) for s in ("split-mnist", "split-mnist-domain") for m in continual.METHODS
    }
    for (scenario, _method), e in entries.items():
        views = (
            {"class-incremental", "task-incremental"}
            if scenario == "split-mnist"
            else {"domain-incremental"}
        )
        assert set(e["views"]) == views
        (run,) = e["runs"]
        assert run["frames"] == 5 * 20
        for view in views:
            R = np.asarray(run["R"][view])
            assert R.shape == (5, 5) and ((R >= 0) & (R <= 1)).all()
            assert len(run["baseline"][view]) == 5
            assert set(e["metrics"][view]) == {
                "average_accuracy",
                "backward_transfer",
                "forgetting",
                "forward_transfer",
            }
            assert e["metrics"][view]["forward_transfer"]["mean"] is not None
        assert [p["frames"] for p in run["curve"]] == [50, 100]
        assert e["stored_frames"] <= 40
    assert "| class-incremental | ff |" in result["table"]
    assert result["plots"] == []  # no --out


def test_permuted_mnist_cli_writes_json_and_plots(data_dir, tmp_path):
    out = tmp_path / "permuted.json"
    argv = ["bench", "permuted-mnist", "--data", str(data_dir), "--no-verify", "--device", "cpu"]
    argv += ["--out", str(out), "--quick", *TINY, "--tasks", "3", "--train-per-task", "20"]
    argv += ["--methods", "ff,backprop-replay", "--batch-size", "5"]
    argv += ["--ff-predict-with", "goodness"]  # the full config's predictor, on tiny data
    assert cli.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["suite"] == "permuted-mnist" and result["config"]["num_tasks"] == 3
    assert result["config"]["ff_predict_with"] == "goodness"
    assert result["config"]["ff_goodness_layers"] == "all"
    assert [e["method"] for e in result["results"]] == ["ff", "backprop-replay"]
    for e in result["results"]:
        assert np.asarray(e["R_mean"]["domain-incremental"]).shape == (3, 3)
    pytest.importorskip("matplotlib")
    assert len(result["plots"]) == 2
    for path in result["plots"]:
        assert path.endswith(".png") and (tmp_path / path.split("/")[-1]).stat().st_size > 0


def test_rotated_mnist_turns_each_task_and_runs_every_method(data_dir):
    args = bench_args("rotated-mnist", data_dir, "--quick", *TINY, "--tasks", "3")
    args.train_per_task = 20
    cfg = rotated_mnist.config_from_args(args)
    data = load_frames(data_dir, verify=False)
    (build,) = rotated_mnist.build_scenarios(data, cfg)
    scenario = build(0)
    assert [t.name for t in scenario.tasks] == ["r0", "r60", "r120"]
    assert scenario.image_shape == scenario.iid(0).image_shape == (28, 28)  # replay_shift can run
    first, second = scenario.tasks[0], scenario.tasks[1]
    n = len(first.x_test)
    assert torch.equal(first.x_test, data["test"][0][:n])  # task 0 is MNIST itself
    turned = rotate_flat(data["test"][0][:n], 60)
    assert torch.allclose(second.x_test, turned) and not torch.allclose(second.x_test, first.x_test)
    assert torch.equal(second.y_test, first.y_test) and len(second.x_train) == 20
    result = rotated_mnist.run(args, Console(file=io.StringIO()))
    assert [e["method"] for e in result["results"]] == list(continual.METHODS)
    for e in result["results"]:
        assert np.asarray(e["R_mean"]["domain-incremental"]).shape == (3, 3)
    with pytest.raises(ValueError, match="max-degrees"):
        rotated_mnist.config_from_args(
            bench_args("rotated-mnist", data_dir, "--max-degrees", "inf")
        )


def rotate_flat(x: torch.Tensor, degrees: float) -> torch.Tensor:
    from ffstream.data import rotate

    return rotate(x.view(-1, 28, 28), degrees).reshape(len(x), 784)


def test_permuted_tasks_are_permutations_of_the_same_frames(data_dir):
    cfg = permuted_mnist.config_from_args(bench_args("permuted-mnist", data_dir, "--tasks", "2"))
    data = load_frames(data_dir, verify=False)
    (build,) = permuted_mnist.build_scenarios(data, cfg)
    first, second = build(0).tasks
    assert torch.equal(first.x_test, data["test"][0])  # task 0: the identity permutation
    assert build(0).image_shape is None  # scattered pixels: nothing to shift
    assert torch.equal(second.x_test.sort(1).values, first.x_test.sort(1).values)
    assert not torch.equal(second.x_test, first.x_test)
    assert torch.equal(build(0).tasks[1].x_train, second.x_train)  # seeded: same frames again


def test_bad_options_are_refused(data_dir):
    with pytest.raises(ValueError, match="unknown methods"):
        split_mnist.config_from_args(bench_args("split-mnist", data_dir, "--methods", "ff,sgd"))
    with pytest.raises(ValueError, match="batch-size"):
        split_mnist.config_from_args(bench_args("split-mnist", data_dir, "--batch-size", "0"))
    with pytest.raises(ValueError, match="ff-sleep-batch"):
        split_mnist.config_from_args(bench_args("split-mnist", data_dir, "--ff-sleep-batch", "0"))
    with pytest.raises(ValueError, match="replay-batch"):
        split_mnist.config_from_args(bench_args("split-mnist", data_dir, "--replay-batch", "0"))
    with pytest.raises(ValueError, match="ff-readout-batch"):
        split_mnist.config_from_args(bench_args("split-mnist", data_dir, "--ff-readout-batch", "0"))
    args = bench_args("split-mnist", data_dir, "--ff-long-term-share", "2")
    with pytest.raises(ValueError, match="ff-long-term-share"):
        split_mnist.config_from_args(args)


def test_ff_memory_budget_is_respected():
    cfg = continual.ContinualConfig(memory=100, sleep_every=300, hidden=(8,))
    method = continual.make_method("ff", cfg, 4, 3, seed=0)
    assert method.stored_frames() == 100  # long-term + recent capacity
    assert method.learner.recent.capacity == 50


def _first_task_accuracy_after_second(ewc_lambda: float) -> float:
    """Two tasks with the same labels (a threshold on feature 0, then on feature 1)."""
    cfg = continual.ContinualConfig(hidden=(32,), ewc_lambda=ewc_lambda)
    method = continual.make_method("backprop-ewc", cfg, 6, 2, seed=0)
    g = torch.Generator().manual_seed(0)

    def batch(task: int, n: int = 10):
        x = torch.rand(n, 6, generator=g)
        return x + 2.0 * task, (x[:, task] > 0.5).long()

    for task in (0, 1):
        for _ in range(300):
            method.observe(*batch(task))
        if task == 0:
            method.end_task()
    return continual.evaluate(method, *batch(0, 2000))


def test_ewc_penalty_keeps_the_first_task():
    forgetful, held = _first_task_accuracy_after_second(0.0), _first_task_accuracy_after_second(1e4)
    assert held > forgetful + 0.2, (held, forgetful)  # 1e4 is capped at 1 / lr: no divergence


def test_iid_reference_shuffles_tasks_and_removes_the_forgetting(data_dir):
    args = bench_args("split-mnist", data_dir, "--quick", *TINY, "--iid", "--no-domain")
    args.train_per_task, args.methods, args.hidden = 60, "backprop", "32"
    result = split_mnist.run(args, Console(file=io.StringIO()))
    entries = {e["scenario"]: e for e in result["results"]}
    assert set(entries) == {"split-mnist", "split-mnist-iid"}
    iid = entries["split-mnist-iid"]
    assert iid["views"] == ["class-incremental (i.i.d.)", "task-incremental (i.i.d.)"]
    assert iid["runs"][0]["frames"] == entries["split-mnist"]["runs"][0]["frames"] == 5 * 60
    sequential = entries["split-mnist"]["metrics"]["class-incremental"]["average_accuracy"]
    mixed = iid["metrics"]["class-incremental (i.i.d.)"]["average_accuracy"]
    assert mixed["mean"] > sequential["mean"] + 0.4  # naive SGD forgets only in sequence
    assert "| class-incremental (i.i.d.) | backprop |" in result["table"]


def test_device_option_reaches_the_config_and_the_result(data_dir):
    args = bench_args("permuted-mnist", data_dir, "--quick", *TINY, "--tasks", "2")
    args.train_per_task, args.methods = 20, "ff,backprop"
    cfg = permuted_mnist.config_from_args(args)
    assert cfg.device == "cpu"
    result = permuted_mnist.run(args, Console(file=io.StringIO()))
    assert result["device"] == "cpu" and result["config"]["device"] == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_every_method_runs_on_the_gpu(data_dir):
    cfg = continual.ContinualConfig(hidden=(16,), memory=40, sleep_every=10, device="cuda")
    data = load_frames(data_dir, verify=False)
    scenario = permuted_mnist.build_scenarios(data, permuted_mnist.QUICK)[0](0).to("cuda")
    scenario.tasks = scenario.tasks[:2]
    for name in continual.METHODS:
        method = continual.make_method(name, cfg, scenario.in_features, 10, seed=0)
        run = continual.run_scenario(method, scenario, cfg, seed=0)
        assert np.asarray(run["R"]["domain-incremental"]).shape == (2, 2), name
        assert method.scores(scenario.tasks[0].x_test).device.type == "cuda", name


def test_ff_readout_and_memory_options_reach_the_learner(data_dir):
    default = continual.make_method("ff", split_mnist.FULL, 4, 3, seed=0)
    assert default.learner.readout_learns == "asleep"  # the suite's choices for new classes
    assert default.learner.readout_batch == 64  # Split-MNIST's; the others take the sleep batch
    permuted = continual.make_method("ff", permuted_mnist.FULL, 4, 3, seed=0).learner
    assert permuted.readout_batch == permuted.sleep_batch == 32
    assert isinstance(default.learner.memory, ClassBalancedMemory)
    args = bench_args("split-mnist", data_dir, "--ff-readout", "always", "--ff-memory", "reservoir")
    learner = continual.make_method("ff", split_mnist.config_from_args(args), 4, 3, 0).learner
    assert learner.readout_learns == "always" and isinstance(learner.memory, ReservoirMemory)
    assert learner.predict_with == "readout"
    # Permuted-MNIST predicts by the goodness of every label over all layers, but not --quick
    assert (permuted.predict_with, permuted.goodness_layers) == ("goodness", "all")
    assert (permuted.long_term_share, permuted.config["lr"]) == (0.75, 1.5e-4)  # less forgetting
    quick = continual.make_method("ff", permuted_mnist.QUICK, 4, 3, seed=0).learner
    assert quick.predict_with == "readout"
    assert quick.config["lr"] == StreamLearner(4, 3).config["lr"] != 1.5e-4
    assert default.learner.long_term_share == 0.5  # Split-MNIST keeps the learner's default
    args = bench_args("permuted-mnist", data_dir, "--ff-predict-with", "readout")
    learner = continual.make_method("ff", permuted_mnist.config_from_args(args), 4, 3, 0).learner
    assert learner.predict_with == "readout"
    args = bench_args("split-mnist", data_dir, "--ff-predict-with", "goodness")
    learner = continual.make_method("ff", split_mnist.config_from_args(args), 4, 3, 0).learner
    assert (learner.predict_with, learner.goodness_layers) == ("goodness", "above-first")
    args = bench_args("permuted-mnist", data_dir, "--ff-goodness-layers", "above-first")
    learner = continual.make_method("ff", permuted_mnist.config_from_args(args), 4, 3, 0).learner
    assert learner.goodness_layers == "above-first"
    args = bench_args("split-mnist", data_dir, "--ff-sleep-batch", "24", "--ff-readout-batch", "48")
    learner = continual.make_method("ff", split_mnist.config_from_args(args), 4, 3, 0).learner
    assert learner.sleep_batch == 24 and learner.readout_batch == 48
    args = bench_args("split-mnist", data_dir, "--ff-long-term-share", "0.25")
    learner = continual.make_method("ff", split_mnist.config_from_args(args), 4, 3, 0).learner
    assert learner.long_term_share == 0.25
    args = bench_args("permuted-mnist", data_dir, "--ff-ema-decay", "0.9")
    learner = continual.make_method("ff", permuted_mnist.config_from_args(args), 4, 3, 0).learner
    assert learner.config["ema_decay"] == 0.9 and learner.averaged is not None
    args = bench_args("split-mnist", data_dir, "--ff-ema-decay", "none")
    assert (
        continual.make_method("ff", split_mnist.config_from_args(args), 4, 3, 0).learner.averaged
        is None
    )
    args = bench_args("split-mnist", data_dir, "--replay-batch", "32")
    method = continual.make_method("backprop-replay", split_mnist.config_from_args(args), 4, 3, 0)
    assert method.replay_batch == 32
    with pytest.raises(ValueError, match="ff_memory"):
        continual.make_method("ff", continual.ContinualConfig(ff_memory="fifo"), 4, 3, 0)


def test_replay_shift_moves_what_backprop_replays():
    cfg = continual.ContinualConfig(hidden=(8,), memory=20, replay_batch=10, replay_shift=1)
    method = continual.make_method("backprop-replay", cfg, 16, 3, seed=0, image_shape=(4, 4))
    stored, y = torch.rand(10, 16), torch.arange(10) % 3
    method.observe(stored, y)
    inputs, model = [], method.model
    method.model = lambda x: inputs.append(x) or model(x)
    method.observe(torch.rand(10, 16), y)
    moved, unmoved = is_moved_copy(inputs[1], stored, (4, 4))  # inputs[1]: the replayed batch
    assert bool(moved.all()) and int(unmoved.sum()) < 10


def test_replay_shift_option_reaches_both_methods_and_needs_images(data_dir):
    args = bench_args("split-mnist", data_dir, "--quick", *TINY, "--replay-shift", "1")
    args.train_per_task, args.methods, args.no_domain = 20, "ff,backprop-replay", True
    result = split_mnist.run(args, Console(file=io.StringIO()))
    assert result["config"]["replay_shift"] == 1
    assert [e["method"] for e in result["results"]] == ["ff", "backprop-replay"]
    cfg = split_mnist.config_from_args(args)
    learner = continual.make_method("ff", cfg, 784, 10, 0, image_shape=(28, 28)).learner
    assert learner.replay_shift == 1 and learner.frame_shape == (28, 28)
    with pytest.raises(ValueError, match="no pixel layout"):
        continual.make_method("backprop-replay", cfg, 784, 10, 0)  # e.g. permuted frames
    with pytest.raises(ValueError, match="no pixel layout"):
        permuted_mnist.config_from_args(
            bench_args("permuted-mnist", data_dir, "--replay-shift", "1")
        )
    with pytest.raises(ValueError, match="replay-shift must be"):
        split_mnist.config_from_args(bench_args("split-mnist", data_dir, "--replay-shift", "-1"))
