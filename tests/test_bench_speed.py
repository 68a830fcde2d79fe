"""The speed suite end to end through the CLI, on tiny frame counts.

It checks the records' shape and the profile's content, not how fast anything is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import fresh_results

from benchmarks import load_suite, speed
from benchmarks.lab import config_identity, load_records
from ffstream import cli

TINY = ["--quick", "--warmup", "20", "--frames", "50", "--device", "cpu"]


def _bench(*extra: str) -> list[dict]:
    results = fresh_results()
    assert cli.main(["bench", "speed", *TINY, *extra, "--results", results]) == 0
    return load_records(Path(results))


def test_one_record_per_front_end_with_positive_speeds():
    records = _bench()
    assert sorted(r["method"] for r in records) == sorted(speed.METHODS)
    for r in records:
        assert r["suite"] == "speed" and r["seed"] == 0 and r["task"] is None
        assert r["config"]["frames"] == 50 and r["config"]["warmup"] == 20
        assert r["metrics"]["frames_per_s"] > 0 and r["metrics"]["frames_per_cpu_s"] > 0
        assert r["details"]["timed_frames"] == 50
        assert "profile" not in r["details"]  # only when asked for


def test_profile_names_the_library_functions_per_frame():
    (record,) = _bench("--methods", "stream-learner", "--profile")
    profile = record["details"]["profile"]
    json.dumps(profile)  # plain data
    assert profile["frames"] == speed.PROFILE_FRAMES and profile["us_per_frame"] > 0
    rows = profile["by_cumulative"]
    assert 0 < len(rows) <= speed.PROFILE_TOP
    cumulative = [r["cumulative_us"] for r in rows]
    assert cumulative == sorted(cumulative, reverse=True)
    functions = [r["function"] for r in rows]
    # observe is called once per frame and is where the library's time goes
    observe = [
        r
        for r in rows
        if r["function"].startswith("ffstream/stream/") and r["function"].endswith(":observe")
    ]
    assert any(r["calls_per_frame"] == 1.0 for r in observe), functions
    assert all(r["cumulative_us"] <= profile["us_per_frame"] for r in rows)
    assert not any("benchmarks" in f or "speed.py" in f for f in functions)  # not the harness


def test_profile_step_counts_calls_per_frame():
    calls = []

    def inner(i):
        calls.append(i)

    profile = speed.profile_step(lambda i: [inner(i) for _ in range(3)], frames=10)
    assert calls == [i for i in range(10) for _ in range(3)]
    assert profile["frames"] == 10 and profile["us_per_frame"] > 0
    # the harness (this test's own functions live outside benchmarks/, so they show up)
    (row,) = [r for r in profile["by_cumulative"] if r["function"].endswith(":inner")]
    assert row["calls_per_frame"] == 3.0 and row["line"] > 0


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--frames", "0", "--frames must be at least 1, got 0"),
        ("--warmup", "-1", "--warmup must be at least 1"),
        ("--classes", "1", "--classes must be at least 2"),
    ],
)
def test_bad_flags_name_themselves(flag, value, message, capsys):
    results = fresh_results()
    assert cli.main(["bench", "speed", *TINY, flag, value, "--results", results]) == 2
    assert message in capsys.readouterr().out.replace("\n", " ")
    assert not list(Path(results).rglob("*.json"))  # refused before any run
    with pytest.raises(ValueError, match=message):
        speed.Config(**{flag.removeprefix("--"): int(value)})


def test_registered_profile_is_not_part_of_a_runs_identity():
    assert load_suite("speed") is speed
    assert config_identity(speed.Config(profile=True)) == config_identity(speed.FULL)
    assert speed.QUICK.frames < speed.FULL.frames
