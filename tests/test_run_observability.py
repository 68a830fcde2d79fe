"""``ffstream run`` outputs: JSONL episode fields, --csv, --tensorboard (a fake writer), --plot."""

from __future__ import annotations

import csv
import json
import sys

import pytest
from conftest import refused, run_cli

from ffstream import run, run_log
from ffstream.agents import AgentLoop, load_agent_checkpoint


def _episodes(path) -> list[dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if r["type"] == "episode"]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if training starts: refusals must come first."""

    def train(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(run, "_train", train)


class FakeWriter:
    """Records what ``SummaryWriter`` would write."""

    made: list[FakeWriter] = []

    def __init__(self, log_dir: str):
        self.log_dir, self.scalars, self.texts, self.closed = log_dir, [], [], False
        FakeWriter.made.append(self)

    def add_scalar(self, tag, value, global_step=None):
        self.scalars.append((tag, value, global_step))

    def add_text(self, tag, text, global_step=None):
        self.texts.append((tag, text))

    def flush(self):
        pass

    def close(self):
        self.closed = True


def test_episode_records_carry_agent_numbers_and_sleeps(tmp_path, config, capsys):
    log = tmp_path / "run.jsonl"
    assert run_cli("--steps", "400", "--config", config, "--log", str(log)) == 0
    episodes = _episodes(log)
    assert episodes and all(r.keys() >= set(run_log.EPISODE_FIELDS) for r in episodes)
    late = [r for r in episodes if r["steps"] > 250]
    assert late and all(r["td_loss"] > 0 and r["real_goodness"] > 0 for r in late)
    sleeps = [r["sleeps"] for r in episodes]
    assert sleeps == sorted(sleeps) and sleeps[-1] >= 2  # sleep_every = 100 in SMALL_AGENT
    for r in episodes:
        if r["sleeps"]:  # a sleep runs once 100 more env steps (4 envs: up to 3 past) are done
            assert r["last_sleep"] <= r["steps"] and r["last_sleep"] % 100 < 4
            assert r["dream_goodness"] is not None
        else:
            assert r["last_sleep"] is None and r["dream_goodness"] is None
    count = min(len(episodes), 100)
    assert f"mean return of the last {count} episodes" in capsys.readouterr().out


def test_csv_matches_the_jsonl_and_appends_under_one_header(tmp_path, config):
    log, table = tmp_path / "run.jsonl", tmp_path / "out" / "run.csv"
    argv = ["--steps", "200", "--config", config, "--log", str(log), "--csv", str(table)]
    for _ in range(2):  # a second run replaces the file
        assert run_cli(*argv) == 0
    lines = table.read_text().splitlines()
    assert lines[0] == ",".join(run_log.EPISODE_FIELDS)
    rows = list(csv.DictReader(lines))
    episodes = _episodes(log)
    assert len(rows) == len(episodes) > 3
    for row, record in zip(rows, episodes, strict=True):
        for field in run_log.EPISODE_FIELDS:
            value = record[field]
            assert row[field] == ("" if value is None else str(value)), field
    assert run_cli(*argv, "--log-append") == 0
    lines = table.read_text().splitlines()
    assert lines.count(lines[0]) == 1 and len(lines) == 1 + len(_episodes(log))
    assert [int(r["episode"]) for r in csv.DictReader(lines)][len(rows)] == 1  # the new run


def test_csv_is_checked_before_training(tmp_path, capsys, no_training):
    folder, other = tmp_path / "dir", tmp_path / "other.csv"
    folder.mkdir()
    assert f"--csv {folder} is a directory" in refused(capsys, "--csv", str(folder))
    other.write_text("a,b\n1,2\n")
    text = refused(capsys, "--csv", str(other), "--log-append")
    assert "other columns" in text and "--log-append" in text


def test_missing_tensorboard_names_the_pip_command(tmp_path, capsys, monkeypatch, no_training):
    # a None entry makes the import fail, whether tensorboard is installed or not
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    text = refused(capsys, "--tensorboard", str(tmp_path / "tb"))
    assert "--tensorboard" in text and 'pip install "ffstream[tensorboard]"' in text
    assert not (tmp_path / "tb").exists()


def test_tensorboard_gets_every_episode_as_scalars(tmp_path, config, monkeypatch):
    monkeypatch.setattr(FakeWriter, "made", [])
    monkeypatch.setattr(run_log, "summary_writer_class", lambda: FakeWriter)
    log, board = tmp_path / "run.jsonl", tmp_path / "tb"
    argv = ["--steps", "300", "--config", config, "--log", str(log), "--tensorboard", str(board)]
    assert run_cli(*argv) == 0
    (writer,) = FakeWriter.made
    assert writer.log_dir == str(board) and writer.closed
    assert writer.texts[0][0] == "run/header" and "CartPole-v1" in writer.texts[0][1]
    episodes = _episodes(log)
    returns = [(v, s) for tag, v, s in writer.scalars if tag == "episode/return"]
    assert returns == [(r["return"], r["steps"]) for r in episodes]
    tags = {tag for tag, _, _ in writer.scalars}
    assert {"agent/epsilon", "agent/td_loss", "goodness/real", "goodness/dreamed"} <= tags
    assert {"agent/sleeps", "speed/frames_per_s", "episode/length"} <= tags
    sleeps = [(s, v) for tag, v, s in writer.scalars if tag == "agent/sleeps"]
    assert sleeps[-1][1] == episodes[-1]["sleeps"] >= 2


def test_tensorboard_folder_must_be_a_folder(tmp_path, capsys, monkeypatch, no_training):
    monkeypatch.setattr(run_log, "summary_writer_class", lambda: FakeWriter)
    plain = tmp_path / "file"
    plain.write_text("x")
    assert "is a file; give a folder" in refused(capsys, "--tensorboard", str(plain))
    text = refused(capsys, "--tensorboard", str(plain / "tb"))
    assert f"--tensorboard {plain / 'tb'} cannot be written" in text


def test_plot_is_drawn_at_the_end(tmp_path, config, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves" / "run.png"
    assert run_cli("--steps", "200", "--config", config, "--plot", str(png)) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"learning curve: {png}" in capsys.readouterr().out.replace("\n", "")


def test_plot_after_ctrl_c_comes_with_the_checkpoint(tmp_path, config, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    real_step, calls = AgentLoop.step, []

    def step(self):
        calls.append(1)
        if len(calls) == 60:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(AgentLoop, "step", step)
    ckpt, svg = tmp_path / "agent.ckpt", tmp_path / "run.svg"
    argv = ["--steps", "10000", "--config", config, "--save", str(ckpt), "--plot", str(svg)]
    assert run_cli(*argv) == 130
    assert load_agent_checkpoint(ckpt)["env_steps"] > 0
    assert b"<svg" in svg.read_bytes()[:400]
    out = capsys.readouterr().out.replace("\n", "")
    assert out.index("saved checkpoint") < out.index("learning curve")


def test_plot_needs_matplotlib_and_a_known_type(tmp_path, capsys, monkeypatch, no_training):
    assert ".png, .svg or .pdf" in refused(capsys, "--plot", str(tmp_path / "run.gif"))
    for name in ("matplotlib", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    text = refused(capsys, "--plot", str(tmp_path / "run.png"))
    assert "needs matplotlib" in text and 'pip install "ffstream[plot]"' in text
