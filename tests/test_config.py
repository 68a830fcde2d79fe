"""Typed configs drive the command line: one dataclass, flags and help generated from it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from ffstream.config import add_config_arguments, config_from_args, option


@dataclass(frozen=True)
class Toy:
    frames: int = option(1_000, "frames to learn from")
    lr: float = option(0.01, "step size")
    hidden: tuple[int, ...] = option((64, 64), "hidden widths")
    decay: float | None = option(0.99, "weight-average decay")
    mode: str = option("sleep", "schedule", choices=("sleep", "interleaved"))
    verify: bool = option(True, "check the files")
    secret: int = option(3, "not on the command line", cli=False)

    def __post_init__(self):
        if self.frames < 1:
            raise ValueError(f"--frames must be at least 1, got {self.frames}")


def _parser(presets=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    add_config_arguments(parser, Toy, presets=presets)
    return parser


def test_flags_not_given_leave_the_base_config_unchanged():
    base = Toy(frames=10)
    assert config_from_args(_parser().parse_args([]), base) == base


def test_each_type_parses_from_its_flag():
    argv = ["--frames", "5", "--lr", "0.5", "--hidden", "8, 4", "--decay", "none"]
    argv += ["--mode", "interleaved", "--no-verify"]
    cfg = config_from_args(_parser().parse_args(argv), Toy())
    assert cfg == Toy(frames=5, lr=0.5, hidden=(8, 4), decay=None, mode="interleaved", verify=False)


@pytest.mark.parametrize(
    "argv",
    [
        ["--frames", "many"],
        ["--lr", "nan"],
        ["--lr", "inf"],
        ["--mode", "dream"],
        ["--hidden", ","],
        ["--secret", "4"],
    ],
)
def test_bad_values_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as err:
        _parser().parse_args(argv)
    assert err.value.code == 2


def test_the_configs_own_checks_run_on_the_result():
    with pytest.raises(ValueError, match="--frames"):
        config_from_args(_parser().parse_args(["--frames", "0"]), Toy())


def test_help_states_the_default_and_each_preset_that_differs():
    text = _parser({"full": Toy(), "quick": Toy(frames=10)}).format_help()
    assert "full: 1000; quick: 10" in text
    assert "hidden widths (default 64,64)" in text
    assert "--secret" not in text


def test_a_config_with_required_fields_gets_flags_for_the_rest():
    from ffstream.stream import LearnerConfig

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, LearnerConfig)
    args = parser.parse_args(["--hidden", "32,32", "--ema-decay", "0.99"])
    cfg = config_from_args(args, LearnerConfig(in_features=16, num_classes=4))
    assert (cfg.hidden, cfg.ema_decay, cfg.lr) == ((32, 32), 0.99, 1e-3)
    assert "--in-features" not in parser.format_help()
