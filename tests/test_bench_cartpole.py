"""The cartpole suite end to end with a tiny budget: one JSON record per seed, its metrics."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import fresh_results

from benchmarks import cartpole
from ffstream import cli

METRICS = {"solved", "solved_at", "eval_solved_at", "best_mean_return", "steps_per_s", "wall_s"}


def _records(results: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(results).rglob("*.json"))]


def test_cartpole_writes_one_record_per_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(cartpole, "CURVE_EVERY", 100)
    agent = tmp_path / "agent.toml"
    agent.write_text("hidden = [8]\nlearning_starts = 100\n")
    results, out = fresh_results(), tmp_path / "cartpole.json"
    argv = ["bench", "cartpole", "--seeds", "0,1", "--max-steps", "400", "--eval-every", "200"]
    argv += ["--config", str(agent), "--device", "cpu", "--results", results, "--out", str(out)]
    assert cli.main(argv) == 0
    records = _records(results)
    assert [(r["method"], r["seed"]) for r in records] == [("ffq", 0), ("ffq", 1)]
    for r in records:
        assert r["suite"] == "cartpole" and r["preset"].startswith("custom-")
        assert set(r["metrics"]) == METRICS
        m = r["metrics"]
        assert m["solved"] == 0 and m["solved_at"] is None  # 400 steps cannot solve it
        assert m["steps_per_s"] > 0 and m["wall_s"] >= 0
        d = r["details"]
        assert d["steps"] >= 400 and d["agent"]["hidden"] == [8]
        assert [x for x, _ in d["curve"]] == [x for x in (100, 200, 300, 400) if x <= d["steps"]]
        assert len(d["evals"]) == 2 and 200 <= d["evals"][0][0] < 300  # every 200 env steps
    combined = json.loads(out.read_text())
    assert combined["median_solved_at"] is None and len(combined["records"]) == 2


def test_cartpole_refuses_a_missing_agent_config(tmp_path):
    argv = ["bench", "cartpole", "--config", str(tmp_path / "none.toml"), "--device", "cpu"]
    assert cli.main(argv + ["--results", fresh_results()]) == 2


def test_quick_preset_and_medians():
    assert [r.seed for r in cartpole.runs(cartpole.QUICK)] == [0, 1]
    assert cartpole.QUICK.max_steps == 30_000 and cartpole.FULL.max_steps == 150_000
    assert cartpole.median_steps([10, None, 30]) == 30
    assert cartpole.median_steps([None, None, 5]) is None
