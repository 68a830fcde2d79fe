"""The continual suites (split-, permuted-, rotated-mnist) end to end on tiny data.

MNIST-shaped IDX files are generated (a bright square whose place gives the class away), so the
suites run with ``--no-verify``. The tests check the shape of the results, not accuracy. Every
run writes into a fresh results folder (``bench_args`` / ``fresh_results``).
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch
from conftest import (
    bench_args,
    fresh_results,
    is_moved_copy,
    runs_a_batched_kernel,
    write_fake_mnist,
)
from rich.console import Console

from benchmarks import (
    CONTRACT,
    continual,
    continual_report,
    load_suite,
    permuted_mnist,
    rotated_mnist,
    split_mnist,
)
from benchmarks._common import IMAGE_SUITE_LEARNER, load_frames
from benchmarks.lab import load_records, preset_of, run_suite
from ffstream import cli
from ffstream.config import config_from_args
from ffstream.stream import ClassBalancedMemory, ReservoirMemory

N_TRAIN, N_TEST = 300, 60
TINY = ["--hidden", "16,16", "--eval-points", "2", "--memory", "40", "--sleep-every", "10"]
SUMMARY = {
    "average_accuracy",
    "anytime_accuracy",
    "backward_transfer",
    "forgetting",
    "forward_transfer",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), N_TRAIN, N_TEST)


def _config(suite, data_dir, *extra):
    """The suite's config from ``ffstream bench`` flags, as the lab reads it."""
    args = bench_args(suite.NAME, data_dir, *extra)
    return config_from_args(args, suite.QUICK if args.quick else suite.FULL)


def _bench(suite, data_dir, *extra):
    """Run the suite through the lab; returns (combined result, its records)."""
    args = bench_args(suite.NAME, data_dir, *extra)
    result = run_suite(suite, args, Console(file=io.StringIO()))
    return result, load_records(args.results)


def test_suites_are_registered():
    for suite in (split_mnist, permuted_mnist, rotated_mnist):
        assert load_suite(suite.NAME) is suite and suite.DESCRIPTION
        assert all(hasattr(suite, name) for name in CONTRACT) and callable(suite.combine)
        assert suite.PAGE.anchors or suite.PAGE.notes


def test_split_mnist_matrices_and_metrics(data_dir):
    extra = ("--quick", *TINY, "--train-per-task", "20")
    result, records = _bench(split_mnist, data_dir, *extra)
    entries = {(e["scenario"], e["method"]): e for e in result["results"]}
    scenarios = ("split-mnist", "split-mnist-task", "split-mnist-domain")
    assert set(entries) == {(s, m) for s in scenarios for m in continual.METHODS}
    for (scenario, _method), e in entries.items():
        views = {
            "split-mnist": {"class-incremental", "task-masked"},
            "split-mnist-task": {"task-incremental"},
            "split-mnist-domain": {"domain-incremental"},
        }[scenario]
        assert set(e["views"]) == views
        (run,) = e["runs"]
        assert run["frames"] == 5 * 20 and run["seed"] == 0
        for view in views:
            R = np.asarray(run["R"][view])
            assert R.shape == (5, 5) and ((R >= 0) & (R <= 1)).all()
            assert len(run["baseline"][view]) == 5
            assert set(run["summary"][view]) == set(e["metrics"][view]) == SUMMARY
            # forward transfer only where every task has the same classes
            fwt = e["metrics"][view]["forward_transfer"]["mean"]
            assert (fwt is not None) == (view == "domain-incremental")
        assert [p["frames"] for p in run["curve"]] == [50, 100]
        assert e["stored_frames"] <= 40
    assert "| class-incremental | ff |" in result["table"]
    # one record per method and seed, with flat numeric metrics and the matrices as details
    assert sorted(r["method"] for r in records) == sorted(continual.METHODS)
    for record in records:
        metrics = record["metrics"]
        for view in ("class-incremental", "task-masked", "task-incremental", "domain-incremental"):
            defined = SUMMARY if view == "domain-incremental" else SUMMARY - {"forward_transfer"}
            assert {f"{view}.{m}" for m in defined} <= set(metrics)
        assert {"split-mnist.prequential_accuracy", "split-mnist-domain.stored_frames"} <= set(
            metrics
        )
        assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in metrics.values())
        assert set(record["details"]["scenarios"]) == set(scenarios)
        assert record["details"]["dataset"] == "custom"  # our own IDX files, named as such
        assert record["details"]["curve"] == [
            [p["frames"], p["class-incremental"]]
            for p in record["details"]["scenarios"]["split-mnist"]["curve"]
        ]


