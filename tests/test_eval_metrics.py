"""Continual-learning metrics checked against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ffstream.eval import (
    BWT_CONVENTION,
    PrequentialAccuracy,
    anytime_accuracy,
    average_accuracy,
    backward_transfer,
    continual_summary,
    forgetting,
    forward_transfer,
    mean_interval,
)

# R[i, j]: accuracy on task j after training through task i.
R = [
    [0.80, 0.10, 0.20],
    [0.60, 0.90, 0.30],
    [0.50, 0.70, 0.95],
]
B = [0.10, 0.10, 0.20]  # random-init accuracy per task


def test_hand_computed_values():
    assert average_accuracy(R) == pytest.approx((0.50 + 0.70 + 0.95) / 3)
    # ((0.5 - 0.8) + (0.7 - 0.9)) / 2
    assert backward_transfer(R) == pytest.approx(-0.25)
    # ((0.1 - 0.1) + (0.3 - 0.2)) / 2
    assert forward_transfer(R, B) == pytest.approx(0.05)
    # ((max(0.8, 0.6) - 0.5) + (max(0.1, 0.9) - 0.7)) / 2
    assert forgetting(R) == pytest.approx(0.25)


def test_bwt_divides_by_t_minus_1_as_the_gem_paper_does():
    # GEM's released code would average over all three tasks: (-0.3 - 0.2 + 0) / 3
    assert backward_transfer(R) == pytest.approx(((0.5 - 0.8) + (0.7 - 0.9)) / (3 - 1))
    assert backward_transfer(R) != pytest.approx(-0.5 / 3)
    assert "divides by T-1" in BWT_CONVENTION


def test_anytime_accuracy_by_hand():
    # three points: after part of task 0, inside task 1, at the end of task 2
    points = [[0.6], [0.9, 0.3], [0.5, 0.7, 0.9]]
    assert anytime_accuracy(points) == pytest.approx((0.6 + 0.6 + 0.7) / 3)
    # not the mean over every number (which would weigh later points more)
    assert anytime_accuracy(points) != pytest.approx(np.mean([0.6, 0.9, 0.3, 0.5, 0.7, 0.9]))
    assert anytime_accuracy([np.array([0.4, 0.6]), torch.tensor([1.0])]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="at least one"):
        anytime_accuracy([])
    with pytest.raises(ValueError, match=r"points\[1\]"):
        anytime_accuracy([[0.5], []])


def test_mean_interval_by_hand():
    # n = 5: mean 0.8, sample variance (0.01 + 0 + 0.01 + 0.04 + 0.04) / 4 = 0.025
    stats = mean_interval([0.7, 0.8, 0.9, 1.0, 0.6])
    assert stats["n"] == 5 and stats["mean"] == pytest.approx(0.8)
    assert stats["std"] == pytest.approx(0.025**0.5)  # ddof=1, not np.std's ddof=0
    half = 2.7764451051977987 * 0.025**0.5 / 5**0.5  # t_{0.975, 4}
    assert stats["ci95"] == pytest.approx([0.8 - half, 0.8 + half])
    two = mean_interval([1.0, 3.0])  # t_{0.975, 1} = 12.706
    assert two["ci95"] == pytest.approx([2.0 - 12.7062047, 2.0 + 12.7062047])
    assert mean_interval([0.9]) == {"mean": 0.9, "std": None, "ci95": None, "n": 1}
    with pytest.raises(ValueError, match="non-empty"):
        mean_interval([])


def test_forgetting_differs_from_minus_bwt_when_accuracy_peaked_later():
    # Task 0 improves to 0.9 while task 1 trains, then drops to 0.7.
    R2 = [[0.6, 0.0, 0.0], [0.9, 0.8, 0.0], [0.7, 0.8, 0.9]]
    assert backward_transfer(R2) == pytest.approx(((0.7 - 0.6) + (0.8 - 0.8)) / 2)
    assert forgetting(R2) == pytest.approx(((0.9 - 0.7) + (0.8 - 0.8)) / 2)


def test_forgetting_max_includes_rows_before_the_task_was_trained():
    # Chaudhry et al. take the max over every l < T-1, so R[0, 1] = 0.6 counts for task 1.
    R3 = [[0.5, 0.6, 0.0], [0.5, 0.4, 0.0], [0.5, 0.3, 0.9]]
    assert forgetting(R3) == pytest.approx((0.0 + (0.6 - 0.3)) / 2)


def test_perfect_memory_and_percentages():
    perfect = np.triu(np.full((4, 4), 0.2), k=1) + np.tril(np.ones((4, 4)))
    assert backward_transfer(perfect) == 0.0
    assert forgetting(perfect) == 0.0
    assert average_accuracy(perfect) == 1.0
    assert backward_transfer(np.asarray(R) * 100) == pytest.approx(-25.0)


def test_accepts_torch_numpy_and_lists_alike():
    for matrix in (R, np.asarray(R), torch.tensor(R), torch.tensor(R, dtype=torch.float64)):
        assert backward_transfer(matrix) == pytest.approx(-0.25)
        assert forward_transfer(matrix, torch.tensor(B)) == pytest.approx(0.05)
        assert isinstance(forgetting(matrix), float)


def test_summary():
    summary = continual_summary(R, baseline=B)
    assert summary == pytest.approx(
        {
            "average_accuracy": 2.15 / 3,
            "backward_transfer": -0.25,
            "forgetting": 0.25,
            "forward_transfer": 0.05,
        }
    )
    assert continual_summary(R)["forward_transfer"] is None
    single = continual_summary([[0.9]], baseline=[0.1])
    assert single == {
        "average_accuracy": 0.9,
        "backward_transfer": None,
        "forgetting": None,
        "forward_transfer": None,
    }


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], r"shape \(2, 3\); expected square"),
        ([0.1, 0.2], r"shape \(2,\); expected square"),
        ([[0.1, float("nan")], [0.3, 0.4]], "NaN or Inf"),
        ([["a", "b"], ["c", "d"]], "could not be read"),
    ],
)
def test_bad_matrices(matrix, message):
    for metric in (average_accuracy, backward_transfer, forgetting):
        with pytest.raises(ValueError, match=message):
            metric(matrix)


def test_single_task_has_no_transfer_or_forgetting():
    for metric in (backward_transfer, forgetting):
        with pytest.raises(ValueError, match="at least 2 tasks"):
            metric([[0.9]])
    with pytest.raises(ValueError, match="at least 2 tasks"):
        forward_transfer([[0.9]], [0.1])


def test_bad_baseline():
    with pytest.raises(ValueError, match=r"baseline has shape \(2,\); expected .*\(3,\)"):
        forward_transfer(R, [0.1, 0.1])
    with pytest.raises(ValueError, match="baseline contains NaN"):
        forward_transfer(R, [0.1, float("nan"), 0.1])


def test_prequential_accuracy_running_and_windowed():
    acc = PrequentialAccuracy(window_size=4)
    assert (acc.n, acc.accuracy, acc.windowed_accuracy) == (0, 0.0, 0.0)
    acc.update(0, 0)
    acc.update(1, 2)
    assert (acc.accuracy, acc.windowed_accuracy) == (0.5, 0.5)
    acc.update(torch.tensor([1, 1, 1]), torch.tensor([1, 1, 1]))  # window: 0 1 1 1
    assert acc.n == 5 and acc.accuracy == pytest.approx(4 / 5)
    assert acc.windowed_accuracy == pytest.approx(3 / 4)
    # A batch longer than the window replaces it entirely.
    acc.update(np.zeros(10, int), np.r_[np.zeros(6, int), 1, 1, 1, 0])
    assert acc.windowed_accuracy == pytest.approx(1 / 4)
    assert acc.accuracy == pytest.approx((4 + 7) / 15)
    assert len(acc._window) == 4
    assert "n=15" in repr(acc)


def test_prequential_accuracy_matches_brute_force():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    acc = PrequentialAccuracy(window_size=50)
    for start in range(0, 500, 37):
        acc.update(y[start : start + 37], p[start : start + 37])
    assert acc.accuracy == pytest.approx((y == p).mean())
    assert acc.windowed_accuracy == pytest.approx((y[-50:] == p[-50:]).mean())


def test_prequential_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="window_size must be at least 1"):
        PrequentialAccuracy(window_size=0)
    acc = PrequentialAccuracy()
    with pytest.raises(ValueError, match="y_true has 2 labels but y_pred has 3"):
        acc.update([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="y_pred has dtype float"):
        acc.update([0], [0.5])
    assert acc.n == 0
