"""``ffstream run``: plain output, JSONL log, checkpoints, Ctrl-C, env errors, config errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import torch
from ffstream.envs.cartpole import CartPole
from rich.console import Console

from ffstream import cli
from ffstream.agents import AgentLoop, load_agent_checkpoint
from ffstream.dashboard import Dashboard, sparkline


def _run(*argv: str) -> int:
    return cli.main(["run", "--threads", "1", *argv])


def _lines(path) -> list[dict]:
    """The episode records of a JSONL log (the header records are checked elsewhere)."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if r["type"] == "episode"]


def test_run_writes_one_json_line_per_episode(tmp_path, config, capsys):
    log = tmp_path / "run.jsonl"
    assert _run("--steps", "250", "--config", config, "--log", str(log), "--print-every", "5") == 0
    records = _lines(log)
    assert len(records) >= 5
    assert [r["episode"] for r in records] == list(range(1, len(records) + 1))
    assert all({"episode", "return", "length", "steps"} <= r.keys() for r in records)
    assert all(a["steps"] <= b["steps"] for a, b in zip(records, records[1:]))
    out = capsys.readouterr().out
    assert "episode      5" in out and "not solved" in out


def test_save_and_resume(tmp_path, config):
    log, ckpt = tmp_path / "run.jsonl", tmp_path / "agent.ckpt"
    assert _run("--steps", "300", "--config", config, "--log", str(log), "--save", str(ckpt)) == 0
    first = _lines(log)
    state = load_agent_checkpoint(ckpt)
    assert state["env_steps"] >= 300 and state["agent"]["counters"]["updates"] > 0
    argv = ["--steps", "600", "--resume", str(ckpt), "--log", str(log), "--log-append"]
    assert _run(*argv, "--save", str(ckpt)) == 0
    records = _lines(log)
    assert [r["episode"] for r in records] == list(range(1, len(records) + 1))
    assert records[len(first)]["steps"] > state["env_steps"]
    assert load_agent_checkpoint(ckpt)["env_steps"] >= 600


def test_resume_refuses_pickles_and_other_envs(tmp_path, config, capsys):
    evil = tmp_path / "evil.ckpt"
    torch.save({"format": "ffstream.Agent/1", "payload": Console}, evil)
    assert _run("--resume", str(evil)) == 2
    assert "refused" in capsys.readouterr().out
    ckpt = tmp_path / "agent.ckpt"
    assert _run("--steps", "50", "--config", config, "--save", str(ckpt)) == 0
    assert _run("--env", "Acrobot-v1", "--resume", str(ckpt)) == 2
    assert "trained on CartPole-v1" in capsys.readouterr().out


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path, config, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    real_step, calls = AgentLoop.step, []

    def step(self):
        calls.append(1)
        if len(calls) == 40:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(AgentLoop, "step", step)
    assert _run("--steps", "10000", "--config", config) == 130
    saved = tmp_path / "ffstream-interrupted.ckpt"
    # 39 vector steps of 4 envs ran; autoreset steps are not transitions, so a few less count
    assert 30 * 4 < load_agent_checkpoint(saved)["env_steps"] <= 39 * 4
    assert str(saved) in capsys.readouterr().out.replace("\n", "")


def test_env_error_saves_and_exits_nonzero(tmp_path, config, monkeypatch, capsys):
    real, calls = CartPole._transition, []

    def broken(self, state, action):
        calls.append(1)
        if len(calls) > 30:
            raise RuntimeError("sensor unplugged")
        return real(self, state, action)

    monkeypatch.setattr(CartPole, "_transition", broken)
    ckpt = tmp_path / "agent.ckpt"
    assert _run("--steps", "10000", "--config", config, "--save", str(ckpt)) == 1
    out = capsys.readouterr().out
    assert "sensor unplugged" in out and "environment" in out
    assert 20 * 4 < load_agent_checkpoint(ckpt)["env_steps"] <= 30 * 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hidden = [16]\nlearning_rate = 0.1\n", "unknown agent config key 'learning_rate'"),
        ("hidden = [16\n", "not valid TOML"),
        ("gamma = 1.5\n", "gamma must be in"),
    ],
)
def test_config_errors(tmp_path, capsys, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert _run("--config", str(path), "--steps", "10") == 2
    assert message in capsys.readouterr().out.replace("\n", "")


def test_missing_config_and_unknown_env(capsys):
    assert _run("--config", "/nonexistent/agent.toml") == 2
    assert "no config file" in capsys.readouterr().out
    assert _run("--env", "CartPol-v1", "--steps", "10") == 2


def test_box_action_env_runs(config, capsys):
    assert _run("--env", "Pendulum-v1", "--steps", "60", "--config", config) == 0
    assert "no solved threshold" in capsys.readouterr().out.replace("\n", " ")


def test_dashboard_renders_on_a_terminal(tmp_path, config):
    from ffstream.run import run

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    args = cli.build_parser().parse_args(
        ["run", "--steps", "200", "--config", config, "--device", "cpu"]
    )
    assert run(args, console) == 0
    text = buffer.getvalue()
    assert "goodness" in text and "frames/s" in text and "100-episode mean" in text
    assert sparkline([1, 2]) == "▁█"
    dash = Dashboard(Console(file=io.StringIO(), force_terminal=True), 10, threshold=475)
    dash.add_episode(10.0)
    assert "asleep" not in str(dash._render())


def test_subprocess_plain_output(tmp_path, config):
    log = tmp_path / "run.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ffstream.cli",
            "run",
            "--steps",
            "100",
            "--config",
            config,
            "--log",
            str(log),
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "env steps" in proc.stdout and "\x1b[" not in proc.stdout
    assert _lines(log)


@pytest.mark.parametrize("threads", ["0", "-1", "two"])
def test_bad_thread_counts_are_refused_before_anything_runs(threads, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--threads", threads, "--steps", "10"])
    assert exit_.value.code == 2
    assert "--threads" in capsys.readouterr().err
