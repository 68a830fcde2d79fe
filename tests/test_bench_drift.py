"""The drift suite: river drift streams, FF learners against adaptive trees."""

from __future__ import annotations

import argparse
import io
import json

import pytest
from conftest import fresh_results
from rich.console import Console

from benchmarks import drift
from benchmarks.lab import add_suite_arguments, load_records, run_suite
from ffstream import cli
from ffstream.config import config_from_args


def test_drift_streams_and_cli(tmp_path):
    # ConceptDriftStream overflows when position / width > ~177: the widths must avoid that
    for name in drift.STREAMS:
        samples = list(drift.make_stream(name, 300, seed=0))
        assert len(samples) == 300
    out, results = tmp_path / "drift.json", tmp_path / "results"
    models = ("ff-river", "ff-river-bins", "ff-stream", "hat")
    argv = ["bench", "drift", "--device", "cpu", "--quick", "--samples", "100", "--window", "25"]
    argv += ["--streams", "sea,rbf", "--models", ",".join(models)]
    argv += ["--results", str(results), "--out", str(out)]
    assert cli.main(argv) == 0
    result = json.loads(out.read_text())
    runs = {(e["stream"], e["model"]): e for e in result["results"]}
    assert set(runs) == {(s, m) for s in ("sea", "rbf") for m in models}
    for e in runs.values():
        assert 0.0 <= e["prequential_accuracy"]["mean"] <= 1.0
        assert e["prequential_accuracy"]["std"] == 0.0  # one seed
        assert [p["samples"] for p in e["runs"][0]["curve"]] == [25, 50, 75, 100]
    assert result["device"] == "cpu" and "requested_device" not in result
    records = load_records(results)
    assert len(records) == 8 and {r["preset"] for r in records} == {records[0]["preset"]}
    for record in records:
        assert set(record["metrics"]) == {"prequential_accuracy", "samples_per_s"}
        assert [n for n, _ in record["details"]["curve"]] == [25, 50, 75, 100]
    # a second call finds every run in the results folder and gives the same numbers
    assert cli.main(argv) == 0
    assert json.loads(out.read_text())["results"] == result["results"]


def test_drift_runs_on_the_cpu_when_a_gpu_is_asked_for(tmp_path):
    parser = argparse.ArgumentParser()
    add_suite_arguments(parser, drift)
    argv = ["--samples", "30", "--window", "10", "--streams", "sea", "--models", "hat"]
    args = parser.parse_args([*argv, "--seeds", "0", "--results", str(tmp_path)])
    args.device = "cuda"  # as resolved on a GPU machine
    text = io.StringIO()
    combined = run_suite(drift, args, Console(file=text))
    assert "runs on the cpu (asked for cuda)" in text.getvalue()
    (record,) = load_records(tmp_path)
    assert record["environment"]["device"] == "cpu" and combined["device"] == "cpu"


def test_drift_runs_in_the_old_order():
    cfg = drift.Config(streams=("sea", "rbf"), models=("hat", "arf"), seeds=(1, 0))
    assert [(r.seed, r.task, r.method) for r in drift.runs(cfg)] == [
        (s, t, m) for s in (1, 0) for t in ("sea", "rbf") for m in ("hat", "arf")
    ]


@pytest.mark.parametrize(("given", "expected"), [(None, 0.99), ("none", None), ("0.9", 0.9)])
def test_drift_ff_ema_decay_reaches_both_ff_river_models(given, expected):
    argv = ["bench", "drift"] + (["--ff-ema-decay", given] if given else [])
    cfg = config_from_args(cli.build_parser().parse_args(argv), drift.FULL)
    assert cfg.ff_ema_decay == expected
    plain = drift.make_model("ff-river", cfg, 2, seed=0)
    binned = drift.make_model("ff-river-bins", cfg, 2, seed=0)
    assert plain.ema_decay == binned["FFClassifier"].ema_decay == expected


def test_drift_refuses_a_bad_ff_ema_decay(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["bench", "drift", "--ff-ema-decay", "fast"])
    assert "--ff-ema-decay" in capsys.readouterr().err
    for bad in (1.0, -0.5):
        with pytest.raises(ValueError, match="--ff-ema-decay"):
            drift.Config(ff_ema_decay=bad)
    argv = ["bench", "drift", "--quick", "--ff-ema-decay", "1.0", "--results", fresh_results()]
    assert cli.main(argv) == 2


@pytest.mark.parametrize(
    ("flag", "value"), [("--samples", "1"), ("--window", "0"), ("--streams", "hyperplane")]
)
def test_drift_refuses_bad_settings(flag, value):
    argv = ["bench", "drift", "--quick", flag, value, "--results", fresh_results()]
    try:
        code = cli.main(argv)
    except SystemExit as err:  # argparse refuses an unknown choice
        code = err.code
    assert code == 2
