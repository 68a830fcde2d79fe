"""Agent files of the layout before the agent's parts were the learner core's load, converted.

``data/agent-format1.ckpt`` was written by ``FFQAgent.save`` at commit dc5bd05 (an
``ffstream.Agent/1`` file: ``AgentConfig(hidden=(8, 8), memory_size=64, batch_size=16,
learning_starts=32, sleep_every=100)``, ``for_env("CartPole-v1", num_envs=2, seed=0)``, 300
env steps).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from ffstream import cli
from ffstream.agents import FFQAgent, load_agent_checkpoint, read_saved_agent
from ffstream.agents.checkpoint import AGENT_FORMAT, upgrade_agent_state
from ffstream.ff import rms_normalize

OLD = Path(__file__).parent / "data" / "agent-format1.ckpt"


def _old_q_values(state: dict, obs: torch.Tensor) -> torch.Tensor:
    """The earlier agent's acting Q-values, computed from its saved tensors by hand: its
    running normaliser (sample variance, clipped), then per layer relu(Wx + b) and a head on
    the RMS-normalised activities, the mean over layers."""
    norm, clip = state["obs_norm"], state["config"]["obs_clip"]
    std = (norm["m2"] / (norm["count"] - 1)).sqrt().clamp_min(1e-4)
    x = ((obs.double() - norm["mean"]) / std).clamp(-clip, clip).float()
    layers, out = state["layers"], []
    for i in range(len(state["config"]["hidden"])):
        h = F.relu(
            F.linear(x, layers[f"{i}.ff.transform.weight"], layers[f"{i}.ff.transform.bias"])
        )
        x = rms_normalize(h)
        out.append(F.linear(x, layers[f"{i}.head.weight"], layers[f"{i}.head.bias"]))
    return torch.stack(out).mean(0)


def test_an_earlier_agent_file_loads_and_acts_as_it_did():
    raw = torch.load(OLD, weights_only=True)
    assert raw["format"] == "ffstream.Agent/1" and "obs_norm" in raw["agent"]
    agent = FFQAgent.load(OLD)
    obs = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(agent.q_values(obs), _old_q_values(raw["agent"], obs))
    counters = raw["agent"]["counters"]
    assert (agent.env_steps, agent.updates, agent.sleeps) == (
        counters["env_steps"],
        counters["updates"],
        counters["sleeps"],
    )
    # the next sleep stays where the earlier agent had it (env step next_sleep)
    every = raw["agent"]["config"]["sleep_every"]
    assert agent.schedule._since == agent.env_steps - (counters["next_sleep"] - every)
    assert len(agent.memory) == len(raw["agent"]["memory"]["frames"]) - 1
    agent.learn(100)  # and it learns on
    assert agent.updates > counters["updates"]


def test_an_earlier_agent_file_reads_in_the_current_layout_and_saves_as_it(tmp_path):
    saved = read_saved_agent(OLD)
    assert "standardizer" in saved.state["agent"] and "obs_norm" not in saved.state["agent"]
    assert load_agent_checkpoint(OLD)["format"] == AGENT_FORMAT
    path = FFQAgent.load(OLD).save(tmp_path / "new.ckpt")
    assert torch.load(path, weights_only=True)["format"] == AGENT_FORMAT
    assert read_saved_agent(path).env_steps == saved.env_steps


def test_resume_and_eval_take_an_earlier_agent_file(tmp_path, capsys):
    out = tmp_path / "resumed.ckpt"
    args = ["run", "--threads", "1", "--steps", "350", "--resume", str(OLD), "--save", str(out)]
    assert cli.main(args) == 0
    assert load_agent_checkpoint(out)["env_steps"] >= 350
    assert cli.main(["eval", str(OLD), "--episodes", "1"]) == 0


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda a: a.pop("memory"), "has no 'memory'"),
        (lambda a: a["counters"].pop("next_sleep"), "cannot be converted: KeyError"),
        (lambda a: a["obs_norm"].pop("m2"), "cannot be converted: KeyError"),
        (lambda a: a.update(obs_norm=None), "cannot be converted: TypeError"),
    ],
)
def test_a_malformed_earlier_state_is_refused_naming_it(tmp_path, break_it, message):
    raw = torch.load(OLD, weights_only=True)
    broken = copy.deepcopy(raw["agent"])
    break_it(broken)
    with pytest.raises(ValueError, match=message):
        upgrade_agent_state(broken)
    torch.save({**raw, "agent": broken}, tmp_path / "broken.ckpt")
    with pytest.raises(ValueError, match=message):
        FFQAgent.load(tmp_path / "broken.ckpt")
    agent = FFQAgent.load(OLD)
    state = agent.state_dict()
    with pytest.raises(ValueError, match=message):
        agent.load_state_dict(broken)  # refused before anything changed
    assert torch.equal(
        agent.state_dict()["layers"]["0.transform.weight"], state["layers"]["0.transform.weight"]
    )


def test_a_current_state_missing_an_entry_is_refused_naming_it():
    agent = FFQAgent.load(OLD)
    state = agent.state_dict()
    state.pop("standardizer")
    with pytest.raises(ValueError, match="agent state is malformed: it has no 'standardizer'"):
        agent.load_state_dict(state)


def test_converting_leaves_the_earlier_state_as_it_was():
    raw = torch.load(OLD, weights_only=True)["agent"]
    keys, counters = set(raw), dict(raw["counters"])
    upgraded = upgrade_agent_state(raw)
    assert set(raw) == keys and raw["counters"] == counters and "next_sleep" in counters
    assert upgrade_agent_state(upgraded) is upgraded  # a current state stays as it is