def test_permuted_mnist_cli_writes_json_and_plots(data_dir, tmp_path):
    out = tmp_path / "permuted.json"
    argv = ["bench", "permuted-mnist", "--data", str(data_dir), "--no-verify", "--device", "cpu"]
    argv += ["--out", str(out), "--quick", *TINY, "--tasks", "3", "--train-per-task", "20"]
    argv += ["--methods", "ff,er", "--batch-size", "5"]
    argv += ["--ff-predict-with", "goodness"]  # the full config's predictor, on tiny data
    argv += ["--results", fresh_results()]
    assert cli.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["suite"] == "permuted-mnist" and result["config"]["num_tasks"] == 3
    assert result["config"]["ff_predict_with"] == "goodness"
    assert result["config"]["ff_goodness_layers"] == "all"
    assert result["config"]["methods"] == ["ff", "er"]
    assert result["split"] == "test" and "divides by T-1" in result["bwt_convention"]
    stats = result["results"][0]["metrics"]["domain-incremental"]["average_accuracy"]
    assert set(stats) == {"mean", "std", "ci95", "n"} and stats["n"] == 1  # one seed: no spread
    assert stats["std"] is None and stats["ci95"] is None
    assert [e["method"] for e in result["results"]] == ["ff", "er"]
    for e in result["results"]:
        assert np.asarray(e["R_mean"]["domain-incremental"]).shape == (3, 3)
    pytest.importorskip("matplotlib")
    assert continual_report.main([str(out)]) == 0  # the plots, drawn from the combined JSON
    for kind in ("heatmaps", "stream"):
        assert (tmp_path / f"permuted-{kind}.png").stat().st_size > 0
    paths = continual.plot_results(result["results"], tmp_path / "again.json", Console(quiet=True))
    assert [p.split("/")[-1] for p in paths] == ["again-heatmaps.png", "again-stream.png"]


def rotate_flat(x: torch.Tensor, degrees: float) -> torch.Tensor:
    from ffstream.data import rotate

    return rotate(x.view(-1, 28, 28), degrees).reshape(len(x), 784)


def test_rotated_mnist_turns_each_task_and_runs_every_method(data_dir):
    extra = ("--quick", *TINY, "--tasks", "3", "--train-per-task", "20")
    cfg = _config(rotated_mnist, data_dir, *extra)
    data = load_frames(data_dir, verify=False)
    (scenario,) = rotated_mnist.build_scenarios(data, cfg, 0)
    assert [t.name for t in scenario.tasks] == ["r0", "r60", "r120"]
    assert scenario.image_shape == scenario.iid(0).image_shape == (28, 28)  # replay_shift can run
    first, second = scenario.tasks[0], scenario.tasks[1]
    n = len(first.x_test)
    assert torch.equal(first.x_test, data["test"][0][:n])  # task 0 is MNIST itself
    turned = rotate_flat(data["test"][0][:n], 60)
    assert torch.allclose(second.x_test, turned) and not torch.allclose(second.x_test, first.x_test)
    assert torch.equal(second.y_test, first.y_test) and len(second.x_train) == 20
    result, _ = _bench(rotated_mnist, data_dir, *extra)
    assert [e["method"] for e in result["results"]] == list(continual.METHODS)
    for e in result["results"]:
        assert np.asarray(e["R_mean"]["domain-incremental"]).shape == (3, 3)
    with pytest.raises(ValueError, match="max-degrees"):
        rotated_mnist.Config(max_degrees=math.inf)
    with pytest.raises(SystemExit):  # the flag's parser refuses it first
        bench_args("rotated-mnist", data_dir, "--max-degrees", "inf")


def test_permuted_tasks_are_permutations_of_the_same_frames(data_dir):
    cfg = _config(permuted_mnist, data_dir, "--tasks", "2")
    data = load_frames(data_dir, verify=False)
    (scenario,) = permuted_mnist.build_scenarios(data, cfg, 0)
    first, second = scenario.tasks
    assert torch.equal(first.x_test, data["test"][0])  # task 0: the identity permutation
    assert scenario.image_shape is None  # scattered pixels: nothing to shift
    assert torch.equal(second.x_test.sort(1).values, first.x_test.sort(1).values)
    assert not torch.equal(second.x_test, first.x_test)
    again = permuted_mnist.build_scenarios(data, cfg, 0)[0]
    assert torch.equal(again.tasks[1].x_train, second.x_train)  # seeded: same frames again


