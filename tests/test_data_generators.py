"""The stream generators: seeded, deterministic, and each kind is what its docstring says."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ffstream.data import generators as g

N = 1000


@pytest.mark.parametrize("kind", list(g.STREAM_KINDS))
def test_each_kind_is_seeded_and_deterministic(kind):
    make = g.STREAM_KINDS[kind]
    x, y = make(N, seed=3)
    again_x, again_y = make(N, seed=3)
    other_x, other_y = make(N, seed=4)
    assert np.array_equal(x, again_x) and np.array_equal(y, again_y)
    assert not np.array_equal(x, other_x)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.ndim == 2 and x.shape[0] == N and y.shape == (N,)
    assert np.isfinite(x).all()
    classes = g.NUM_CLASSES[kind]
    expected = set(range(classes)) if classes is not None else {0, 1}
    assert set(np.unique(y).tolist()) == expected


def test_generators_leave_the_global_rngs_alone():
    # the legacy global generators are what a generator must not touch
    np.random.seed(0)  # noqa: NPY002
    before = np.random.random()  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    random.seed(0)
    python_before = random.random()
    random.seed(0)
    for make in g.STREAM_KINDS.values():
        make(200, seed=0)
    assert np.random.random() == before  # noqa: NPY002
    assert random.random() == python_before


def test_registry_and_class_counts_name_the_same_kinds():
    assert set(g.NUM_CLASSES) == set(g.STREAM_KINDS) and len(g.STREAM_KINDS) >= 11
    dims = {kind: make(200, seed=0)[0].shape[1] for kind, make in g.STREAM_KINDS.items()}
    assert dims["linear"] == 16 and dims["high-dim"] == 200 and 2 <= dims["low-dim"] <= 4


def test_abrupt_switches_concept_at_the_middle():
    _, clean = g.linear_stream(N, seed=0)
    x, y = g.abrupt_stream(N, seed=0)
    assert np.array_equal(x, g.linear_stream(N, seed=0)[0])
    assert (y[: N // 2] == clean[: N // 2]).all()
    assert (y[N // 2 :] == clean[N // 2 :]).mean() < 0.5  # another map labels the same frames
    _, late = g.abrupt_stream(N, seed=0, at=800)
    assert (late[:800] == clean[:800]).all() and (late[800:] == clean[800:]).mean() < 0.5


def test_gradual_mixes_the_new_concept_in_over_a_window():
    n = 5000  # window 1000 frames, from 2000 to 3000
    _, clean = g.linear_stream(n, seed=1)
    _, y = g.gradual_stream(n, seed=1)
    _, new = g.abrupt_stream(n, seed=1, at=0)  # the second map everywhere
    assert (y[:2000] == clean[:2000]).all() and (y[3000:] == new[3000:]).all()
    from_new = [(y[a : a + 250] == new[a : a + 250]).mean() for a in range(2000, 3000, 250)]
    assert from_new == sorted(from_new) and from_new[0] < 0.6 < from_new[-1]


def test_recurring_alternates_two_concepts():
    _, clean = g.linear_stream(N, seed=2)
    _, y = g.recurring_stream(N, seed=2)
    same = y == clean
    quarters = [same[q : q + N // 4].mean() for q in range(0, N, N // 4)]
    assert quarters[0] == quarters[2] == 1.0 and max(quarters[1], quarters[3]) < 0.5
    _, second = g.abrupt_stream(N, seed=2, at=0)
    assert (y[250:500] == second[250:500]).all() and (y[750:] == second[750:]).all()


def test_class_incremental_labels_arrive_in_order():
    n, classes, phases = 2000, 10, 5
    _, y = g.class_incremental_stream(n, seed=0, classes=classes, phases=phases)
    first = [int(np.argmax(y == c)) for c in range(classes)]
    phase_of_first = [f * phases // n for f in first]
    assert phase_of_first == [c * phases // classes for c in range(classes)]
    for p in range(phases):
        part = y[p * n // phases : (p + 1) * n // phases]
        assert part.max() == (p + 1) * classes // phases - 1  # the new classes do arrive
    assert len(np.unique(y[-n // phases :])) == classes  # and the old ones stay


def test_label_noise_flips_about_the_share_asked_for():
    x, y = g.label_noise_stream(5000, seed=0, noise=0.2)
    clean_x, clean = g.linear_stream(5000, seed=0)
    assert np.array_equal(x, clean_x)
    assert 0.18 < (y != clean).mean() < 0.22
    _, none = g.label_noise_stream(5000, seed=0, noise=0.0)
    assert np.array_equal(none, clean)
    with pytest.raises(ValueError, match="noise"):
        g.label_noise_stream(10, seed=0, noise=1.5)


def test_outlier_bursts_exist_and_leave_labels_alone():
    n = 5000
    x, y = g.outlier_burst_stream(n, seed=0, share=0.05, length=25)
    clean_x, clean = g.linear_stream(n, seed=0)
    assert np.array_equal(y, clean)
    hit = (x != clean_x).any(axis=1)
    assert 0.02 < hit.mean() <= 0.05  # bursts may overlap
    assert (np.abs(x[hit]).max(axis=1) >= 5).all() and np.abs(x).max() > 100
    assert np.abs(clean_x).max() < 10
    starts = np.flatnonzero(np.diff(hit.astype(int)) == 1) + 1
    runs = [int(np.argmin(hit[s:]) if not hit[s:].all() else n - s) for s in starts]
    assert min(runs) >= 25  # contiguous bursts, not scattered frames


def test_sensor_is_unlabelled_with_faults_after_the_warmup():
    x, y = g.sensor_fault_stream(3000, seed=0)
    assert x.shape == (3000, 6) and not y[:300].any() and 0.01 < y.mean() < 0.2
    _, short = g.sensor_fault_stream(300, seed=0)
    assert short.any()  # the warm-up shrinks with the stream


def test_river_stream_keeps_the_feature_order():
    x, y = g.linear_stream(5, seed=0)
    samples = list(g.river_stream(x, y))
    assert [list(s) for s, _ in samples] == [[f"x{i}" for i in range(16)]] * 5
    assert [label for _, label in samples] == y.tolist()
    assert all(isinstance(label, int) for _, label in samples)
    assert samples[2][0]["x3"] == pytest.approx(float(x[2, 3]))


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_a_bad_length_is_refused(n):
    with pytest.raises(ValueError, match="n must be a positive int"):
        g.linear_stream(n, seed=0)
