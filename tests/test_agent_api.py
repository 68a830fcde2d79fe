"""The agent's Stable-Baselines3-shaped API: predict, learn, save, load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rich.console import Console

from ffstream import cli, envs
from ffstream.agents import (
    AgentConfig,
    FFQAgent,
    load_agent_checkpoint,
    read_saved_agent,
    save_agent_checkpoint,
)

SMALL = AgentConfig(hidden=(16,), learning_starts=32, batch_size=16, sleep_every=100)


@pytest.fixture(scope="module")
def trained():
    """A small CartPole agent after a few hundred env steps (learning has started)."""
    agent = FFQAgent.for_env("CartPole-v1", SMALL, num_envs=2, seed=3).learn(300)
    assert agent.updates > 0
    return agent


def _obs(n: int, dim: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.5, (n, dim)).astype(np.float32)


def test_save_load_round_trip_acts_the_same(trained, tmp_path):
    path = trained.save(tmp_path / "agent.ckpt")
    loaded = FFQAgent.load(path)
    assert (loaded.env_id, loaded.seed, loaded.num_envs) == ("CartPole-v1", 3, 2)
    assert loaded.config == trained.config
    assert (loaded.env_steps, loaded.updates) == (trained.env_steps, trained.updates)
    obs = _obs(64)
    assert torch.equal(loaded.q_values(obs), trained.q_values(obs))
    assert np.array_equal(loaded.predict(obs)[0], trained.predict(obs)[0])
    # the loop's counters travel too: learning goes on counting episodes
    assert loaded._loop_state["episodes"] == trained.loop.episodes > 0


def test_predict_shapes_and_types(trained):
    action, state = trained.predict(_obs(1)[0])
    assert action.shape == () and action.dtype == np.int64 and int(action) in (0, 1)
    assert state is None
    batch, _ = trained.predict(_obs(5))
    assert batch.shape == (5,) and set(batch.tolist()) <= {0, 1}
    assert trained.predict(_obs(5).tolist())[0].tolist() == batch.tolist()  # lists work
    assert trained.predict(torch.from_numpy(_obs(5)))[0].tolist() == batch.tolist()
    with pytest.raises(ValueError, match=r"fits neither one observation \(4,\)"):
        trained.predict(np.zeros(3))
    with pytest.raises(ValueError, match="NaN or Inf"):
        trained.predict(np.array([0.0, np.nan, 0.0, 0.0]))


def test_predict_box_actions():
    agent = FFQAgent.for_env("Pendulum-v1", SMALL, num_envs=1)
    one, _ = agent.predict(np.zeros(3))
    many, _ = agent.predict(_obs(6, dim=3))
    assert one.shape == (1,) and one.dtype == np.float32 and -2.0 <= float(one[0]) <= 2.0
    assert many.shape == (6, 1)


def test_predict_leaves_the_agent_alone_and_explores_with_epsilon():
    cfg = SMALL.replace(eps_start=1.0, eps_end=1.0)
    agent = FFQAgent.for_env("CartPole-v1", cfg, num_envs=1)
    norm = {k: torch.as_tensor(v).clone() for k, v in agent.standardizer.state_dict().items()}
    rng = agent.rng.get_state()
    obs = np.tile(_obs(1), (200, 1))  # one state, 200 times
    greedy, _ = agent.predict(obs, deterministic=True)
    assert len(set(greedy.tolist())) == 1
    explored, _ = agent.predict(obs, deterministic=False)
    assert set(explored.tolist()) == {0, 1}  # epsilon 1: uniformly random actions
    assert torch.equal(agent.rng.get_state(), rng)
    after = agent.standardizer.state_dict()
    assert all(torch.equal(norm[k], torch.as_tensor(v)) for k, v in after.items())


def test_learn_advances_steps_and_stops_on_callback():
    agent = FFQAgent.for_env("CartPole-v1", SMALL, num_envs=2)
    agent.learn(100)
    assert 100 <= agent.env_steps < 100 + 2 * 2
    first = agent.env_steps
    assert agent.learn(100) is agent
    assert agent.env_steps >= first + 100 and agent.updates > 0
    seen = []

    def stop_at_first_episode(a, episodes):
        seen.extend(episodes)
        return not episodes

    before = agent.env_steps
    agent.learn(10_000, callback=stop_at_first_episode)
    assert len(seen) >= 1 and agent.env_steps < before + 1000


def test_learn_needs_a_fitting_env():
    env = envs.make("CartPole-v1", num_envs=2)
    agent = FFQAgent(env.single_observation_space, env.single_action_space, SMALL)
    with pytest.raises(ValueError, match="no environment to learn on"):
        agent.learn(10)
    agent.learn(10, env=env)
    with pytest.raises(ValueError, match="3 observation features and 5 actions"):
        agent.learn(10, env="Pendulum-v1")
    assert agent.env is env  # the refused env was not bound
    with pytest.raises(ValueError, match="whole number"):
        agent.learn(0)


def test_save_needs_the_env_id_and_finite_weights(tmp_path):
    agent = FFQAgent.for_env(envs.make("CartPole-v1", num_envs=1), SMALL)
    with pytest.raises(ValueError, match="set agent.env_id"):
        agent.save(tmp_path / "a.ckpt")
    agent.env_id = "CartPole-v1"
    good = agent.save(tmp_path / "a.ckpt")
    with torch.no_grad():
        next(agent.net.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="NaN or Inf"):
        agent.save(good)
    assert read_saved_agent(good).env_id == "CartPole-v1"  # the good file is intact


def test_interrupted_save_keeps_the_old_file(trained, tmp_path, monkeypatch):
    path = trained.save(tmp_path / "agent.ckpt")
    before = path.read_bytes()

    def crash(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr("ffstream._io.os.fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        trained.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["agent.ckpt"]  # no temporary left


def test_load_reads_run_checkpoints_and_run_resumes_saved_agents(tmp_path, config):
    ckpt = tmp_path / "run.ckpt"
    argv = ["run", "--threads", "1", "--steps", "120", "--config", config, "--save", str(ckpt)]
    assert cli.main(argv) == 0
    agent = FFQAgent.load(ckpt)
    assert agent.env_id == "CartPole-v1" and agent.config.hidden == (16,)
    assert agent.env_steps == load_agent_checkpoint(ckpt)["env_steps"] >= 120
    agent.learn(60)
    saved = agent.save(tmp_path / "api.ckpt")
    resumed = ["run", "--threads", "1", "--steps", "300", "--resume", str(saved)]
    assert cli.main([*resumed, "--save", str(ckpt)]) == 0
    assert load_agent_checkpoint(ckpt)["env_steps"] >= 300


def _state(agent: FFQAgent) -> dict:
    return {"env_id": "CartPole-v1", "num_envs": 1, "seed": 0, "agent": agent.state_dict()}


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda s: s.pop("env_id"), "no 'env_id'"),
        (lambda s: s["agent"].pop("layers"), "incomplete agent"),
        (lambda s: s.update(env_id=""), "names no environment"),
        (lambda s: s["agent"]["config"].update(gamma=3.0), "invalid agent config"),
        (lambda s: s["agent"]["layers"]["0.transform.weight"].fill_(float("nan")), "NaN or Inf"),
        (lambda s: s.update(env_id="Acrobot-v1"), "needs 6 and 3"),
    ],
)
def test_bad_saved_agents_raise_value_errors(tmp_path, break_it, message):
    agent = FFQAgent.for_env("CartPole-v1", SMALL, num_envs=1)
    state = _state(agent)
    assert "0.transform.weight" in state["agent"]["layers"]
    break_it(state)
    path = tmp_path / "bad.ckpt"
    save_agent_checkpoint(path, state)
    with pytest.raises(ValueError, match=message):
        FFQAgent.load(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        FFQAgent.load(tmp_path / "missing.ckpt")
    with pytest.raises(ValueError, match="is a directory"):
        FFQAgent.load(tmp_path)
    junk = tmp_path / "junk.ckpt"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        FFQAgent.load(junk)
    evil = tmp_path / "evil.ckpt"
    torch.save({"format": "ffstream.Agent/1", "payload": Console}, evil)
    with pytest.raises(ValueError, match="refused"):
        FFQAgent.load(evil)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"format": "something.else/1"}, foreign)
    with pytest.raises(ValueError, match="not a ffstream.Agent/2 checkpoint"):
        FFQAgent.load(foreign)