def test_bad_options_are_refused(data_dir):
    with pytest.raises(SystemExit):  # not among the choices
        bench_args("split-mnist", data_dir, "--methods", "ff,sgd")
    with pytest.raises(ValueError, match="unknown methods"):
        split_mnist.Config(methods=("ff", "sgd"))
    for flag in ("--batch-size", "--ff-sleep-batch", "--replay-batch", "--ff-readout-batch"):
        with pytest.raises(ValueError, match=flag):
            _config(split_mnist, data_dir, flag, "0")
    with pytest.raises(ValueError, match="ff-long-term-share"):
        _config(split_mnist, data_dir, "--ff-long-term-share", "2")
    with pytest.raises(ValueError, match="ema-decay"):
        _config(split_mnist, data_dir, "--ema-decay", "1.5")
    with pytest.raises(ValueError, match="tasks"):
        _config(permuted_mnist, data_dir, "--tasks", "0")
    with pytest.raises(ValueError, match="ff-memory"):
        continual.ContinualConfig(ff_memory="fifo")


def test_a_second_invocation_resumes_and_force_reruns(data_dir, monkeypatch):
    calls = []
    real = split_mnist.run_one
    monkeypatch.setattr(split_mnist, "run_one", lambda *a: calls.append(a[1]) or real(*a))
    results = fresh_results()
    argv = ["--quick", *TINY, "--train-per-task", "20", "--no-domain", "--no-multi-head"]
    argv += ["--results", results]
    argv += ["--methods", "naive,ewc"]

    def bench(*more):
        args = bench_args("split-mnist", data_dir, *argv, *more)  # the later --results wins
        console = Console(file=io.StringIO(), width=200)
        result = run_suite(split_mnist, args, console)
        return result, console.file.getvalue()

    first, _ = bench()
    assert [(r.method, r.seed) for r in calls] == [("naive", 0), ("ewc", 0)]
    records = {r["method"]: r for r in load_records(results)}
    second, text = bench()
    assert len(calls) == 2 and text.count("already in") == 2  # nothing ran again
    assert second["results"] == first["results"]
    more, _ = bench("--seeds", "0,1")  # another seed adds runs to the same folder
    assert [(r.method, r.seed) for r in calls[2:]] == [("naive", 1), ("ewc", 1)]
    assert [len(e["runs"]) for e in more["results"]] == [2, 2]
    for e in more["results"]:  # over seeds: the sample std (ddof=1) and a t-interval around it
        values = [r["summary"]["class-incremental"]["average_accuracy"] for r in e["runs"]]
        stats = e["metrics"]["class-incremental"]["average_accuracy"]
        assert stats["n"] == 2 and stats["std"] == pytest.approx(np.std(values, ddof=1))
        low, high = stats["ci95"]
        assert low <= min(values) and high >= max(values)  # t_{0.975, 1} = 12.7: wide
    bench("--force")
    assert len(calls) == 6
    again = {r["method"]: r for r in load_records(results) if r["seed"] == 0}
    for method, record in records.items():  # rerun: a new record, the same numbers
        assert again[method]["environment"]["date"] >= record["environment"]["date"]
        assert again[method]["metrics"]["class-incremental.average_accuracy"] == pytest.approx(
            record["metrics"]["class-incremental.average_accuracy"]
        )
    # where the data is read from is not part of a run's identity: --quick stays "quick"
    assert preset_of(split_mnist, _config(split_mnist, data_dir, "--quick")) == "quick"
    assert preset_of(split_mnist, _config(split_mnist, data_dir, "--quick", "--iid")) != "quick"


def test_ff_memory_budget_is_respected():
    cfg = continual.ContinualConfig(memory=100, sleep_every=300, hidden=(8,))
    method = continual.make_method("ff", cfg, 4, 3, seed=0)
    assert method.stored_frames() == 100  # long-term + recent capacity
    assert method.learner.recent.capacity == 50


