"""The continual suites' protocol (validation split, evaluation points, sleep phase) and that
every replaying baseline beats naive fine-tuning, on small generated data."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import blobs, write_fake_mnist

from benchmarks import continual, split_mnist
from benchmarks._common import load_frames
from benchmarks.continual_ff import sleep_phase
from benchmarks.continual_protocol import eval_batches
from benchmarks.continual_split import validation_scenario
from benchmarks.lab import Context
from ffstream.data import Scenario, TaskData


def _class_incremental(num_tasks=3, per_task=300, dim=10, seed=0) -> Scenario:
    """Tasks of two Gaussian-blob classes each, one 2*num_tasks-way head."""
    # the same seed draws the same class centres for the training and the test frames
    x, y = blobs(2 * per_task * num_tasks, 2 * num_tasks, dim, seed=seed, spread=0.3)
    xt, yt = blobs(600, 2 * num_tasks, dim, seed=seed, spread=0.3)
    tasks = []
    for t in range(num_tasks):
        classes = (2 * t, 2 * t + 1)
        keep, keep_test = (y // 2) == t, (yt // 2) == t
        tasks.append(
            TaskData(
                f"t{t}",
                x[keep][:per_task],
                y[keep][:per_task],
                xt[keep_test],
                yt[keep_test],
                classes,
            )
        )
    views = {"class-incremental": False}
    return Scenario("blobs", tasks, 2 * num_tasks, views)


def _run(name: str, scenario: Scenario, **settings) -> dict:
    base = dict(hidden=(32,), memory=60, replay_batch=10, ema_decay=None, eval_points=5)
    cfg = continual.ContinualConfig(**{**base, **settings})
    method = continual.make_method(name, cfg, scenario.in_features, scenario.num_classes, 0)
    return continual.run_scenario(method, scenario, cfg, seed=0)


@pytest.fixture(scope="module")
def naive_and_scenario():
    scenario = _class_incremental()
    return _run("naive", scenario), scenario


@pytest.mark.parametrize("name", ["er", "er-ace", "der++", "gdumb"])
def test_every_replaying_baseline_beats_naive_fine_tuning(name, naive_and_scenario):
    naive, scenario = naive_and_scenario
    result = _run(name, scenario)
    final = result["summary"]["class-incremental"]["average_accuracy"]
    forgot = naive["summary"]["class-incremental"]["average_accuracy"]
    assert forgot < 0.45  # naive keeps the last task only: about a third
    assert final > forgot + 0.25, (name, final, forgot)
    assert result["stored_frames"] == 60


def test_gdumb_retrains_for_the_steps_the_others_make(naive_and_scenario):
    _, scenario = naive_and_scenario
    cfg = continual.ContinualConfig(hidden=(8,), memory=60, replay_batch=10, ema_decay=None)
    method = continual.make_method("gdumb", cfg, scenario.in_features, 6, 0)
    continual.run_scenario(method, scenario, cfg, seed=0)
    assert method.retrain_steps == [2 * 30] * 3  # 30 batches per task, --bp-updates 2 each
    assert method.steps == 3 * 60
    cfg = dataclasses.replace(cfg, gdumb_epochs=2.0, memory=1_000)
    method = continual.make_method("gdumb", cfg, scenario.in_features, 6, 0)
    continual.run_scenario(method, scenario, cfg, seed=0)
    # two epochs over 300, 600 and 900 stored frames, 20 frames (batch + replay batch) per step
    assert method.retrain_steps == [30, 60, 90]


def test_baselines_make_the_same_number_of_updates_per_batch():
    cfg = continual.ContinualConfig(hidden=(8,), memory=20, replay_batch=4, bp_updates=3)
    x, y = torch.rand(10, 4), torch.arange(10) % 2
    for name in ("er", "er-ace", "der++", "naive", "ewc"):
        method = continual.make_method(name, cfg, 4, 2, seed=0)
        method.observe(x, y)
        method.observe(x, y)
        assert method.steps == 6, name


def test_the_validation_split_never_touches_test_frames(tmp_path):
    data_dir = write_fake_mnist(tmp_path, 300, 60)
    data = load_frames(data_dir, verify=False)
    test_rows = data["test"][0]
    cfg = split_mnist.Config(
        split="val",
        val_share=0.2,
        train_per_task=30,
        iid_reference=True,
        data=str(data_dir),
        verify=False,
    )
    ctx = Context(device="cpu", console=None, cache={})
    scenarios = continual.scenarios_of_seed(cfg, 0, ctx, split_mnist.build_scenarios)
    full = split_mnist.build_scenarios(data, cfg, 0)
    assert [s.name for s in scenarios] == [
        "split-mnist",
        "split-mnist-iid",
        "split-mnist-task",
        "split-mnist-task-iid",
        "split-mnist-domain",
        "split-mnist-domain-iid",
    ]
    for scenario, built in zip(scenarios[::2], full):
        for task, whole in zip(scenario.tasks, built.tasks):
            assert len(task.x_train) == 24 and len(task.x_test) == 6
            assert torch.equal(task.x_test, whole.x_train[24:])  # the last 20% of training
            assert torch.equal(task.x_train, whole.x_train[:24])
            # no held-out frame is a test frame
            assert not (task.x_test[:, None, :] == test_rows[None]).all(2).any()
    for scenario in scenarios:
        for task in scenario.tasks:
            assert not (task.x_test[:, None, :] == test_rows[None]).all(2).any()
    with pytest.raises(ValueError, match="too few"):
        validation_scenario(full[0], 0.99)
    with pytest.raises(ValueError, match="val-share"):
        split_mnist.Config(val_share=1.0)


def test_sleep_phase_is_random_per_seed_and_moves_the_first_sleep():
    phases = [sleep_phase(seed, 200) for seed in range(10)]
    assert len(set(phases)) > 5 and all(0 <= p < 200 for p in phases)
    cfg = continual.ContinualConfig(hidden=(8,), memory=100, sleep_every=50, ema_decay=None)
    for seed in range(4):
        method = continual.make_method("ff", cfg, 4, 2, seed=seed)
        assert method.phase == sleep_phase(seed, 50)
        slept_at = []
        for batch in range(1, 31):
            method.observe(torch.rand(5, 4), torch.arange(5) % 2)
            if method.learner.sleeps > len(slept_at):
                slept_at.append(5 * batch)
        first = 5 * -(-(50 - method.phase) // 5)  # the first batch end at or past the phase
        assert slept_at[0] == first and all(b - a == 50 for a, b in zip(slept_at, slept_at[1:]))


def test_evaluation_points_do_not_depend_on_the_sleep_schedule():
    assert eval_batches(30, 20) == sorted({max(1, round(k * 30 / 20)) for k in range(1, 21)})
    assert len(eval_batches(1_000, 20)) == 20 and eval_batches(1_000, 20)[-1] == 1_000
    scenario = _class_incremental(num_tasks=2, per_task=100, dim=6)
    runs = [_run("ff", scenario, sleep_every=period, eval_points=7) for period in (10, 30)]
    frames = [[p["frames"] for p in run["curve"]] for run in runs]
    assert frames[0] == frames[1] == [30, 60, 90, 110, 140, 170, 200]
    # the schedules' phases differ across seeds, so task ends fall at different places
    # in the sleep cycle: frames since the last sleep at the end of a 100-frame task
    since = {(100 + sleep_phase(seed, 30)) % 30 for seed in range(6)}
    assert len(since) > 1
