"""Multi-head task-incremental learning (one head per task) and GEM's Permuted-MNIST protocol,
on small generated data."""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch
from conftest import bench_args, blobs, write_fake_mnist
from rich.console import Console

from benchmarks import continual, permuted_mnist, split_mnist
from benchmarks._common import load_frames
from benchmarks.continual_config import CHOSEN
from benchmarks.continual_heads import MultiHeadScenario, TaskHeads, multi_head
from benchmarks.lab import load_records, run_suite
from ffstream.data import Scenario, TaskData
from ffstream.ff import LinearReadout

BP_METHODS = ("er", "er-ace", "der++", "gdumb", "naive", "ewc")


def _tasks(num_tasks=3, per_task=200, dim=10, seed=0) -> Scenario:
    """Tasks of two Gaussian-blob classes each, scored task-incrementally on one head each."""
    x, y = blobs(2 * per_task * num_tasks, 2 * num_tasks, dim, seed=seed, spread=0.3)
    xt, yt = blobs(300, 2 * num_tasks, dim, seed=seed, spread=0.3)
    tasks = []
    for t in range(num_tasks):
        keep, keep_test = (y // 2) == t, (yt // 2) == t
        tasks.append(
            TaskData(f"t{t}", x[keep][:per_task], y[keep][:per_task], xt[keep_test],
                     yt[keep_test], (2 * t, 2 * t + 1))
        )  # fmt: skip
    single = Scenario("blobs", tasks, 2 * num_tasks, {"class-incremental": False})
    return multi_head(single, "blobs-task")


def _cfg(**settings) -> continual.ContinualConfig:
    base = dict(hidden=(16,), memory=40, replay_batch=8, ema_decay=None, eval_points=3)
    return continual.ContinualConfig(**{**base, **settings})


def _method(name: str, scenario: Scenario, cfg=None):
    cfg = cfg or _cfg(sleep_every=20)
    return continual.make_method(
        name, cfg, scenario.in_features, scenario.num_classes, 0, heads=TaskHeads.of(scenario)
    )


def test_task_heads_group_classes_and_refuse_overlaps():
    heads = TaskHeads([(0, 1), (2, 3), (4, 5)], 6)
    assert len(heads) == 3 and heads.head_of.tolist() == [0, 0, 1, 1, 2, 2]
    allowed = heads.allowed(torch.tensor([5, 0]))
    assert allowed.tolist() == [[False] * 4 + [True] * 2, [True] * 2 + [False] * 4]
    with pytest.raises(ValueError, match="two heads"):
        TaskHeads([(0, 1), (1, 2)], 3)
    with pytest.raises(ValueError, match="outside"):
        TaskHeads([(0, 7)], 3)


@pytest.mark.parametrize("rows", [6, 30_000])  # the numpy path and the torch path
def test_a_multi_head_readout_is_one_readout_per_head(rows):
    torch.manual_seed(0)
    x, y = torch.randn(rows, 3), torch.randint(0, 2, (rows,))  # every frame in head 0
    options = dict(lr=0.5, momentum=0.0, weight_decay=0.0)
    headed, alone = LinearReadout(3, 4, **options), LinearReadout(3, 2, **options)
    with torch.no_grad():
        headed.linear.weight.normal_()
        alone.linear.weight.copy_(headed.linear.weight[:2])
    other = headed.linear.weight[2:].clone()
    headed.heads = torch.tensor([0, 0, 1, 1])
    loss_headed, loss_alone = headed.step(x, y), alone.step(x, y)
    assert torch.allclose(loss_headed, loss_alone, atol=1e-5)
    assert torch.allclose(headed.linear.weight[:2], alone.linear.weight, atol=1e-5)
    assert torch.equal(headed.linear.weight[2:], other)  # another head's rows got nothing
    plain = LinearReadout(3, 4, **options)
    plain.step(x, y)
    assert not torch.equal(plain.linear.weight[2:], torch.zeros(2, 3))  # one softmax: all move


@pytest.mark.parametrize("name", ["ff", *BP_METHODS])
def test_every_method_has_a_head_per_task_and_a_frame_moves_only_its_own(name):
    scenario = _tasks()
    method = _method(name, scenario)
    if name == "ff":
        assert method.learner.readout.heads.tolist() == [0, 0, 1, 1, 2, 2]
        head_rows = lambda: method.learner.readout.linear.weight.detach().clone()  # noqa: E731
    else:
        assert len(method.heads) == len(scenario.tasks) == 3
        head_rows = lambda: method.model[-1].weight.detach().clone()  # noqa: E731
    task = scenario.tasks[1]
    before = head_rows()
    for s in range(0, 200, 10):
        method.observe(task.x_train[s : s + 10], task.y_train[s : s + 10])
    if name == "gdumb":
        method.end_task()
    after = head_rows()
    assert not torch.equal(after[2:4], before[2:4])  # task 1's head learned
    assert torch.equal(after[[0, 1, 4, 5]], before[[0, 1, 4, 5]])  # the other heads did not


@pytest.mark.parametrize("name", ["ff", "naive", "er"])
def test_multi_head_evaluation_reads_only_the_tasks_head(name):
    scenario = _tasks()
    cfg = _cfg(sleep_every=20)
    method = _method(name, scenario, cfg)
    result = continual.run_scenario(method, scenario, cfg, seed=0)
    R = result["R"]["task-incremental"]
    assert len(R) == 3 and min(R[-1]) > 0.9  # two blobs per head: easy once given the task
    # predicted before learning, on the task's head too: at worst a coin flip between two
    assert result["prequential_accuracy"] > 0.6  # over every class: 0.26 (ff), 0.39 (naive)
    # make every head but task 0's shout for its classes: task 0's accuracy must not move
    linear = method.learner.readout.linear if name == "ff" else method.model[-1]  # no average
    with torch.no_grad():
        linear.bias[2:] += 1e6
    task = scenario.tasks[0]
    assert continual.evaluate(method, task.x_test, task.y_test, task.classes) == R[-1][0]
    assert continual.evaluate(method, task.x_test, task.y_test) == 0.0  # one head for all: lost


def test_without_heads_one_task_moves_every_class_row():
    scenario = _tasks()
    naive = continual.make_method("naive", _cfg(), scenario.in_features, scenario.num_classes, 0)
    before = naive.model[-1].weight.detach().clone()
    task = scenario.tasks[1]
    naive.observe(task.x_train[:10], task.y_train[:10])
    assert not torch.equal(naive.model[-1].weight[[0, 1, 4, 5]], before[[0, 1, 4, 5]])


def test_ff_multi_head_needs_its_readout():
    scenario = _tasks()
    with pytest.raises(ValueError, match="readout"):
        _method("ff", scenario, _cfg(sleep_every=20, ff_predict_with="goodness"))


def test_split_mnist_names_its_three_scenarios_and_the_masked_view(tmp_path):
    data = load_frames(write_fake_mnist(tmp_path, 300, 60), verify=False)
    built = split_mnist.build_scenarios(data, split_mnist.Config(train_per_task=30), 0)
    assert [(s.name, list(s.views)) for s in built] == [
        ("split-mnist", ["class-incremental", "task-masked"]),
        ("split-mnist-task", ["task-incremental"]),
        ("split-mnist-domain", ["domain-incremental"]),
    ]
    assert isinstance(built[1], MultiHeadScenario) and not isinstance(built[0], MultiHeadScenario)
    assert all(torch.equal(a.x_train, b.x_train) for a, b in zip(built[0].tasks, built[1].tasks))
    plain = split_mnist.build_scenarios(
        data, split_mnist.Config(multi_head=False, domain_incremental=False), 0
    )
    assert [s.name for s in plain] == ["split-mnist"]


def test_gem_protocol_has_twenty_tasks_of_a_thousand_frames(tmp_path):
    cfg = permuted_mnist.Config(protocol="gem")
    assert (cfg.num_tasks, cfg.train_per_task, cfg.batch_size) == (20, 1000, 10)
    assert (cfg.hidden, cfg.memory) == ((100, 100), 5120)
    assert (cfg.ema_decay, cfg.ff_predict_with) == (0.99, "readout")  # chosen on its val split
    assert (cfg.ff_long_term_share, permuted_mnist.FULL.ff_long_term_share) == (0.75, 0.5)
    assert cfg.table() == "permuted-mnist-gem" and permuted_mnist.FULL.table() == "permuted-mnist"
    assert cfg.method_lr("naive") == CHOSEN["permuted-mnist-gem"]["lr"]["naive"]
    assert cfg.ewc_strength() == CHOSEN["permuted-mnist-gem"]["ewc_lambda"]
    assert dataclasses.replace(cfg, ewc_lambda=3.0).ewc_strength() == 3.0
    # the protocol's counts hold whatever the preset said; a width of one's own is kept
    quick = dataclasses.replace(permuted_mnist.QUICK, protocol="gem", hidden=(64,))
    assert (quick.num_tasks, quick.train_per_task, quick.hidden) == (20, 1000, (64,))
    data = load_frames(write_fake_mnist(tmp_path, 1200, 30), verify=False)
    (scenario,) = permuted_mnist.build_scenarios(data, cfg, 0)
    assert len(scenario.tasks) == 20
    assert [len(t.x_train) for t in scenario.tasks] == [1000] * 20
    assert [len(t.x_test) for t in scenario.tasks] == [30] * 20  # every test frame
    with pytest.raises(ValueError, match="protocol"):
        permuted_mnist.Config(protocol="lopez")


def test_gem_protocol_runs_through_the_lab_and_keeps_the_fields(tmp_path):
    data_dir = write_fake_mnist(tmp_path, 1000, 20)
    args = bench_args(
        permuted_mnist.NAME, data_dir, "--protocol", "gem", "--methods", "naive",
        "--seeds", "3", "--eval-points", "2", "--hidden", "8", "--test-per-task", "10",
    )  # fmt: skip
    result = run_suite(permuted_mnist, args, Console(file=io.StringIO()))
    (record,) = load_records(args.results)
    assert record["config"]["protocol"] == "gem" and record["config"]["num_tasks"] == 20
    assert record["config"]["hidden"] == [8]  # a width of one's own, for every method
    settings = record["details"]["scenarios"]["permuted-mnist"]["settings"]
    assert settings == {"lr": CHOSEN["permuted-mnist-gem"]["lr"]["naive"]}  # 'none' resolved
    (entry,) = result["results"]  # the combined JSON keeps its fields
    assert entry["method"] == "naive" and len(entry["runs"][0]["R"]["domain-incremental"]) == 20
    assert 0.0 <= entry["runs"][0]["summary"]["domain-incremental"]["average_accuracy"] <= 1.0
    assert result["config"]["protocol"] == "gem"


def test_a_choice_table_is_made_on_the_validation_split_alone(tmp_path, monkeypatch):
    from benchmarks import continual_choose, continual_protocol

    data_dir = write_fake_mnist(tmp_path, 300, 60)
    test_frames = load_frames(data_dir, verify=False)["test"][0]
    seen = []
    real = continual_protocol.evaluate
    monkeypatch.setattr(
        continual_protocol, "evaluate", lambda m, x, *a: seen.append(x) or real(m, x, *a)
    )
    suite_args = ["--quick", "--hidden", "16", "--eval-points", "2", "--memory", "40"]
    suite_args += ["--train-per-task", "30", "--no-domain", "--no-multi-head", "--seeds", "7"]
    suite_args += ["--methods", "naive,er", "--data", str(data_dir), "--no-verify"]
    suite_args += ["--device", "cpu", "--results", str(tmp_path / "results")]
    console = Console(file=io.StringIO())
    metric = "class-incremental.average_accuracy"
    table = continual_choose.scan(
        "split-mnist", "bp-lr", ["0.001", "0.3"], suite_args, metric, console
    )
    assert set(table) == {"naive", "er"} and all(
        list(t) == ["0.001", "0.3"] for t in table.values()
    )
    assert continual_choose.choose(table)["er"] == max(table["er"], key=table["er"].get)
    assert seen and all(not (x[:, None] == test_frames[None]).all(2).any() for x in seen)
    with pytest.raises(ValueError, match="validation split only"):
        continual_choose.scan("split-mnist", "bp-lr", ["0.1"], [*suite_args, "--split", "test"],
                              metric, console)  # fmt: skip