def _first_task_accuracy_after_second(ewc_lambda: float) -> float:
    """Two tasks with the same labels (a threshold on feature 0, then on feature 1)."""
    cfg = continual.ContinualConfig(
        hidden=(32,), ewc_lambda=ewc_lambda, bp_lr=0.05, bp_updates=1, ema_decay=None
    )
    method = continual.make_method("ewc", cfg, 6, 2, seed=0)
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
    extra = ("--quick", *TINY, "--iid", "--no-domain", "--no-multi-head", "--train-per-task", "60")
    extra += ("--methods", "naive", "--hidden", "32", "--ema-decay", "none")
    result, records = _bench(split_mnist, data_dir, *extra)
    entries = {e["scenario"]: e for e in result["results"]}
    assert set(entries) == {"split-mnist", "split-mnist-iid"}
    iid = entries["split-mnist-iid"]
    assert iid["views"] == ["class-incremental (i.i.d.)", "task-masked (i.i.d.)"]
    assert iid["runs"][0]["frames"] == entries["split-mnist"]["runs"][0]["frames"] == 5 * 60
    sequential = entries["split-mnist"]["metrics"]["class-incremental"]["average_accuracy"]
    mixed = iid["metrics"]["class-incremental (i.i.d.)"]["average_accuracy"]
    assert mixed["mean"] > sequential["mean"] + 0.4  # naive SGD forgets only in sequence
    assert "| class-incremental (i.i.d.) | naive |" in result["table"]
    (record,) = records
    assert "class-incremental (i.i.d.).average_accuracy" in record["metrics"]


def test_device_option_reaches_the_runs_and_the_result(data_dir):
    extra = ("--quick", *TINY, "--tasks", "2", "--train-per-task", "20")
    result, records = _bench(permuted_mnist, data_dir, *extra, "--methods", "ff,naive")
    assert result["device"] == "cpu"
    assert [r["environment"]["device"] for r in records] == ["cpu", "cpu"]
    assert "device" not in records[0]["config"]  # --device is the lab's, not the suite's


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_every_method_runs_on_the_gpu(data_dir):
    cfg = continual.ContinualConfig(hidden=(16,), memory=40, sleep_every=10)
    data = load_frames(data_dir, verify=False)
    scenario = permuted_mnist.build_scenarios(data, permuted_mnist.QUICK, 0)[0].to("cuda")
    scenario.tasks = scenario.tasks[:2]
    for name in continual.METHODS:
        method = continual.make_method(name, cfg, scenario.in_features, 10, 0, device="cuda")
        run = continual.run_scenario(method, scenario, cfg, seed=0)
        assert np.asarray(run["R"]["domain-incremental"]).shape == (2, 2), name
        assert method.scores(scenario.tasks[0].x_test).device.type == "cuda", name


def _learner(suite, data_dir, *flags):
    return continual.make_method("ff", _config(suite, data_dir, *flags), 4, 3, 0).learner


def test_ff_readout_and_memory_options_reach_the_learner(data_dir):
    default = continual.make_method("ff", split_mnist.FULL, 4, 3, seed=0)
    assert default.learner.readout_learns == "asleep"  # the suite's choices for new classes
    assert default.learner.readout_batch == 64  # Split-MNIST's; the others take the sleep batch
    permuted = continual.make_method("ff", permuted_mnist.FULL, 4, 3, seed=0).learner
    assert permuted.readout_batch == permuted.sleep_batch == 32
    assert isinstance(default.learner.memory, ClassBalancedMemory)
    learner = _learner(split_mnist, data_dir, "--ff-readout", "always", "--ff-memory", "reservoir")
    assert learner.readout_learns == "always" and isinstance(learner.memory, ReservoirMemory)
    assert learner.predict_with == "readout"
    # Permuted-MNIST's settings, chosen on its validation split, are the continual suites' own
    assert (permuted.predict_with, permuted.long_term_share) == ("readout", 0.5)
    assert permuted.config["lr"] == IMAGE_SUITE_LEARNER["lr"]  # the image suites' lr
    assert default.learner.long_term_share == 0.5  # Split-MNIST's own, chosen on validation
    learner = _learner(permuted_mnist, data_dir, "--ff-predict-with", "goodness")
    assert (learner.predict_with, learner.goodness_layers) == ("goodness", "all")
    learner = _learner(split_mnist, data_dir, "--ff-predict-with", "goodness")
    assert (learner.predict_with, learner.goodness_layers) == ("goodness", "above-first")
    learner = _learner(permuted_mnist, data_dir, "--ff-goodness-layers", "above-first")
    assert learner.goodness_layers == "above-first"
    learner = _learner(split_mnist, data_dir, "--ff-sleep-batch", "24", "--ff-readout-batch", "48")
    assert learner.sleep_batch == 24 and learner.readout_batch == 48
    learner = _learner(split_mnist, data_dir, "--ff-long-term-share", "0.25")
    assert learner.long_term_share == 0.25
    learner = _learner(permuted_mnist, data_dir, "--ema-decay", "0.9")
    assert learner.config["ema_decay"] == 0.9 and learner.averaged is not None
    assert _config(split_mnist, data_dir, "--ema-decay", "none").ema_decay is None
    assert _learner(split_mnist, data_dir, "--ema-decay", "none").averaged is None
    assert _learner(permuted_mnist, data_dir, "--ff-lr", "1e-4").config["lr"] == 1e-4
    cfg = _config(split_mnist, data_dir, "--replay-batch", "32")
    assert continual.make_method("er", cfg, 4, 3, 0).replay_batch == 32


