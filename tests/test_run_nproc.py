"""``ffstream run --nproc N``: N data-parallel agent processes (spawned, gloo), rank 0 writing
every output; ``--nproc`` checked up front."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import refused, run_cli

from ffstream import cli
from ffstream.agents import load_agent_checkpoint, read_saved_agent
from ffstream.run_checks import UsageError, check_args


def test_two_processes_learn_one_model_and_rank_0_writes_the_outputs(tmp_path, config, capfd):
    ckpt, log = tmp_path / "agent.ckpt", tmp_path / "run.jsonl"
    argv = ["--nproc", "2", "--steps", "400", "--config", config, "--keep-going"]
    assert run_cli(*argv, "--save", str(ckpt), "--log", str(log)) == 0
    out = capfd.readouterr().out  # the ranks write to this process's stdout
    assert "× 2 processes (rank 0 shown)" in out
    total = int(out.split("2 processes: ")[1].split(" env steps")[0].replace(",", ""))
    assert 400 <= total < 400 + 2 * 4  # the ranks stop together once their steps add up
    state = load_agent_checkpoint(ckpt)
    # rank 0's own share of the steps (about half), and updates learned from them
    assert 150 < state["env_steps"] < 300 and state["agent"]["counters"]["updates"] > 0
    assert read_saved_agent(ckpt).env_id == "CartPole-v1"
    header = json.loads(log.read_text().splitlines()[0])
    assert header["type"] == "header" and header["nproc"] == 2
    # only rank 0 writes: one header, and episodes numbered as one process numbers them
    episodes = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    assert [e["episode"] for e in episodes] == list(range(1, len(episodes) + 1))
    assert not list(tmp_path.glob("ffstream-interrupted*"))


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", ""])
def test_nproc_must_be_a_whole_number_of_at_least_one(capsys, value):
    line = refused(capsys, "--nproc", value, "--steps", "10")
    assert "--nproc" in line and "expected a whole number >= 1" in line


def test_nproc_above_one_runs_on_the_cpu(monkeypatch):
    parser = cli.build_parser()
    args = parser.parse_args(["run", "--nproc", "2"])  # --device auto
    assert check_args(args).device == "cpu"
    monkeypatch.setattr(cli, "resolve_device", lambda name: name)  # as if a GPU were there
    args = parser.parse_args(["run", "--nproc", "2", "--device", "cuda"])
    with pytest.raises(UsageError, match="--nproc 2 runs its processes on the CPU"):
        check_args(args)
    args = parser.parse_args(["run", "--nproc", "1", "--device", "cuda"])
    assert check_args(args).device == "cuda"  # one process may use the GPU


def _wait_for_episodes(proc: subprocess.Popen, log: Path) -> None:
    """Until rank 0 has logged a few episodes (the ranks are training)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) > 3:  # header and episodes
            return
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the ranks did not start training within 90 s: {proc.communicate()}")


def test_sigterm_to_the_job_stops_every_rank_and_rank_0_saves(tmp_path, config):
    log, ckpt = tmp_path / "run.jsonl", tmp_path / "agent.ckpt"
    argv = [sys.executable, "-m", "ffstream.cli", "run", "--nproc", "2", "--threads", "1"]
    argv += ["--steps", "1000000", "--config", config, "--log", str(log), "--save", str(ckpt)]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_episodes(proc, log)
    proc.send_signal(signal.SIGTERM)  # as docker stop or SLURM send it: to the job's process
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 143, out + err
    assert b"Traceback" not in out + err and b"stopped by SIGTERM" in out
    assert load_agent_checkpoint(ckpt)["env_steps"] > 0


def _ranks(parent: int) -> list[int]:
    """The spawned ranks of ``parent``, oldest first (Linux: /proc lists a task's children)."""
    children = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    ranks = [p for p in children if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    return sorted(ranks)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_a_killed_rank_ends_the_job_and_rank_0_keeps_its_model(tmp_path, config):
    log, ckpt = tmp_path / "run.jsonl", tmp_path / "agent.ckpt"
    argv = [sys.executable, "-m", "ffstream.cli", "run", "--nproc", "2", "--threads", "1"]
    argv += ["--steps", "1000000", "--config", config, "--log", str(log), "--save", str(ckpt)]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_episodes(proc, log)
    ranks = _ranks(proc.pid)
    assert len(ranks) == 2, ranks
    os.kill(ranks[1], signal.SIGKILL)  # rank 1, started after rank 0
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 1, out + err
    assert b"a distributed job failed" in out and b"rank 1: exited with code -9" in out
    assert b"a rank was lost: saved checkpoint" in out
    assert load_agent_checkpoint(ckpt)["env_steps"] > 0
