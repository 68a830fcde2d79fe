"""The cartpole suite end to end with tiny budgets: one JSON record per seed and method, the
shared evaluation protocol, and the SB3 peer (skipped when stable-baselines3 is not installed)."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import fresh_results
from rich.console import Console

from benchmarks import _rl_protocol, cartpole
from ffstream import cli

METRICS = {
    "eval_solved_at",
    "last_evals_min",
    "stayed_solved",
    "best_mean_return",
    "solved",
    "solved_at",
    "steps_per_s",
    "wall_s",
}
HAS_SB3 = importlib.util.find_spec("stable_baselines3") is not None


def _records(results: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(results).rglob("*.json"))]


def _bench(tmp_path, *extra: str) -> tuple[list[dict], dict]:
    results, out = fresh_results(), tmp_path / "cartpole.json"
    argv = ["bench", "cartpole", "--device", "cpu", "--results", results, "--out", str(out)]
    assert cli.main(argv + list(extra)) == 0
    return _records(results), json.loads(out.read_text())


def test_cartpole_writes_one_record_per_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(_rl_protocol, "CURVE_EVERY", 100)
    agent = tmp_path / "agent.toml"
    agent.write_text("hidden = [8]\nlearning_starts = 100\n")
    records, combined = _bench(
        tmp_path, "--seeds", "0,1", "--max-steps", "400", "--eval-every", "100",
        "--eval-episodes", "3", "--config", str(agent),
    )  # fmt: skip
    assert [(r["method"], r["seed"]) for r in records] == [("ffq", 0), ("ffq", 1)]
    for r in records:
        assert r["suite"] == "cartpole" and r["preset"].startswith("custom-")
        assert set(r["metrics"]) == METRICS
        m, d = r["metrics"], r["details"]
        assert m["solved"] == 0 and m["solved_at"] is None  # 400 steps cannot solve it
        assert m["steps_per_s"] > 0 and d["train_s"] <= m["wall_s"]
        assert 400 <= d["steps"] < 404 and d["agent"]["hidden"] == [8]  # the whole budget
        assert [x for x, _ in d["curve"]] == [100, 200, 300, 400]
        # every 100 env steps (4 envs step together; an env restarting counts no step)
        assert [x // 100 for x, _ in d["evals"]] == [1, 2, 3, 4]
        assert d["last_evals"] == [mean for _, mean in d["evals"][-3:]]
        assert m["last_evals_min"] == min(d["last_evals"]) and m["stayed_solved"] == 0
    ours = combined["methods"]["ffq"]
    assert ours["seeds"] == 2 and ours["median_solved_at"] is None and ours["stayed_solved"] == 0
    assert len(combined["records"]) == 2 and not any("speed_ratio" in k for k in combined)


class _Always:
    """A policy that always pushes right; CartPole ends such episodes within a few dozen steps."""

    env_steps = 0

    @staticmethod
    def action_map(index):
        return index

    @staticmethod
    def choose(obs, deterministic=True):
        import torch

        return torch.ones(obs.shape[0], dtype=torch.long)


def test_evaluations_keep_the_protocol():
    evals = cartpole.Evaluations(every=5, episodes=4, env_id="CartPole-v1", threshold=475.0)
    assert not evals.due(4) and evals.due(5)
    first = evals.run(_Always(), 5)
    assert evals.run(_Always(), 6) == first  # seeded by the scheduled step: the same episodes
    evals.run(_Always(), 12)  # a late evaluation moves the next one past it
    assert not evals.due(14) and evals.due(15)
    summary = evals.summary()
    assert summary["last_evals"] == [first, first, evals.results[-1][1]]
    assert summary["eval_solved_at"] is None and summary["stayed_solved"] == 0
    assert evals.seconds > 0


def test_training_curve_follows_gymnasiums_rule():
    curve = cartpole.TrainingCurve(cartpole.WINDOW, cartpole.THRESHOLD)
    for i in range(cartpole.WINDOW - 1):
        curve.episode(10 * i, 500.0)
    assert curve.returns.solved_at is None  # 99 episodes are not enough
    curve.episode(5_000, 500.0)
    assert curve.returns.solved_at == 5_000 and curve.returns.best_mean == 500.0
    curve.tick(2_500)
    assert [x for x, _ in curve.points] == [1_000, 2_000]


def test_peer_sb3_without_stable_baselines3_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # as if not installed
    results = fresh_results()
    argv = ["bench", "cartpole", "--peer", "sb3", "--device", "cpu", "--results", results]
    assert cli.main(argv + ["--max-steps", "100"]) == 2
    text = capsys.readouterr().out.strip()
    assert len(text.splitlines()) == 1, text
    assert "--peer sb3 needs stable-baselines3" in text and "pip install stable-baselines3" in text
    assert _records(results) == []  # refused before the agent ran


@pytest.mark.skipif(not HAS_SB3, reason="stable-baselines3 is not installed (the sb3 extra)")
def test_peer_sb3_trains_in_the_same_run(tmp_path):
    agent = tmp_path / "agent.toml"
    agent.write_text("hidden = [8]\nlearning_starts = 100\n")
    records, combined = _bench(
        tmp_path, "--seeds", "0", "--max-steps", "1100", "--eval-every", "550",
        "--eval-episodes", "2", "--config", str(agent), "--peer", "sb3",
    )  # fmt: skip
    assert [(r["method"], r["seed"]) for r in records] == [("ffq", 0), ("sb3-dqn", 0)]
    peer = records[1]
    # SB3 collects train_freq (256) steps at a time, so it may run past the budget
    assert set(peer["metrics"]) == METRICS and peer["details"]["steps"] >= 1100
    assert [x for x, _ in peer["details"]["evals"]] == [550, 1100]  # the agent's protocol
    settings = peer["details"]["agent"]
    assert settings["learning_rate"] == 2.3e-3 and settings["train_freq"] == 256
    assert "rl-baselines3-zoo" in settings["source"]
    speeds = {m: combined["methods"][m]["median_steps_per_s"] for m in ("ffq", "sb3-dqn")}
    assert combined["speed_ratio_vs_sb3-dqn"] == pytest.approx(speeds["ffq"] / speeds["sb3-dqn"])


def test_presets():
    assert [r.seed for r in cartpole.runs(cartpole.QUICK)] == [0, 1]
    assert cartpole.QUICK.max_steps == 30_000 and cartpole.FULL.max_steps == 100_000
    assert (cartpole.FULL.eval_every, cartpole.FULL.eval_episodes) == (5_000, 20)
    assert cartpole.median_steps([10, None, 30]) == 30
    assert cartpole.median_steps([None, None, 5]) is None


def test_cartpole_refuses_a_missing_agent_config(tmp_path):
    argv = ["bench", "cartpole", "--config", str(tmp_path / "none.toml"), "--device", "cpu"]
    assert cli.main(argv + ["--results", fresh_results()]) == 2


def test_combine_reports_the_speed_ratio():
    def record(method, speed):
        metrics = {"eval_solved_at": 5_000, "solved_at": None, "stayed_solved": 1}
        return {"method": method, "preset": "p", "config": {}, "metrics": metrics | {
            "steps_per_s": speed}}  # fmt: skip

    records = [record("ffq", 900.0), record("ffq", 1100.0), record("sb3-dqn", 500.0)]
    with open(os.devnull, "w") as quiet:
        result = cartpole.combine(cartpole.FULL, records, Console(file=quiet))
    assert result["methods"]["ffq"]["median_steps_per_s"] == 1000.0
    assert result["speed_ratio_vs_sb3-dqn"] == 2.0
    assert result["methods"]["sb3-dqn"]["stayed_solved"] == 1


def test_the_agents_resolved_settings_are_part_of_a_runs_identity(tmp_path, monkeypatch):
    from benchmarks import lab
    from ffstream.agents import AgentConfig

    assert cartpole.FULL.agent_settings == AgentConfig().to_dict()
    agent = tmp_path / "agent.toml"
    agent.write_text("hidden = [8]\n")
    custom = cartpole.Config(config=str(agent))
    assert custom.agent_settings["hidden"] == [8]
    assert lab.preset_of(cartpole, custom).startswith("custom-")
    # a record made before a default changed is not taken for a run of the new defaults
    before = lab.config_identity(cartpole.FULL)
    monkeypatch.setattr(cartpole, "AgentConfig", functools.partial(AgentConfig, lr=0.123))
    assert lab.config_identity(cartpole.Config()) != before
