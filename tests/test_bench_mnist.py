"""The offline MNIST benchmark suites (mnist-ff, mnist-cwc) end to end on tiny generated IDX files.

The files are written with :func:`ffstream.data.write_idx` in the official layout; their
checksums are not the official ones, so the suites run with ``--no-verify``. Each digit is a
class-specific blob, so even one short epoch learns something, but the tests check the shape of
the results, not their quality.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import bench_args, fresh_results, write_fake_mnist
from rich.console import Console

from benchmarks import CONTRACT, _common, load_suite, mnist_cwc, mnist_ff
from benchmarks.lab import SCHEMA, load_records, preset_of, run_suite
from ffstream import cli

N_TRAIN, N_TEST = 200, 60


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), N_TRAIN, N_TEST)


def _check_record(record, suite, modes, n_train):
    json.dumps(record)  # serialisable as it is
    assert record["schema"] == SCHEMA and record["suite"] == suite
    env = record["environment"]
    for key in ("date", "device", "device_name", "torch", "ffstream", "python"):
        assert isinstance(env[key], str) and env[key]
    assert env["device"] == "cpu"
    assert isinstance(record["config"], dict) and "data" not in record["config"]
    details, metrics = record["details"], record["metrics"]
    assert details["data"]["train_frames"] == n_train
    assert details["data"]["test_frames"] == N_TEST
    assert {m for m in metrics if m.startswith("test_error_")} == {f"test_error_{m}" for m in modes}
    for mode in modes:
        err = metrics[f"test_error_{mode}"]
        assert isinstance(err, float) and 0.0 <= err <= 100.0
    for key in ("ff_epoch_s", "backprop_epoch_s", "ff_over_backprop", "train_s"):
        assert isinstance(metrics[key], float) and metrics[key] > 0
    assert isinstance(record["wall_s"], float) and record["wall_s"] > 0
    epochs = record["config"]["epochs"]
    assert [r["epoch"] for r in details["history"]] == list(range(1, epochs + 1))


def test_mnist_ff_run_returns_complete_record(data_dir):
    args = bench_args(
        "mnist-ff",
        data_dir,
        "--quick",
        "--epochs",
        "2",
        "--sizes",
        "784,32,32",
        "--batch-size",
        "20",
        "--val",
        "40",
    )
    result = run_suite(mnist_ff, args, Console(quiet=True))
    (record,) = result["records"]
    _check_record(record, "mnist-ff", {"goodness", "readout"}, N_TRAIN - 40)
    assert record["method"] == "ff" and record["seed"] == 0
    assert record["config"]["sizes"] == [784, 32, 32]
    assert record["config"]["val_frames"] == 40 and record["config"]["verify"] is False
    for mode in ("goodness", "readout"):
        assert 0.0 <= record["metrics"][f"val_error_{mode}"] <= 100.0
    assert len(record["details"]["history"][0]["loss"]) == 2
    assert record["details"]["timing"]["batch_size"] == 20
    # the record is on disk, where a second invocation finds it instead of training again
    again = run_suite(mnist_ff, args, Console(quiet=True))
    assert again["records"] == result["records"]
    assert load_records(Path(args.results)) == result["records"]


def test_mnist_cwc_run_returns_complete_record(data_dir):
    args = bench_args(
        "mnist-cwc",
        data_dir,
        "--quick",
        "--epochs",
        "1",
        "--channels",
        "10,20",
        "--batch-size",
        "25",
    )
    result = run_suite(mnist_cwc, args, Console(quiet=True))
    (record,) = result["records"]
    _check_record(record, "mnist-cwc", {"goodness", "goodness_last_layer", "readout"}, N_TRAIN)
    assert record["method"] == "cwc"
    assert not any(m.startswith("val_error_") for m in record["metrics"])


def test_seeds_select_runs_and_train_differently(data_dir):
    args = bench_args(
        "mnist-ff", data_dir, "--quick", "--epochs", "1", "--sizes", "784,16", "--seeds", "3,4"
    )
    result = run_suite(mnist_ff, args, Console(quiet=True))
    records = result["records"]
    assert [(r["method"], r["seed"]) for r in records] == [("ff", 3), ("ff", 4)]
    assert records[0]["config"] == records[1]["config"]  # seeds are not part of the identity
    losses = [r["details"]["history"][0]["loss"] for r in records]
    assert losses[0] != losses[1]


def test_cli_writes_json(data_dir, tmp_path):
    out = tmp_path / "result.json"
    results = fresh_results()
    argv = [
        "bench",
        "mnist-ff",
        "--data",
        str(data_dir),
        "--no-verify",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--results",
        results,
        "--quick",
        "--epochs",
        "1",
        "--sizes",
        "784,16,16",
    ]
    assert cli.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["suite"] == "mnist-ff" and result["preset"].startswith("custom-")
    (record,) = result["records"]
    assert record["config"]["epochs"] == 1 and record["config"]["sizes"] == [784, 16, 16]
    assert load_records(Path(results)) == [record]


def test_cli_refuses_unofficial_files_without_no_verify(data_dir, tmp_path, capsys):
    results = tmp_path / "results"
    argv = [
        "bench",
        "mnist-cwc",
        "--data",
        str(data_dir),
        "--out",
        str(tmp_path / "r.json"),
        "--device",
        "cpu",
        "--results",
        str(results),
        "--quick",
    ]
    assert cli.main(argv) == 2
    assert "SHA-256" in capsys.readouterr().out
    assert not (tmp_path / "r.json").exists()
    assert not list(results.rglob("*.json"))


def test_suites_registered_with_contract():
    for name, module in (("mnist-ff", mnist_ff), ("mnist-cwc", mnist_cwc)):
        suite = load_suite(name)
        assert suite is module and name == suite.NAME
        assert all(hasattr(suite, attr) for attr in CONTRACT)
        assert isinstance(suite.DESCRIPTION, str) and suite.DESCRIPTION
        assert suite.PAGE.anchors and all("%" in a for a in suite.PAGE.anchors)
        assert "%" not in suite.__doc__  # measured numbers live in records, not docstrings
        assert suite.FULL.seeds == suite.QUICK.seeds == (0,)
        assert [r.seed for r in suite.runs(suite.QUICK)] == [0]


def test_data_folder_is_not_part_of_the_preset():
    with_data = mnist_ff.Config(data="/somewhere", sizes=(784, 1000, 1000), epochs=4, lr=3e-3)
    assert preset_of(mnist_ff, with_data) == "quick"
    unverified = mnist_ff.Config(verify=False, sizes=(784, 1000, 1000), epochs=4, lr=3e-3)
    assert preset_of(mnist_ff, unverified).startswith("custom-")


@pytest.mark.parametrize(
    "suite, argv, flag",
    [
        ("mnist-ff", ["--sizes", "100,10"], "--sizes"),
        ("mnist-ff", ["--epochs", "0"], "--epochs"),
        ("mnist-ff", ["--lr", "0"], "--lr"),
        ("mnist-ff", ["--val", "-1"], "--val"),
        ("mnist-cwc", ["--channels", "10,25"], "--channels"),
        ("mnist-cwc", ["--limit", "0"], "--limit"),
    ],
)
def test_bad_settings_are_refused_naming_the_flag(suite, argv, flag, tmp_path, capsys):
    base = ["bench", suite, "--quick", "--device", "cpu", "--results", str(tmp_path)]
    assert cli.main(base + argv) == 2
    assert flag in capsys.readouterr().out


def test_quick_configs_are_smaller_than_full():
    assert mnist_ff.QUICK.epochs < mnist_ff.FULL.epochs
    assert sum(mnist_ff.QUICK.sizes) < sum(mnist_ff.FULL.sizes)
    assert sum(mnist_cwc.QUICK.channels) < sum(mnist_cwc.FULL.channels)
    assert mnist_ff.FULL.sizes == (784, 2000, 2000, 2000, 2000) and mnist_ff.FULL.epochs == 60


def test_ffcode_schedule_is_flat_then_linear_to_zero():
    total = 100
    factors = [_common.ffcode_lr_factor(s, total) for s in range(total + 1)]
    assert all(f == 1.0 for f in factors[:51])
    assert factors[-1] == 0.0
    assert all(a >= b for a, b in zip(factors, factors[1:]))


def test_cwc_backprop_twin_matches_ff_shapes():
    cfg = mnist_cwc.Config(channels=(10, 20, 30, 40), epochs=1)
    ff = mnist_cwc.build_model(cfg, 0, "cpu")
    bp = mnist_cwc.backprop_twin(cfg, 0)
    x = torch.rand(2, 1, 28, 28)
    assert bp(x).shape == (2, 10)
    assert ff.net.activities(x)[-1].shape == (2, 40, 7, 7)
    assert ff.net.layers[1].transform.groups == 10
