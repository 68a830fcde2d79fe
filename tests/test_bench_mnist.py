"""The MNIST benchmark suites end to end on tiny generated IDX files.

The files are written with :func:`ffstream.data.write_idx` in the official layout; their
checksums are not the official ones, so the suites run with ``--no-verify``. Each digit is a
class-specific blob, so even one short epoch learns something, but the tests check the shape of
the results, not their quality.
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import bench_args, write_fake_mnist
from rich.console import Console

from ffstream import bench, cli
from benchmarks import _common, mnist_cwc, mnist_ff

N_TRAIN, N_TEST = 200, 60


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), N_TRAIN, N_TEST)


def _check_result(result, suite, modes, n_train):
    json.dumps(result)  # serialisable as it is
    assert result["suite"] == suite
    for key in ("date", "device", "device_name", "torch", "ffstream", "python"):
        assert isinstance(result[key], str) and result[key]
    assert result["device"] == "cpu"
    assert isinstance(result["config"], dict)
    assert result["data"]["train_frames"] == n_train
    assert result["data"]["test_frames"] == N_TEST
    assert set(result["test_error_pct"]) == set(modes)
    for err in result["test_error_pct"].values():
        assert isinstance(err, float) and 0.0 <= err <= 100.0
    timing = result["timing"]
    for key in ("ff_epoch_s", "bp_epoch_s", "ff_over_bp"):
        assert isinstance(timing[key], float) and timing[key] > 0
    assert isinstance(result["wall_s"], float) and result["wall_s"] > 0
    assert [r["epoch"] for r in result["history"]] == list(range(1, result["config"]["epochs"] + 1))


def test_mnist_ff_run_returns_complete_result(data_dir):
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
    result = mnist_ff.run(args, Console(quiet=True))
    _check_result(result, "mnist-ff", {"goodness", "readout"}, N_TRAIN - 40)
    assert list(result["config"]["sizes"]) == [784, 32, 32]
    assert set(result["val_error_pct"]) == {"goodness", "readout"}
    assert len(result["history"][0]["loss"]) == 2


def test_mnist_cwc_run_returns_complete_result(data_dir):
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
    result = mnist_cwc.run(args, Console(quiet=True))
    _check_result(result, "mnist-cwc", {"goodness", "goodness_last_layer", "readout"}, N_TRAIN)
    assert result["val_error_pct"] is None


def test_cli_writes_json(data_dir, tmp_path):
    out = tmp_path / "result.json"
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
        "--quick",
        "--epochs",
        "1",
        "--sizes",
        "784,16,16",
    ]
    assert cli.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["suite"] == "mnist-ff" and result["quick"] is True


def test_cli_refuses_unofficial_files_without_no_verify(data_dir, tmp_path, capsys):
    argv = [
        "bench",
        "mnist-cwc",
        "--data",
        str(data_dir),
        "--out",
        str(tmp_path / "r.json"),
        "--device",
        "cpu",
        "--quick",
    ]
    assert cli.main(argv) == 2
    assert "SHA-256" in capsys.readouterr().out
    assert not (tmp_path / "r.json").exists()


def test_suites_registered_with_contract():
    for name in ("mnist-ff", "mnist-cwc"):
        suite = bench.load_suite(name)
        assert isinstance(suite.DESCRIPTION, str) and suite.DESCRIPTION
        assert callable(suite.add_arguments) and callable(suite.run)


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
    cfg = mnist_cwc.CwCConfig(channels=(10, 20, 30, 40), epochs=1)
    ff = mnist_cwc.build_model(cfg, "cpu")
    bp = mnist_cwc.backprop_twin(cfg)
    x = torch.rand(2, 1, 28, 28)
    assert bp(x).shape == (2, 10)
    assert ff.net.activities(x)[-1].shape == (2, 40, 7, 7)
    assert ff.net.layers[1].transform.groups == 10