@pytest.mark.parametrize("name", ["er", "er-ace", "der++", "gdumb"])
def test_replay_shift_moves_what_every_baseline_replays(name):
    cfg = continual.ContinualConfig(hidden=(8,), memory=20, replay_batch=10, replay_shift=1)
    method = continual.make_method(name, cfg, 16, 3, seed=0, image_shape=(4, 4))
    stored, y = torch.rand(10, 16), torch.arange(10) % 3
    method.observe(stored, y)
    replayed, _ = method.replayed()
    moved, unmoved = is_moved_copy(replayed[:, :16], stored, (4, 4))
    assert bool(moved.all()) and int(unmoved.sum()) < 10


def test_replay_shift_option_reaches_both_methods_and_needs_images(data_dir):
    extra = ("--quick", *TINY, "--replay-shift", "1", "--train-per-task", "20", "--no-domain")
    extra += ("--no-multi-head",)
    result, _ = _bench(split_mnist, data_dir, *extra, "--methods", "ff,er")
    assert result["config"]["replay_shift"] == 1
    assert [e["method"] for e in result["results"]] == ["ff", "er"]
    cfg = _config(split_mnist, data_dir, *extra)
    learner = continual.make_method("ff", cfg, 784, 10, 0, image_shape=(28, 28)).learner
    assert learner.replay_shift == 1 and learner.frame_shape == (28, 28)
    with pytest.raises(ValueError, match="no pixel layout"):
        continual.make_method("er", cfg, 784, 10, 0)  # e.g. permuted frames
    with pytest.raises(ValueError, match="no pixel layout"):
        _config(permuted_mnist, data_dir, "--replay-shift", "1")
    with pytest.raises(ValueError, match="replay-shift must be"):
        _config(split_mnist, data_dir, "--replay-shift", "-1")


def test_an_mnist_format_folder_of_no_known_dataset_loads_only_unverified(data_dir):
    with pytest.raises(ValueError, match="SHA-256"):
        load_frames(str(data_dir), verify=True)
    data = load_frames(str(data_dir), verify=False)
    assert data["train"][0].shape == (N_TRAIN, 784) and data["test"][0].shape == (N_TEST, 784)


def test_dataset_custom_loads_unchecked_files_and_keeps_its_records_apart(data_dir):
    custom = _config(split_mnist, data_dir, "--verify", "--dataset", "custom")
    assert custom.dataset == "custom" and custom.verify  # no --no-verify needed
    assert continual._load(custom)["train"][0].shape == (N_TRAIN, 784)
    assert preset_of(split_mnist, custom).startswith("custom-")  # not MNIST's folder
    with pytest.raises(ValueError, match="SHA-256"):  # the default: files must be MNIST's
        continual._load(_config(split_mnist, data_dir, "--verify"))


def _report_record(suite, method, seed, accuracy):
    view = "class-incremental" if suite is split_mnist else "domain-incremental"
    env = {"device_name": "cpu", "date": "2026-12-03T00:00:00", "torch": "t", "ffstream": "f"}
    return {
        "suite": suite.NAME,
        "preset": preset_of(suite, suite.REPORT),
        "method": method,
        "task": None,
        "seed": seed,
        "environment": {**env, "commit": "abc", "load_average": 1.0},
        "metrics": {f"{view}.average_accuracy": accuracy},
        "details": {},
    }


