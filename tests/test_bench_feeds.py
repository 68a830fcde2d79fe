"""The feeds suite: river's Phishing and two anomaly streams, FF models against river's."""

from __future__ import annotations

import json

from benchmarks import feeds
from benchmarks.lab import load_records
from ffstream import cli


def test_feeds_runs_each_model_on_its_kind_of_task():
    cfg = feeds.Config(seeds=(0, 1))
    pairs = {(r.task, r.method) for r in feeds.runs(cfg)}
    assert pairs == {("phishing", m) for m in feeds.CLASSIFIERS} | {
        (t, m) for t in ("anomaly-sine", "sensor") for m in feeds.DETECTORS
    }
    assert len(feeds.runs(cfg)) == 2 * len(pairs)
    assert feeds.runs(feeds.Config(datasets=("sensor",), models=tuple(feeds.CLASSIFIERS))) == []


def test_feeds_cli(tmp_path):
    argv = ["bench", "feeds", "--quick", "--repeats", "1", "--anomaly-samples", "600"]
    argv += ["--models", "FFClassifier,FFAnomalyDetector,MinMaxScaler+HalfSpaceTrees"]
    argv += ["--datasets", "phishing,sensor", "--seeds", "3"]
    argv += ["--results", str(tmp_path / "results"), "--out", str(tmp_path / "feeds.json")]
    assert cli.main(argv) == 0
    records = {(r["task"], r["method"]): r for r in load_records(tmp_path / "results")}
    assert set(records) == {
        ("phishing", "FFClassifier"),
        ("sensor", "FFAnomalyDetector"),
        ("sensor", "MinMaxScaler+HalfSpaceTrees"),
    }
    phishing = records["phishing", "FFClassifier"]
    assert 0.5 < phishing["metrics"]["accuracy"] <= 1.0 and phishing["seed"] == 3
    assert len(phishing["details"]["samples_per_s_runs"]) == 1
    for method in ("FFAnomalyDetector", "MinMaxScaler+HalfSpaceTrees"):
        record = records["sensor", method]
        assert 0.0 <= record["metrics"]["roc_auc"] <= 1.0
        assert record["details"]["samples"] == 600 and record["details"]["anomalies"] > 0
    assert len(json.loads((tmp_path / "feeds.json").read_text())["records"]) == 3
