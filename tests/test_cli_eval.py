"""``ffstream eval CHECKPOINT``: episodes of a saved agent, its report, and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ffstream.envs.cartpole import CartPole
from rich.console import Console

from ffstream import cli, envs
from ffstream.agents import (
    AgentConfig,
    FFQAgent,
    evaluate_episodes,
    save_agent_checkpoint,
)

SMALL = AgentConfig(hidden=(16,), learning_starts=32, batch_size=16, sleep_every=100)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny CartPole agent saved after a few hundred env steps."""
    agent = FFQAgent.for_env("CartPole-v1", SMALL, num_envs=2, seed=1).learn(200)
    return agent.save(tmp_path_factory.mktemp("eval") / "agent.ckpt")


def _eval_json(capsys, *argv: str) -> dict:
    assert cli.main(["eval", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_prints_mean_and_std_of_returns_and_lengths(saved, capsys):
    assert cli.main(["eval", str(saved), "--episodes", "4"]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "CartPole-v1" in out and "4 episodes, greedy, seed 0" in out
    assert "return " in out and "±" in out and "length " in out
    assert "below the solved threshold 475" in out  # 200 steps of learning do not solve it


def test_eval_json_matches_the_api(saved, capsys):
    report = _eval_json(capsys, str(saved), "--episodes", "5", "--seed", "7")
    assert report["env"] == "CartPole-v1" and report["episodes"] == 5
    assert report["deterministic"] is True and report["env_steps"] >= 200
    returns, lengths = report["returns"], report["lengths"]
    assert len(returns) == len(lengths) == 5
    assert returns == [float(n) for n in lengths]  # CartPole pays 1 per step
    assert report["mean_return"] == pytest.approx(np.mean(returns))
    assert report["std_return"] == pytest.approx(np.std(returns))
    assert report["mean_length"] == pytest.approx(np.mean(lengths))
    # the same episodes as the Python API played on the same envs and seed
    env = envs.make("CartPole-v1", num_envs=5)
    agent = FFQAgent.load(saved, env)
    assert evaluate_episodes(agent, env, 5, seed=7) == (returns, lengths)
    # and the same again from the command line: evaluation is reproducible
    assert _eval_json(capsys, str(saved), "--episodes", "5", "--seed", "7")["returns"] == returns


def test_eval_explores_with_no_deterministic(tmp_path, capsys):
    # epsilon stays 1: every action is random, so episodes last longer than a constant action's
    cfg = SMALL.replace(eps_start=1.0, eps_end=1.0)
    path = FFQAgent.for_env("CartPole-v1", cfg, num_envs=1).save(tmp_path / "random.ckpt")
    greedy = _eval_json(capsys, str(path), "--episodes", "16")
    explored = _eval_json(capsys, str(path), "--episodes", "16", "--no-deterministic")
    assert explored["deterministic"] is False
    assert explored["mean_length"] > greedy["mean_length"]


def test_evaluate_episodes_spreads_episodes_over_envs():
    env = envs.make("CartPole-v1", num_envs=3)
    agent = FFQAgent(env.single_observation_space, env.single_action_space, SMALL)
    returns, lengths = evaluate_episodes(agent, env, 7)
    assert len(returns) == len(lengths) == 7 and all(n >= 1 for n in lengths)


def _one_line_error(capsys) -> str:
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert len(text.splitlines()) == 1, text
    return text


def test_bad_checkpoints_exit_2_with_one_line(tmp_path, capsys):
    assert cli.main(["eval", str(tmp_path / "missing.ckpt")]) == 2
    assert "no checkpoint at" in _one_line_error(capsys)
    assert cli.main(["eval", str(tmp_path)]) == 2
    assert "is a directory" in _one_line_error(capsys)
    junk = tmp_path / "junk.ckpt"
    junk.write_text("hello")
    assert cli.main(["eval", str(junk)]) == 2
    assert "not a readable checkpoint" in _one_line_error(capsys)
    evil = tmp_path / "evil.ckpt"
    torch.save({"format": "ffstream.Agent/1", "payload": Console}, evil)
    assert cli.main(["eval", str(evil)]) == 2
    assert "refused" in _one_line_error(capsys)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["eval", str(junk), "--episodes", "0"])
    assert exit_.value.code == 2
    assert "--episodes" in _one_line_error(capsys)


def test_unknown_env_in_checkpoint_exits_2(tmp_path, capsys):
    agent = FFQAgent.for_env("CartPole-v1", SMALL, num_envs=1)
    path = tmp_path / "odd.ckpt"
    save_agent_checkpoint(path, {"env_id": "CartPol-v1", "agent": agent.state_dict()})
    assert cli.main(["eval", str(path)]) == 2
    assert "unknown environment 'CartPol-v1'" in _one_line_error(capsys)


def test_env_failing_while_stepping_exits_1(saved, monkeypatch, capsys):
    def broken(self, state, action):
        raise RuntimeError("sensor unplugged")

    monkeypatch.setattr(CartPole, "_transition", broken)
    assert cli.main(["eval", str(saved)]) == 1
    text = _one_line_error(capsys)
    assert "sensor unplugged" in text and "step()" in text
