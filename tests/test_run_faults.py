"""``ffstream run`` as users meet it: bad options, --resume, signals, env faults, the JSONL log.

Every refused option must give exit status 2 and one line that names the problem, with no
traceback. Signals are tested on real subprocesses where the exit status matters.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import SMALL_AGENT as SMALL
from conftest import refused, run_cli
from ffstream.envs.cartpole import CartPole

import ffstream
from ffstream import cli, run, run_log
from ffstream.agents import AgentConfig, AgentLoop, FFQAgent, load_agent_checkpoint


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", ""], "--env must name an environment"),
        (["--env", "CartPol-v1"], "did you mean 'CartPole-v1'"),
        (["--device", "foo"], "unknown device 'foo'"),
        (["--threads", "0"], "--threads: expected a whole number >= 1"),
        (["--threads", "-1"], "--threads: expected a whole number >= 1"),
        (["--steps", "0"], "--steps: expected a whole number >= 1"),
        (["--num-envs", "0"], "--num-envs: expected a whole number >= 1"),
        (["--seed", "-3"], "--seed: expected a whole number >= 0"),
    ],
)
def test_bad_values_are_refused_in_one_line(capsys, argv, message):
    assert message in refused(capsys, *argv, "--steps", "10")


def test_unknown_env_says_how_to_list_ids(capsys):
    assert "ffstream envs --all" in refused(capsys, "--env", "CartPol-v1")
    assert cli.main(["envs", "--all"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed[:2] == ["Acrobot-v1", "CartPole-v1"] and "MountainCar-v0" in listed


@pytest.mark.skipif(importlib.util.find_spec("Box2D") is not None, reason="box2d installed")
def test_missing_box2d_names_the_pip_command(capsys):
    assert 'pip install "gymnasium[box2d]"' in refused(capsys, "--env", "LunarLander-v3")


@pytest.mark.skipif(importlib.util.find_spec("ale_py") is not None, reason="ale-py installed")
def test_missing_atari_names_the_pip_command(capsys):
    text = refused(capsys, "--env", "ALE/Pong-v5")
    assert 'pip install "gymnasium[atari]"' in text and "ale-py" in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused(capsys):
    assert "no CUDA device" in refused(capsys, "--device", "cuda", "--steps", "10")


def test_paths_are_checked_before_training(tmp_path, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(run, "_train", no_training)
    folder, plain = tmp_path / "dir", tmp_path / "file"
    folder.mkdir()
    plain.write_text("x")
    for flag in ("--save", "--log"):
        assert f"{flag} {folder} is a directory" in refused(capsys, flag, str(folder))
        text = refused(capsys, flag, str(plain / "out"))
        assert f"{flag} {plain / 'out'} cannot be written" in text
    assert "is a directory" in refused(capsys, "--config", str(folder))
    assert "no config file" in refused(capsys, "--config", str(tmp_path / "none.toml"))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_config_is_refused(tmp_path, capsys):
    path = tmp_path / "secret.toml"
    path.write_text(SMALL)
    path.chmod(0)
    assert "cannot be read" in refused(capsys, "--config", str(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('lr = "x"\n', "lr must be a number, got 'x'"),
        ("batch_size = 1.5\n", "batch_size must be a whole number, got 1.5"),
        ('double_q = "yes"\n', "double_q must be true or false, got 'yes'"),
        ('hidden = ["a"]\n', "hidden must be a list of whole numbers"),
        ("readout = 3\n", "readout must be a string, got 3"),
    ],
)
def test_wrong_types_in_the_config_name_the_field(tmp_path, capsys, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert message in refused(capsys, "--config", str(path), "--steps", "10")


def test_resume_takes_env_and_config_from_the_checkpoint(tmp_path, config, capsys):
    ckpt, log = tmp_path / "agent.ckpt", tmp_path / "run.jsonl"
    assert run_cli("--env", "Acrobot-v1", "--steps", "40", "--config", config, "--seed", "3",
                "--save", str(ckpt)) == 0  # fmt: skip
    assert run_cli("--resume", str(ckpt), "--steps", "80", "--log", str(log)) == 0
    header = json.loads(log.read_text().splitlines()[0])
    assert header["env"] == "Acrobot-v1" and header["seed"] == 3
    assert header["config"]["hidden"] == [16] and header["start_steps"] >= 40
    assert header["resumed_from"] == str(ckpt)
    capsys.readouterr()
    text = refused(capsys, "--resume", str(ckpt), "--env", "CartPole-v1")
    assert "trained on Acrobot-v1" in text and "drop --env" in text
    assert "is a directory" in refused(capsys, "--resume", str(tmp_path))
    assert "no checkpoint at" in refused(capsys, "--resume", str(tmp_path / "missing.ckpt"))


def test_resume_accepts_env_seed_and_config_that_agree_with_the_checkpoint(
    tmp_path, config, capsys
):
    ckpt, log = tmp_path / "agent.ckpt", tmp_path / "run.jsonl"
    assert run_cli("--env", "Acrobot-v1", "--steps", "40", "--config", config, "--seed", "3",
                "--sleep-every", "50", "--save", str(ckpt)) == 0  # fmt: skip
    same = ("--env", "Acrobot-v1", "--seed", "3", "--config", config, "--sleep-every", "50")
    assert run_cli("--resume", str(ckpt), *same, "--steps", "80", "--log", str(log)) == 0
    header = json.loads(log.read_text().splitlines()[0])
    assert (header["env"], header["seed"], header["config"]["sleep_every"]) == ("Acrobot-v1", 3, 50)
    capsys.readouterr()
    text = refused(capsys, "--resume", str(ckpt), "--seed", "4")
    assert "trained with seed 3, not 4" in text and "drop --seed" in text
    # the file's config had --sleep-every 50 on top of the TOML: the TOML alone is not it
    text = refused(capsys, "--resume", str(ckpt), "--config", config)
    assert "sleep_every is 100 in the one, 50 in the other" in text and "drop --config" in text
    other = tmp_path / "other.toml"
    other.write_text(SMALL.replace("batch_size = 16", "batch_size = 8") + "lr = 0.01\n")
    text = refused(capsys, "--resume", str(ckpt), "--config", str(other), "--sleep-every", "50")
    assert "lr is 0.01 in the one" in text and "(and 1 more)" in text  # batch_size too


def test_resume_continues_what_the_agent_api_saved(tmp_path, capsys):
    cfg = AgentConfig(hidden=(16,), learning_starts=32, batch_size=16)
    agent = FFQAgent.for_env("Acrobot-v1", cfg, num_envs=2, seed=5).learn(100)
    ckpt = agent.save(tmp_path / "api.ckpt")
    log = tmp_path / "run.jsonl"
    assert run_cli("--resume", str(ckpt), "--steps", "160", "--log", str(log), "--save",
                   str(ckpt)) == 0  # fmt: skip
    header = json.loads(log.read_text().splitlines()[0])
    assert (header["env"], header["seed"], header["num_envs"]) == ("Acrobot-v1", 5, 2)
    assert header["start_steps"] == agent.env_steps and header["config"]["hidden"] == [16]
    assert FFQAgent.load(ckpt).env_steps >= 160


def test_log_header_and_episode_fields(tmp_path, config):
    log = tmp_path / "run.jsonl"
    for _ in range(2):  # a second run replaces the file
        assert run_cli("--steps", "200", "--config", config, "--log", str(log), "--seed", "5") == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    header, episodes = records[0], records[1:]
    assert header["type"] == "header" and header["ffstream"] == ffstream.__version__
    assert (header["env"], header["seed"], header["device"], header["threads"]) == (
        "CartPole-v1", 5, "cpu", 1,
    )  # fmt: skip
    assert header["config"]["batch_size"] == 16 and "T" in header["started"]
    assert episodes and all(r["type"] == "episode" for r in episodes)
    times = [r["time"] for r in episodes]
    assert times == sorted(times) and times[0] >= 0
    assert all(r["frames_per_s"] > 0 and 0 < r["epsilon"] <= 1 for r in episodes)
    assert episodes[-1]["epsilon"] < episodes[0]["epsilon"]  # decays as env steps pass
    assert run_cli("--steps", "100", "--config", config, "--log", str(log), "--log-append") == 0
    kinds = [json.loads(line)["type"] for line in log.read_text().splitlines()]
    assert kinds.count("header") == 2 and kinds[0] == "header"
    help_text = run.add_parser(argparse.ArgumentParser().add_subparsers()).format_help()
    assert "--log-append" in help_text and "frames_per_s" in " ".join(help_text.split())
    assert "frames_per_s" in run_log.__doc__ and "header" in run_log.__doc__


def test_env_failing_in_reset_exits_1_without_a_checkpoint(tmp_path, config, capsys, monkeypatch):
    def broken(self, n):
        raise OSError("simulator not running")

    monkeypatch.setattr(CartPole, "_initial_states", broken)
    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "agent.ckpt"
    assert run_cli("--steps", "100", "--config", config, "--save", str(ckpt)) == 1
    text = capsys.readouterr().out.strip()
    assert "reset()" in text and "simulator not running" in text
    assert len(text.splitlines()) == 1 and "Traceback" not in text
    assert list(tmp_path.glob("*.ckpt")) == []


def test_signals_during_the_save_are_deferred(tmp_path, config, monkeypatch, capsys):
    real_step, real_save, calls = AgentLoop.step, run.save_agent_checkpoint, []

    def step(self):
        calls.append(1)
        if len(calls) == 30:
            os.kill(os.getpid(), signal.SIGTERM)  # handled between steps
        return real_step(self)

    def save(path, state):
        os.kill(os.getpid(), signal.SIGHUP)  # a second and third signal mid-save
        os.kill(os.getpid(), signal.SIGINT)
        return real_save(path, state)

    monkeypatch.setattr(AgentLoop, "step", step)
    monkeypatch.setattr(run, "save_agent_checkpoint", save)
    ckpt = tmp_path / "agent.ckpt"
    assert run_cli("--steps", "10000", "--config", config, "--save", str(ckpt)) == 143
    assert len(calls) == 30  # stopped after the step in which the signal came
    assert 0 < load_agent_checkpoint(ckpt)["env_steps"] <= 30 * 4
    assert "stopped by SIGTERM" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_a_nan_agent_is_never_saved(tmp_path, config, monkeypatch, capsys):
    real_step, calls = AgentLoop.step, []

    def step(self):
        calls.append(1)
        if len(calls) == 10:
            with torch.no_grad():
                next(self.agent.net.parameters()).fill_(float("nan"))
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(AgentLoop, "step", step)
    ckpt = tmp_path / "agent.ckpt"
    assert run_cli("--steps", "10000", "--config", config, "--save", str(ckpt)) == 130
    assert "not finite" in capsys.readouterr().out and not ckpt.exists()


def _start(tmp_path, config, *extra: str) -> tuple[subprocess.Popen, object]:
    log = tmp_path / "run.jsonl"
    argv = [sys.executable, "-m", "ffstream.cli", "run", "--steps", "1000000", "--threads", "1"]
    argv += ["--config", config, "--log", str(log), *extra]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until it trains: a few episodes are logged
        if log.exists() and len(log.read_text().splitlines()) >= 3:
            return proc, log
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the run did not start training within 60 s")


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_save_a_loadable_checkpoint(tmp_path, config, signum, status):
    proc, _ = _start(tmp_path, config)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert b"Traceback" not in out + err
    state = load_agent_checkpoint(tmp_path / run.INTERRUPTED_CHECKPOINT)
    assert state["env_steps"] > 0 and state["env_id"] == "CartPole-v1"


def test_a_diverging_update_stops_the_run_with_the_last_good_state(tmp_path, capsys):
    # Squared TD errors of rewards scaled by 1e30 overflow: the agent refuses that update.
    path = tmp_path / "diverges.toml"
    path.write_text(SMALL + "huber = false\nreward_scale = 1e30\n")
    save = tmp_path / "agent.ckpt"
    code = run_cli("--config", str(path), "--steps", "2000", "--save", str(save))
    text = capsys.readouterr().out
    assert code == 1, text
    assert "the agent diverged" in text and "Traceback" not in text
    state = load_agent_checkpoint(save)

    def tensors(value):
        if torch.is_tensor(value):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from tensors(item)
        elif isinstance(value, list | tuple):
            for item in value:
                yield from tensors(item)

    weights = [t for t in tensors(state["agent"]) if t.is_floating_point()]
    assert weights and all(bool(torch.isfinite(t).all()) for t in weights)
