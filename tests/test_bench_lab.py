"""The benchmark lab: one runner, one JSON per run, resume, and a page rendered from records."""

from __future__ import annotations

import io
import json
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import fresh_results
from rich.console import Console

import ffstream
from benchmarks import SUITES, lab, load_suite, render
from ffstream import cli
from ffstream.config import option

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ToyConfig:
    scale: float = option(1.0, "multiplies every score")
    seeds: tuple[int, ...] = lab.select((0, 1), "seeds")


def _toy_suite(calls: list) -> types.ModuleType:
    suite = types.ModuleType("toy")
    suite.NAME, suite.DESCRIPTION = "toy", "a toy suite"
    suite.Config, suite.FULL, suite.QUICK = ToyConfig, ToyConfig(), ToyConfig(seeds=(0,))
    suite.PAGE = lab.Page("Toy", "scores", "ffstream bench toy", (lab.Column("score", "score"),))
    suite.runs = lambda cfg: [lab.Run(m, s) for m in ("a", "b") for s in cfg.seeds]

    def run_one(cfg, run, ctx):
        calls.append(run)
        return {"metrics": {"score": cfg.scale * (run.seed + 1)}, "curve": [[1, 0.5]]}

    suite.run_one = run_one
    return suite


def _run(suite, results, *argv):
    parser = __import__("argparse").ArgumentParser()
    lab.add_suite_arguments(parser, suite)
    args = parser.parse_args(["--results", str(results), "--device", "cpu", *argv])
    return lab.run_suite(suite, args, Console(file=io.StringIO()))


def test_one_record_per_run_with_config_environment_and_numbers(tmp_path):
    calls = []
    _run(_toy_suite(calls), tmp_path)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert files == [f"toy/full/{m}--seed{s}.json" for m in "ab" for s in (0, 1)]
    record = json.loads((tmp_path / "toy/full/b--seed1.json").read_text())
    assert record["schema"] == lab.SCHEMA and record["preset"] == "full"
    assert (record["method"], record["seed"], record["metrics"]) == ("b", 1, {"score": 2.0})
    assert record["config"] == {"scale": 1.0}  # the seeds only select runs
    env = record["environment"]
    assert env["ffstream"] == ffstream.__version__ and env["threads"] == 1
    assert {"device", "device_name", "torch", "python", "date"} <= set(env)
    assert record["details"] == {"curve": [[1, 0.5]]}


def test_a_second_invocation_resumes_and_force_reruns(tmp_path):
    calls = []
    suite = _toy_suite(calls)
    _run(suite, tmp_path, "--seeds", "0")
    assert len(calls) == 2
    _run(suite, tmp_path)  # seeds 0 and 1: only seed 1 is new
    assert [c.seed for c in calls[2:]] == [1, 1]
    _run(suite, tmp_path, "--force", "--seeds", "0")
    assert len(calls) == 6


def test_a_changed_setting_goes_to_its_own_folder(tmp_path):
    calls = []
    suite = _toy_suite(calls)
    _run(suite, tmp_path)
    _run(suite, tmp_path, "--scale", "2")
    assert len(calls) == 8  # nothing of the full preset was reused
    custom = [p for p in (tmp_path / "toy").iterdir() if p.name.startswith("custom-")]
    assert len(custom) == 1 and len(list(custom[0].glob("*.json"))) == 4
    assert lab.preset_of(suite, ToyConfig(seeds=(5,))) == "full"
    assert lab.preset_of(suite, ToyConfig(scale=2.0)) == custom[0].name


def test_summary_table_has_mean_and_sample_std_over_seeds(tmp_path):
    suite = _toy_suite([])
    _run(suite, tmp_path)
    table = render.summary_table(suite.PAGE, lab.load_records(tmp_path), suite.runs(suite.FULL))
    lines = table.splitlines()
    assert lines[0] == "| method | n | score |"
    assert lines[2:] == ["| a | 2 | 1.5 ± 0.7 |", "| b | 2 | 1.5 ± 0.7 |"]


def test_load_records_refuses_other_json(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="not a result record"):
        lab.load_records(tmp_path)


def test_every_registered_suite_meets_the_contract():
    for name in SUITES:
        suite = load_suite(name)
        assert name == suite.NAME
        assert lab.preset_of(suite, suite.FULL) == "full"
        # a quick preset that only selects fewer runs (seeds) is the full config: same records
        quick_differs = lab.config_identity(suite.QUICK) != lab.config_identity(suite.FULL)
        assert lab.preset_of(suite, suite.QUICK) == ("quick" if quick_differs else "full")
        assert suite.runs(suite.QUICK), name


def test_benchmarks_page_is_the_rendering_of_the_committed_results():
    """BENCHMARKS.md is data rendered: re-rendering the results folder reproduces it exactly."""
    assert render.render(lab.RESULTS) == (ROOT / "BENCHMARKS.md").read_text()


def test_benchmarks_page_is_short():
    # a summary: about 1.7 kB a suite (the continual suites show four report tables among them)
    assert len((ROOT / "BENCHMARKS.md").read_bytes()) < 32_000


def test_lab_modules_stay_small_and_out_of_the_package():
    assert not (ROOT / "ffstream" / "bench").exists()
    for path in (ROOT / "benchmarks").rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path
    for path in (ROOT / "ffstream").rglob("*.py"):
        assert "import benchmarks" not in path.read_text().replace("find_benchmarks", ""), path


def test_bench_without_the_lab_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ffstream, "__file__", str(tmp_path / "site" / "ffstream" / "x.py"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FFSTREAM_BENCHMARKS", raising=False)
    assert cli.main(["bench", "drift", "--quick"]) == 2
    out = capsys.readouterr().out
    assert "source checkout" in out and "FFSTREAM_BENCHMARKS" in out


def test_a_suite_runs_from_the_cli_and_writes_records():
    results = fresh_results()
    argv = ["bench", "sequence", "--quick", "--symbols", "200", "--schedules", "interleaved"]
    assert cli.main([*argv, "--mid-cycle", "20", "--results", results, "--device", "cpu"]) == 0
    (record,) = lab.load_records(Path(results))
    assert record["suite"] == "sequence" and record["method"] == "interleaved"
    assert 0.0 <= record["metrics"]["after_sleep"] <= 1.0
