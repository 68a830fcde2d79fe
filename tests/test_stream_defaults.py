"""StreamLearner's defaults on simple generated streams nobody tuned them on."""

import numpy as np
import torch

from ffstream.data.generators import abrupt_stream, linear_stream
from ffstream.stream import StreamLearner


def prequential_hits(learner, x, y):
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    return np.array(
        [
            int(learner.observe(xt[i : i + 1], yt[i : i + 1]).prediction[0]) == int(y[i])
            for i in range(len(x))
        ]
    )


def test_accuracy_on_a_stationary_stream_does_not_fall():
    x, y = linear_stream(6000, seed=7)
    hits = prequential_hits(StreamLearner(16, 4, seed=7), x, y)
    first, second, third = (window.mean() for window in np.split(hits, 3))
    assert third >= max(first, second) - 0.02, (first, second, third)
    assert third > 0.85  # a linear concept: a linear model of the input reaches about 0.95


def test_features_in_their_own_units_learn_like_standard_ones():
    x, y = linear_stream(3000, seed=8)
    scale = np.logspace(-3, 4, 16, dtype=np.float32)  # millimetres beside kilometres
    standard = prequential_hits(StreamLearner(16, 4, seed=8), x, y)[-1000:].mean()
    raw = prequential_hits(StreamLearner(16, 4, seed=8), x * scale + 300.0, y)[-1000:].mean()
    assert raw >= standard - 0.03, (raw, standard)


def test_the_learner_recovers_from_an_outlier_burst():
    x, y = linear_stream(5000, seed=9)
    burst = slice(3000, 3050)
    signs = np.sign(np.random.default_rng(9).standard_normal((50, 3)))
    x[burst, :3] = 1000.0 * signs  # a faulty sensor on three channels for 50 frames
    hits = prequential_hits(StreamLearner(16, 4, seed=9), x, y)
    # within 1,500 frames it answers about as well as before (the burst's frames still sit in
    # its memory, so a little of it stays)
    before, after = hits[2000:3000].mean(), hits[4500:5000].mean()
    assert after >= before - 0.04, (before, after)


def test_the_learner_follows_an_abrupt_concept_change():
    # The same frames, relabelled by a new random map at frame 4,000: three thousand frames
    # later it answers nearly as well as it did three thousand frames into the first concept.
    # Its memories of the old concept must not hold it back (a sleep that recalls them too
    # much keeps it several points lower for thousands of frames).
    x, y = abrupt_stream(8000, seed=12, at=4000)
    hits = prequential_hits(StreamLearner(16, 4, seed=12), x, y)
    first, second = hits[2000:3000].mean(), hits[6000:7000].mean()
    assert second >= first - 0.06, (first, second)
    assert hits[7000:].mean() > 0.9
