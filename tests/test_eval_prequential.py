"""ffstream.eval.prequential: the test-then-train loop for river-style and ffstream learners."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from river import linear_model
from river.datasets import synth

from ffstream.eval import PrequentialAccuracy, prequential
from ffstream.stream import StreamLearner


class Last:
    """Predicts the label it learned last (river-style)."""

    label = None

    def predict_one(self, x):
        return self.label

    def learn_one(self, x, y):
        self.label = y


def test_river_model_matches_a_hand_written_loop():
    stream = list(synth.SEA(seed=0).take(300))
    result = prequential(linear_model.LogisticRegression(), stream, window=100)
    model, acc = linear_model.LogisticRegression(), PrequentialAccuracy(window_size=100)
    curve = []
    for x, y in stream:
        acc.update([int(model.predict_one(x) == y)], [1])
        model.learn_one(x, y)
        if acc.n % 100 == 0:
            curve.append((acc.n, acc.windowed_accuracy))
    assert result.accuracy == acc.accuracy and result.curve == curve
    assert result.samples == 300 and result.samples_per_s > 0


def test_stream_learner_is_scored_through_observe():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 4, generator=g)
    y = (x[:, 0] > 0).long()
    learner = StreamLearner(4, 2, hidden=(16,), device="cpu", seed=0)
    result = prequential(learner, zip(x, y), window=40)
    assert result.samples == 120 and [n for n, _ in result.curve] == [40, 80, 120]
    assert 0.0 <= result.accuracy <= 1.0 and learner.frames_seen == 120


def test_labels_compare_by_value_and_none_is_wrong():
    stream = [({}, np.int64(1)), ({}, torch.tensor(1)), ({}, 2)]
    result = prequential(Last(), stream, window=1)
    assert result.curve == [(1, 0.0), (2, 1.0), (3, 0.0)]
    assert prequential(Last(), [], window=5).samples_per_s == 0.0


def test_bad_models_windows_and_batches_are_refused():
    with pytest.raises(TypeError, match="predict_one"):
        prequential(object(), [({}, 0)])
    with pytest.raises(ValueError, match="window"):
        prequential(Last(), [({}, 0)], window=0)
    with pytest.raises(ValueError, match="one sample at a time"):
        prequential(Last(), [({}, torch.tensor([0, 1]))])