@pytest.mark.parametrize("suite", [split_mnist, permuted_mnist, rotated_mnist])
def test_the_report_configuration_has_its_own_table_with_intervals(suite):
    from benchmarks import render

    records = [_report_record(suite, "er", s, a) for s, a in enumerate((0.80, 0.82, 0.84))]
    records.append(_report_record(suite, "ff", 0, 0.9))
    records.append({**records[0], "preset": "custom-other"})  # another configuration
    page = render._section(suite.NAME, records)
    assert f"### report: {suite.REPORT_TITLE}" in page
    rows = [line for line in page.splitlines() if line.startswith(("| ff |", "| er |"))]
    assert rows[0].startswith("| ff | 1 | 90.0 | - |")  # methods in run order; one seed: no spread
    # three seeds: mean, sample std and the t interval of the mean (t_{0.975, 2} = 4.3027)
    assert rows[1].startswith("| er | 3 | 82.0 ± 2.0 | 77.0 to 87.0 |")
    assert "1 other configuration (" in page  # the report's own folder is not counted
    assert suite.REPORT.seeds == (0, 1, 2, 3, 4) and 100 not in suite.REPORT.seeds


def test_a_reported_suite_names_its_earlier_presets_instead_of_tabling_them():
    from benchmarks import render

    report = _report_record(permuted_mnist, "er", 0, 0.8)
    legacy = {**report, "preset": "quick", "method": "backprop"}  # an earlier protocol's record
    page = render._section(permuted_mnist.NAME, [report, legacy])
    assert "### quick" not in page and "| backprop |" not in page
    assert "The `quick` preset: `benchmarks/results/permuted-mnist/`." in page
    page = render._section(permuted_mnist.NAME, [legacy])  # nothing reported yet: tabled
    assert "### quick" in page and "| backprop |" in page


def test_each_report_gets_its_own_table_and_plot():
    from benchmarks import render

    gem = preset_of(permuted_mnist, permuted_mnist.GEM_REPORT)
    ours = _report_record(permuted_mnist, "er", 0, 0.9)
    theirs = {**ours, "preset": gem, "details": {"curve": [[1_000, 0.5]]}}
    page = render._section(permuted_mnist.NAME, [ours, theirs])
    assert page.index("### report: 6,000") < page.index("### report: GEM's protocol")
    assert "plots/permuted-mnist-report-gem.png" in page  # the report with curves is drawn
    assert "plots/permuted-mnist-report.png" not in page  # and only it
    assert "other configuration" not in page  # both reports are the suite's own
    # the plots drawn are those the page shows: the reports, else the first preset recorded
    quick = {**ours, "suite": "drift", "preset": "quick"}
    assert render._plotted([ours, theirs, quick, {**quick, "preset": "full"}]) == {
        ("permuted-mnist", ours["preset"]): "report",
        ("permuted-mnist", gem): "report-gem",
        ("drift", "full"): "full",
    }


@pytest.mark.parametrize("name", ["er", "er-ace", "der++", "gdumb", "naive", "ewc"])
def test_baselines_step_with_the_kernels_ff_steps_with(name):
    # FF's layers step with fused kernels (ffstream.ff._fast.fused_optimizer); a baseline on the
    # per-tensor loop would spend most of a small net's step in Python, and be slower for it.
    cfg = continual.ContinualConfig(hidden=(8,), memory=20, replay_batch=4, gdumb_epochs=1)
    method = continual.make_method(name, cfg, 16, 3, seed=0)
    x, y = torch.rand(10, 16), torch.arange(10) % 3
    method.observe(x, y)
    if name == "gdumb":
        method.end_task()  # its only training, with an optimizer made afresh
    assert runs_a_batched_kernel(method.optimizer)


def test_the_fused_kernel_makes_the_step_the_plain_loop_makes():
    cfg = continual.ContinualConfig(hidden=(8,), memory=20)
    x, y = torch.rand(10, 16), torch.arange(10) % 3
    plain = continual.make_method("naive", cfg, 16, 3, seed=0)
    plain.optimizer = torch.optim.SGD(plain.model.parameters(), lr=plain.lr, foreach=False)
    fused = continual.make_method("naive", cfg, 16, 3, seed=0)
    plain.observe(x, y)
    fused.observe(x, y)
    for a, b in zip(plain.model.parameters(), fused.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)
