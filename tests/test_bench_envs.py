"""The envs suite end to end with a few small steps: one JSON record per stepper, its speed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import fresh_results
from rich.console import Console

from benchmarks import envs
from benchmarks.lab import Context, Run
from ffstream import cli


def test_envs_writes_one_record_per_stepper(tmp_path):
    results, out = fresh_results(), tmp_path / "envs.json"
    argv = ["bench", "envs", "--num-envs", "64", "--steps", "5", "--dtype", "float64"]
    argv += ["--device", "cpu", "--results", results, "--out", str(out)]
    assert cli.main(argv) == 0
    records = [json.loads(p.read_text()) for p in sorted(Path(results).rglob("*.json"))]
    assert [(r["method"], r["task"], r["seed"]) for r in records] == [
        ("ffstream", "64 envs", 0),
        ("gymnasium", "64 envs", 0),
    ]
    for r in records:
        assert r["suite"] == "envs" and r["config"]["dtype"] == "float64"
        assert set(r["metrics"]) == {"steps_per_s"} and r["metrics"]["steps_per_s"] > 0
        assert r["details"]["num_envs"] == 64 and r["details"]["steps"] == 5
    combined = json.loads(out.read_text())
    assert combined["ratio"] > 0 and combined["ratio_1m"] is None


def test_runs_per_device():
    cpu = envs.runs(envs.QUICK, "cpu")
    assert [(r.method, r.task) for r in cpu] == [
        ("ffstream", "16384 envs"),
        ("gymnasium", "16384 envs"),
    ]
    assert "ffstream-compile" in {r.method for r in envs.runs(envs.Config(compile=True), "cpu")}
    cuda = {(r.method, r.task) for r in envs.runs(envs.QUICK, "cuda")}
    assert {("ffstream-compile", "16384 envs"), ("ffstream-cudagraph", "16384 envs")} <= cuda
    assert {
        (m, f"{envs.BIG} envs") for m in ("ffstream", "ffstream-cudagraph", "gymnasium")
    } <= cuda


def test_cuda_graph_stepper_refuses_the_cpu():
    ctx = Context(device="cpu", console=Console(file=io.StringIO()))
    with pytest.raises(ValueError, match="CUDA"):
        envs.run_one(envs.QUICK, Run("ffstream-cudagraph", 0, "64 envs"), ctx)


def test_config_checks():
    with pytest.raises(ValueError, match="--steps"):
        envs.Config(steps=0)
