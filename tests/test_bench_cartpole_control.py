"""The control suite (Acrobot-v1, Pendulum-v1) end to end with tiny budgets: each env's own
target and window, every episode's return in the records, and the SB3 peers (DQN on Acrobot-v1,
SAC capped at rl-zoo's budget on Pendulum-v1; skipped without stable-baselines3)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from conftest import fresh_results
from rich.console import Console

from benchmarks import _rl_protocol, _sb3_dqn, _sb3_sac, control
from ffstream import cli

HAS_SB3 = importlib.util.find_spec("stable_baselines3") is not None
METRICS = {
    "solved_at",
    "final_mean_return",
    "best_mean_return",
    "eval_solved_at",
    "solved",
    "last_evals_min",
    "steps_per_s",
    "wall_s",
}


def _bench(tmp_path, *extra: str) -> tuple[list[dict], dict]:
    results, out = fresh_results(), tmp_path / "control.json"
    agent = tmp_path / "agent.toml"
    agent.write_text("hidden = [8]\nlearning_starts = 100\n")
    argv = ["bench", "control", "--device", "cpu", "--results", results, "--out", str(out)]
    argv += ["--seeds", "0", "--config", str(agent), "--eval-episodes", "2", *extra]
    assert cli.main(argv) == 0
    records = [json.loads(p.read_text()) for p in sorted(Path(results).rglob("*.json"))]
    return records, json.loads(out.read_text())


def test_each_env_has_its_own_target_and_every_episode_is_recorded(tmp_path):
    records, combined = _bench(
        tmp_path, "--max-steps", "900", "--eval-every", "450", "--num-envs", "2"
    )
    assert sorted((r["task"], r["method"]) for r in records) == [
        ("Acrobot-v1", "ffq"),
        ("Pendulum-v1", "ffq"),
    ]
    for r in records:
        m, d = r["metrics"], r["details"]
        assert set(m) == METRICS and d["agent"]["hidden"] == [8]
        target = control.TARGETS[r["task"]]
        assert (d["window"], d["threshold"]) == (target.window, target.threshold)
        assert [x // 450 for x, _ in d["evals"]] == [1, 2]
        assert m["solved"] == 0 and m["final_mean_return"] is None  # no full window yet
    pendulum = next(r for r in records if r["task"] == "Pendulum-v1")["details"]
    # 2 envs of 200-step episodes for 900 env steps: four whole episodes, each one recorded
    episodes = pendulum["episode_returns"]
    assert [steps for steps, _, _ in episodes] == [400, 400, 800, 800]
    assert all(-16.3 * 200 <= ret < 0 for _, ret, _ in episodes)  # Pendulum's reward range
    assert episodes[-1][2] == pytest.approx(sum(r for _, r, _ in episodes) / 4, abs=0.01)
    assert set(combined["envs"]) == {"Acrobot-v1", "Pendulum-v1"}


def test_a_window_mean_reaching_the_target_is_solved():
    curve = _rl_protocol.TrainingCurve(window=20, threshold=-400.0)
    evals = _rl_protocol.Evaluations(5_000, 2, env_id="Pendulum-v1", threshold=-400.0)
    for i in range(19):
        curve.episode(200 * (i + 1), -300.0)
    r = _rl_protocol.outcome(0, 3_800, 1.0, curve, evals)
    assert r["solved_at"] is None and r["final_mean_return"] is None  # 19 episodes
    curve.episode(4_000, -500.0)  # the window's mean: -310
    r = _rl_protocol.outcome(0, 4_000, 1.0, curve, evals)
    assert r["solved_at"] == 4_000 and r["final_mean_return"] == pytest.approx(-310.0)


def test_runs_and_peers_per_env():
    cfg = control.Config(seeds=(0, 1), peer=("sb3",)) if HAS_SB3 else None
    if cfg is not None:
        got = [(r.task, r.method, r.seed) for r in control.runs(cfg)]
        assert got[:4] == [("Acrobot-v1", m, s) for m in ("ffq", "sb3-dqn") for s in (0, 1)]
        assert got[4:] == [("Pendulum-v1", m, s) for m in ("ffq", "sb3-sac") for s in (0, 1)]
    assert control.QUICK.seeds == (0,) and control.FULL.max_steps == 100_000
    assert [r.task for r in control.runs(control.Config(envs=("Pendulum-v1",)))] == [
        "Pendulum-v1"
    ] * 3


def test_combine_per_env_and_the_dqn_speed_ratio():
    def record(task, method, speed, final):
        metrics = {"solved": 1, "solved_at": 50_000, "final_mean_return": final}
        return {"task": task, "method": method, "preset": "p", "config": {},
                "metrics": metrics | {"steps_per_s": speed}}  # fmt: skip

    records = [
        record("Acrobot-v1", "ffq", 900.0, -90.0),
        record("Acrobot-v1", "sb3-dqn", 300.0, -80.0),
        record("Pendulum-v1", "ffq", 1000.0, -500.0),
        record("Pendulum-v1", "sb3-sac", 60.0, -150.0),
    ]
    with open(os.devnull, "w") as quiet:
        result = control.combine(control.FULL, records, Console(file=quiet))
    assert result["envs"]["Acrobot-v1"]["speed_ratio_vs_sb3-dqn"] == 3.0
    assert "speed_ratio_vs_sb3-dqn" not in result["envs"]["Pendulum-v1"]
    assert result["envs"]["Pendulum-v1"]["sb3-sac"]["median_final_mean_return"] == -150.0


@pytest.mark.skipif(not HAS_SB3, reason="stable-baselines3 is not installed (the sb3 extra)")
def test_sb3_peers_train_in_the_same_run_with_rl_zoos_settings(tmp_path, monkeypatch):
    # SAC is capped at rl-zoo's own budget (20,000 env steps; 250 here, to stay fast)
    entry = _sb3_sac.RL_ZOO_SAC["Pendulum-v1"]
    monkeypatch.setitem(
        _sb3_sac.RL_ZOO_SAC, "Pendulum-v1", _sb3_dqn.ZooEntry(entry.settings, 250, entry.source)
    )
    records, combined = _bench(
        tmp_path, "--max-steps", "400", "--eval-every", "200", "--peer", "sb3"
    )
    peers = {r["task"]: r for r in records if r["method"].startswith("sb3")}
    dqn, sac = peers["Acrobot-v1"], peers["Pendulum-v1"]
    assert dqn["method"] == "sb3-dqn" and sac["method"] == "sb3-sac"
    assert dqn["details"]["steps"] >= 400 and sac["details"]["steps"] == 250
    assert dqn["details"]["agent"]["learning_rate"] == 6.3e-4
    assert dqn["details"]["agent"]["target_update_interval"] == 250
    assert sac["details"]["agent"]["learning_rate"] == 1e-3
    assert "sac.yml" in sac["details"]["agent"]["source"]
    assert [x for x, _ in dqn["details"]["evals"]] == [200, 400]
    assert "speed_ratio_vs_sb3-dqn" in combined["envs"]["Acrobot-v1"]
