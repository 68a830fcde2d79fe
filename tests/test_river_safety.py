"""ffstream.river, safe by contract: many classes, wild values, bad input and bad parameters."""

import math
import pathlib
import pickle
import random

import numpy as np
import pytest

from ffstream.river import FFAnomalyDetector, FFClassifier, PiecewiseLinearEncoder
from ffstream.river._engine import RiverFF, sigmoid


def _learner(model):
    """``learn_one`` of either estimator, with a label for the classifier."""
    if isinstance(model, FFClassifier):
        return lambda x: model.learn_one(x, True)
    return model.learn_one


# ----------------------------------------------------------------------- many classes
def test_hundreds_of_classes_never_diverge():
    model, rng = FFClassifier(seed=0), random.Random(0)
    for i in range(600):
        model.learn_one({"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)}, i % 200)
    proba = model.predict_proba_one({"a": 0.3, "b": -0.2})
    assert len(proba) == 200 and math.isclose(sum(proba.values()), 1.0)
    assert all(math.isfinite(p) for p in proba.values())
    assert all(np.isfinite(w).all() for w, _ in model._net._params)


def test_a_hundred_and_twenty_learnable_classes_are_learned():
    model, rng, correct = FFClassifier(seed=0), random.Random(0), 0
    for _ in range(2000):
        y = rng.randrange(120)
        x = {f"f{j}": float(j == y % 20) + rng.gauss(0, 0.1) for j in range(20)}
        x["g"] = y // 20 + rng.gauss(0, 0.1)
        proba = model.predict_proba_one(x)
        correct += bool(proba) and max(proba, key=proba.get) == y
        model.learn_one(x, y)
    assert correct / 2000 > 0.06, correct  # chance is 1/120; measured: 0.15


def test_step_cap_bounds_the_first_layer_and_leaves_small_steps_alone():
    z = np.random.default_rng(0).normal(size=(3, 40))
    nets = [
        RiverFF(40, (8,), lr=1.0, seed=0, max_step=2.0),
        RiverFF(40, (8,), lr=0.2, seed=0),  # the cap: 2 * 8 / (2 * 40) = 0.2
        RiverFF(40, (8,), lr=0.1, seed=0, max_step=2.0),
        RiverFF(40, (8,), lr=0.1, seed=0),
    ]
    for net in nets:
        ins, acts, good = net.forward(z)
        net.update(ins, acts, [np.array([-1.0, 0.5, 0.5]) * sigmoid(1.0 - g) for g in good])
    assert nets[0].step_sizes == nets[1].step_sizes == [0.2]
    assert np.allclose(nets[0]._params[0][0], nets[1]._params[0][0])
    assert np.array_equal(nets[2]._params[0][0], nets[3]._params[0][0])  # under the cap: unchanged


# ----------------------------------------------------------------------- wild values
def _gauss_stream(n, seed, outlier_at=None):
    rng = random.Random(seed)
    for t in range(n):
        x = {"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)}
        y = x["a"] + 0.5 * x["b"] > 0
        if t == outlier_at:
            x["a"] = 1e6
        yield x, y


def test_one_wild_value_does_not_spoil_a_feature():
    twins = {"clean": FFClassifier(seed=0), "outlier": FFClassifier(seed=0)}
    correct = dict.fromkeys(twins, 0)
    for name, model in twins.items():
        outlier_at = 500 if name == "outlier" else None
        for t, (x, y) in enumerate(_gauss_stream(2000, seed=0, outlier_at=outlier_at)):
            if t >= 700:  # 200 samples after the wild value
                proba = model.predict_proba_one(x)
                correct[name] += max(proba, key=proba.get) == y
            model.learn_one(x, y)
    scalers = {name: model._columns.scaler for name, model in twins.items()}
    assert abs(scalers["outlier"].mean[0] - scalers["clean"].mean[0]) < 0.1
    ratio = (scalers["outlier"].var[0] / scalers["clean"].var[0]).sqrt()
    assert 0.9 < ratio < 1.2, ratio
    assert correct["outlier"] >= correct["clean"] - 20, correct  # 1300 samples scored


def test_one_wild_value_does_not_blind_the_detector():
    aucs = []
    for outlier_at in (None, 400):
        detector, rng, hits = FFAnomalyDetector(seed=0), random.Random(1), []
        for t in range(1500):
            x = {"a": rng.gauss(0, 1), "b": rng.gauss(5, 2)}
            spike = t > 600 and t % 25 == 0
            if spike:
                x["b"] += 8.0
            if t == outlier_at:
                x["b"] = 1e6
            if t > 600:
                hits.append((detector.score_one(x), spike))
            detector.learn_one(x)
        spikes = [s for s, y in hits if y]
        normal = [s for s, y in hits if not y]
        aucs.append(np.mean([[s > n for n in normal] for s in spikes]))
    assert aucs[1] > 0.8 and aucs[1] > aucs[0] - 0.05, aucs


def test_features_missing_from_a_sample_keep_their_estimates_and_late_ones_learn_fast():
    model = FFClassifier(seed=0)
    rng = np.random.default_rng(0)
    for t in range(1500):
        x = {"a": rng.normal(3.0, 2.0)}
        if t % 3:  # missing from a third of the samples
            x["b"] = rng.normal(-5.0, 0.5)
        if t >= 1400:  # a feature that joins late, far from zero
            x["c"] = rng.normal(300.0, 1.0)
        model.learn_one(x, t % 2)
    scaler = model._columns.scaler
    mean, std = scaler.mean.tolist(), scaler.var.sqrt().tolist()
    assert scaler.seen.tolist() == [1500, 1000, 100]
    assert abs(mean[0] - 3.0) < 0.3 and abs(std[0] - 2.0) < 0.3
    assert abs(mean[1] + 5.0) < 0.1 and abs(std[1] - 0.5) < 0.1
    assert abs(mean[2] - 300.0) < 0.5 and abs(std[2] - 1.0) < 0.3  # its own young phase
    u = scaler.standardize_array(np.array([3.0, 0.0, 300.0]), np.array([True, False, True]))
    assert u[1] == 0.0  # missing: its running mean


def test_a_model_pickled_with_the_old_standardiser_unpickles():
    from ffstream.river._engine import RunningStandardizer

    model = FFClassifier(seed=0)
    for t in range(50):
        model.learn_one({"a": float(t % 7), "b": 1.0}, t % 2)
    old = RunningStandardizer.__new__(RunningStandardizer)  # its attributes, as 0.1 had them
    old.__dict__.update(count=np.array([50.0, 50.0]), mean=np.array([3.0, 1.0]))
    old.__dict__.update(m2=np.array([200.0, 0.0]), inv_std=np.array([0.5, 0.0]))
    model._columns.__dict__["scaler"] = old
    twin = pickle.loads(pickle.dumps(model))
    scaler = twin._columns.scaler
    assert scaler.mean.tolist() == [3.0, 1.0] and scaler.var.tolist() == [4.0, 0.0]
    assert scaler.clip == twin.clip == 5.0  # the estimator's clip, not the standardiser's own
    twin.learn_one({"a": 2.0, "b": 1.0}, 0)  # and it learns on
    assert scaler.seen.tolist() == [51.0, 51.0]


def test_models_pickled_before_the_one_numpy_engine_load_and_learn_on_as_they_would_have():
    # tests/data/river-before-riverff.pkl: models pickled by the code before RiverFF (their
    # nets a LeanFF, the classifier's awake samples its own list: 13 of them, pending a
    # sleep), what they predicted then, and what they predicted after learning on from there.
    path = pathlib.Path(__file__).parent / "data" / "river-before-riverff.pkl"
    saved = pickle.loads(path.read_bytes())
    for name, blob in saved["pickles"].items():
        model = pickle.loads(blob)
        assert isinstance(model._net, RiverFF)
        probe = saved["data"][-1][0]
        out = model.predict_proba_one if isinstance(model, FFClassifier) else model.score_one
        assert out(probe) == pytest.approx(saved["before"][name], abs=1e-12), name
        if name == "awake-sleep":
            assert len(model._awake) == model._schedule._since == 13
        for x, y in saved["data"][45:]:
            _learner(model)(x) if isinstance(model, FFAnomalyDetector) else model.learn_one(x, y)
        assert out(probe) == pytest.approx(saved["after"][name], abs=1e-9), name


# ----------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [[1.0, 2.0], "a=1", None, 3.0])
def test_a_sample_that_is_not_a_dict_is_refused(bad):
    for model in (FFClassifier(seed=0), FFAnomalyDetector(seed=0)):
        ask = model.predict_proba_one if isinstance(model, FFClassifier) else model.score_one
        with pytest.raises(TypeError, match="dict"):
            ask(bad)  # before any learning
        _learner(model)({"a": 1.0})
        before = pickle.dumps(model)
        for call in (_learner(model), ask):
            with pytest.raises(TypeError, match="dict"):
                call(bad)
        assert pickle.dumps(model) == before


@pytest.mark.parametrize("huge", [10**400, -(10**400)])
def test_an_integer_too_large_for_a_float_is_refused(huge):
    for model in (FFClassifier(seed=0), FFAnomalyDetector(seed=0), PiecewiseLinearEncoder()):
        learn = _learner(model)
        learn({"a": 1.0, "n": 2})
        before = pickle.dumps(model)
        with pytest.raises(ValueError, match="'n'.*too large"):
            learn({"a": 1.0, "n": huge})  # the fast path: the same features as before
        with pytest.raises(ValueError, match="'m'.*too large"):
            learn({"a": 1.0, "m": huge})  # a new feature
        assert pickle.dumps(model) == before


@pytest.mark.parametrize("label", [None, float("nan"), np.float64("nan"), np.float32("nan")])
def test_a_missing_label_is_refused(label):
    model = FFClassifier(seed=0)
    with pytest.raises(ValueError, match="missing label"):
        model.learn_one({"a": 1.0}, label)  # the first sample: nothing built
    assert model._net is None and not model._classes and not len(model._columns)
    model.learn_one({"a": 1.0}, "x")
    before = pickle.dumps(model)
    for _ in range(3):
        with pytest.raises(ValueError, match="missing label"):
            model.learn_one({"a": 2.0, "new": 1.0}, label)
    assert pickle.dumps(model) == before
    assert set(model.predict_proba_one({"a": 1.0})) == {"x"}


def test_an_unhashable_label_is_refused():
    model = FFClassifier(seed=0)
    with pytest.raises(TypeError, match="hashable"):
        model.learn_one({"a": 1.0}, [1])
    assert model._net is None


# ----------------------------------------------------------------------- bad parameters
BAD_PARAMS = [
    {"lr": math.inf},
    {"lr": math.nan},
    {"lr": 0.0},
    {"lr": -0.1},
    {"lr": "0.1"},
    {"hidden": (0,)},
    {"hidden": ()},
    {"hidden": (16, -2)},
    {"hidden": (2.5,)},
    {"hidden": 16},
    {"clip": 0.0},
    {"clip": math.nan},
    {"seed": -1},
    {"seed": 1.5},
    {"seed": 2**64},  # past what torch.Generator takes
]


@pytest.mark.parametrize(
    "cls, params",
    [
        (FFClassifier, p)
        for p in BAD_PARAMS + [{"label_strength": -1.0}, {"ema_decay": 1.0}, {"ema_decay": "0.9"}]
    ]
    + [(FFAnomalyDetector, p) for p in BAD_PARAMS + [{"memory": m} for m in (0, 1, -3, 2.5)]],
)
def test_bad_hyper_parameters_are_refused_before_anything_changes(cls, params):
    name = next(iter(params))
    with pytest.raises(ValueError, match=name):
        cls(**params)
    model = cls(seed=0)
    setattr(model, name, params[name])  # set by hand after construction
    before = pickle.dumps(model)
    with pytest.raises(ValueError, match=name):
        _learner(model)({"a": 1.0, "b": 2.0})
    assert pickle.dumps(model) == before


def test_a_detector_pickled_with_its_old_ring_of_samples_unpickles():
    detector = FFAnomalyDetector(memory=4, seed=0)
    for t in range(30):
        detector.learn_one({"a": float(t % 5), "b": float(t % 3)})
    state = dict(detector.__dict__)
    del state["_supply"]  # what 0.1 did not have ...
    ring = np.arange(8.0).reshape(4, 2)  # ... and its ring: slot 30 % 4 = 2 is the oldest
    state.update(_memory=ring, _remembered=30)
    old = FFAnomalyDetector.__new__(FFAnomalyDetector)
    old.__setstate__(state)
    recent = [row.tolist() for row in old._supply.pending]
    assert recent == [[4.0, 5.0], [6.0, 7.0], [0.0, 1.0], [2.0, 3.0]]
    old.learn_one({"a": 1.0, "b": 2.0})  # and it learns and scores on
    assert 0.0 <= old.score_one({"a": 1.0, "b": 2.0}) <= 1.0


@pytest.mark.parametrize("cls", [FFClassifier, FFAnomalyDetector])
def test_the_estimators_leave_torchs_global_generator_alone(cls):
    import torch

    model, state = cls(hidden=(8,), seed=0), torch.get_rng_state()
    for t in range(40):  # builds the net, grows it, sleeps
        x = {"a": float(t % 5), **({"b": 1.0} if t > 10 else {})}
        model.learn_one(x, t % 3) if cls is FFClassifier else model.learn_one(x)
    assert torch.equal(torch.get_rng_state(), state)
