"""The drift suite: river drift streams, FF learners against adaptive trees."""

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


def test_drift_streams_and_cli(tmp_path):
    # ConceptDriftStream overflows when position / width > ~177: the widths must avoid that
    for name in drift.STREAMS:
        samples = list(drift.make_stream(name, 300, seed=0))
        assert len(samples) == 300
    out = tmp_path / "drift.json"
    argv = ["bench", "drift", "--device", "cpu", "--quick", "--samples", "100", "--window", "25"]
    argv += [
        "--streams",
        "sea,rbf",
        "--models",
        "ff-river,ff-river-bins,ff-stream,hat",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    result = json.loads(out.read_text())
    runs = {(e["stream"], e["model"]): e for e in result["results"]}
    assert set(runs) == {
        (s, m) for s in ("sea", "rbf") for m in ("ff-river", "ff-river-bins", "ff-stream", "hat")
    }
    for e in runs.values():
        assert 0.0 <= e["prequential_accuracy"]["mean"] <= 1.0
        assert [p["samples"] for p in e["runs"][0]["curve"]] == [25, 50, 75, 100]
    assert result["table"].startswith("| stream | ff-river | ff-river-bins | ff-stream | hat |")
    assert result["device"] == "cpu" and "requested_device" not in result


def test_drift_records_the_cpu_when_a_gpu_is_asked_for():
    args = cli.build_parser().parse_args(["bench", "drift", "--quick", "--samples", "30"])
    args.device = "cuda"  # as resolved on a GPU machine: the river models still use the CPU
    args.streams, args.models, args.window = "sea", "hat", 10
    result = drift.run(args, Console(file=io.StringIO()))
    assert result["device"] == "cpu" and result["requested_device"] == "cuda"


@pytest.mark.parametrize(("given", "expected"), [(None, 0.99), ("none", None), ("0.9", 0.9)])
def test_drift_ff_ema_decay_reaches_both_ff_river_models(given, expected):
    argv = ["bench", "drift"] + (["--ff-ema-decay", given] if given else [])
    cfg = drift.config_from_args(cli.build_parser().parse_args(argv))
    assert cfg.ff_ema_decay == expected
    plain = drift.make_model("ff-river", cfg, 2, seed=0)
    binned = drift.make_model("ff-river-bins", cfg, 2, seed=0)
    assert plain.ema_decay == binned["FFClassifier"].ema_decay == expected


@pytest.mark.parametrize("bad", ["1.0", "-0.5", "fast"])
def test_drift_refuses_a_bad_ff_ema_decay(bad, capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["bench", "drift", "--ff-ema-decay", bad])
    assert "--ff-ema-decay" in capsys.readouterr().err


