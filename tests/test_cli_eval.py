"""``ffstream eval CHECKPOINT``: episodes of a saved agent, its report, and its errors."""

from __future__ import annotations

import json
import sys
import types

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


# -- --render and --video ----------------------------------------------------------------------


def test_render_and_video_name_the_missing_extra(saved, monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "pygame", None)  # as if neither were installed
    monkeypatch.setitem(sys.modules, "moviepy", None)
    assert cli.main(["eval", str(saved), "--render"]) == 2
    text = _one_line_error(capsys)
    assert "--render" in text and "needs pygame" in text and "pip install pygame" in text
    videos = tmp_path / "videos"
    assert cli.main(["eval", str(saved), "--video", str(videos)]) == 2
    text = _one_line_error(capsys)
    assert "--video" in text and "needs moviepy" in text and "pip install moviepy" in text
    assert not videos.exists()  # refused before anything was made


def test_render_and_video_are_checked_before_the_checkpoint(saved, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["eval", str(saved), "--render", "--video", str(tmp_path)])
    assert exit_.value.code == 2 and "not allowed with" in _one_line_error(capsys)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    assert cli.main(["eval", str(tmp_path / "missing.ckpt"), "--video", str(a_file)]) == 2
    assert "is a file; give a folder" in _one_line_error(capsys)


def test_video_records_every_episode(saved, fake_moviepy, capsys, tmp_path):
    report = _eval_json(capsys, str(saved), "--episodes", "3", "--video", str(tmp_path / "v"))
    assert report["videos"] == [str(tmp_path / "v" / f"agent-episode-{i}.mp4") for i in range(3)]
    assert [c.path for c in fake_moviepy] == report["videos"]
    # the first picture of each episode, then one per step: the whole episode, nothing more
    assert [len(c.frames) for c in fake_moviepy] == [n + 1 for n in report["lengths"]]
    first = fake_moviepy[0]
    assert first.fps == 50 and first.frames[0].shape == (400, 600, 3)
    assert not np.array_equal(first.frames[0], first.frames[-1])  # the pole moved
    # the same episodes as without pictures: recording changes nothing that is played
    assert (
        _eval_json(capsys, str(saved), "--episodes", "3", "--num-envs", "1")["returns"]
        == (report["returns"])
    )


class _FakePygame(types.ModuleType):
    """Just enough of pygame for ShowFrames: keeps every picture shown instead of a window."""

    QUIT = 256

    def __init__(self, close_after: int | None = None):
        super().__init__("pygame")
        self.shown: list[np.ndarray] = []
        self.close_after = close_after
        fake = self

        class Screen:
            def __init__(self, size):
                self.size = size

            def get_size(self):
                return self.size

            def blit(self, surface, where):
                fake.shown.append(surface)

        self.error = RuntimeError
        self.display = types.SimpleNamespace(
            init=lambda: None,
            quit=lambda: None,
            set_mode=Screen,
            set_caption=lambda text: None,
            flip=lambda: None,
        )
        self.surfarray = types.SimpleNamespace(make_surface=lambda array: array.copy())
        self.time = types.SimpleNamespace(Clock=lambda: types.SimpleNamespace(tick=lambda f: 0))
        self.event = types.SimpleNamespace(get=self._events)

    def _events(self):
        closed = self.close_after is not None and len(self.shown) >= self.close_after
        return [types.SimpleNamespace(type=self.QUIT)] if closed else []


def test_render_shows_every_picture_in_a_window(saved, monkeypatch, capsys):
    pygame = _FakePygame()
    monkeypatch.setitem(sys.modules, "pygame", pygame)
    report = _eval_json(capsys, str(saved), "--episodes", "2", "--render")
    assert report["episodes"] == 2
    # pygame surfaces are (x, y): a 600 x 400 picture per reset and per step
    assert len(pygame.shown) == sum(report["lengths"]) + 2
    assert all(s.shape == (600, 400, 3) for s in pygame.shown)


def test_closing_the_window_stops_the_evaluation(saved, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pygame", _FakePygame(close_after=3))
    assert cli.main(["eval", str(saved), "--episodes", "5", "--render"]) == 0
    assert "the window was closed" in capsys.readouterr().out
