"""StreamLearner is safe by contract: a checked typed config, refused overflowing frames, a lock."""

import copy
import dataclasses
import inspect
import pickle
import threading

import pytest
import torch
from conftest import blobs

from ffstream.stream import EveryN, LearnerConfig, StreamLearner


def small(**kw):
    kw.setdefault("hidden", (8, 8))
    kw.setdefault("device", "cpu")
    return StreamLearner(kw.pop("in_features", 4), kw.pop("num_classes", 2), **kw)


def _snapshot(learner):
    return copy.deepcopy(
        {
            "net": learner.net.state_dict(),
            "opt": str(learner.net.optimizer.state_dict()),
            "readout": learner.readout.state_dict(),
            "memory": learner.memory.state_dict(),
            "recent": learner.recent.state_dict(),
            "generator": learner.generator.get_state(),
            "counters": (learner.frames_seen, learner.sleeps, learner.awake_updates),
        }
    )


def _assert_same(a, b):
    for key in ("net", "readout"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), name
    for key in ("memory", "recent"):
        for name, value in a[key].items():
            assert (
                torch.equal(value, b[key][name])
                if torch.is_tensor(value)
                else value == b[key][name]
            )
    assert torch.equal(a["generator"], b["generator"])
    assert a["opt"] == b["opt"] and a["counters"] == b["counters"]


# ---------------------------------------------------------------------------- the config
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("readout_lr", float("nan")),
        ("lr", float("inf")),
        ("lr", 0.0),
        ("in_features", 0),
        ("in_features", (28, 0)),
        ("hidden", (0,)),
        ("hidden", ()),
        ("hidden", (8.5,)),
        ("memory_capacity", 0),
        ("recent_capacity", -1),
        ("sleep_batch", 2.5),
        ("momentum", 2),
        ("momentum", -0.1),
        ("optimizer", "foo"),
        ("goodness", "max"),
        ("replay", "yes"),
        ("balanced_memory", 1),
        ("weight_decay", float("nan")),
        ("weight_decay", -1e-3),
        ("standardize", "yes"),
        ("readout_reads_input", 1),
        ("ema_decay", float("inf")),
        ("seed", -1),
        ("seed", 1.5),
        ("seed", True),
        ("num_classes", 1),
        ("num_classes", 2.0),
    ],
)
def test_bad_hyper_parameters_are_refused_at_once_naming_the_parameter(name, value):
    kwargs = {"in_features": 4, "num_classes": 2, name: value}
    with pytest.raises(ValueError, match=name):
        LearnerConfig(**kwargs)
    with pytest.raises(ValueError, match=name):
        small(**kwargs)


def test_the_constructor_and_the_config_name_the_same_hyper_parameters():
    parameters = inspect.signature(StreamLearner).parameters
    fields = {f.name: f.default for f in dataclasses.fields(LearnerConfig)}
    objects = {"schedule", "dreams", "device", "threads"}
    assert set(parameters) - objects == set(fields)
    for name, default in fields.items():
        if default is not dataclasses.MISSING:
            assert parameters[name].default == default, name


def test_the_config_is_the_single_source_of_truth_and_reads_like_a_dict():
    learner = small(in_features=(2, 3), hidden=[8, 8], lr=1e-3)
    cfg = learner.config
    assert isinstance(cfg, LearnerConfig) and cfg.in_features == (2, 3) and cfg.hidden == (8, 8)
    assert cfg["lr"] == 1e-3 and {**cfg}["hidden"] == (8, 8) and dict(cfg)["seed"] == 0
    assert cfg.to_dict()["in_features"] == [2, 3]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0
    with pytest.raises(ValueError, match="did you mean 'hidden'"):
        LearnerConfig.from_dict({"in_features": [4], "hiden": [8]})


def test_from_config_builds_the_same_learner_as_the_keywords():
    x, y = blobs(40, 2, 4)
    a = small(seed=3, schedule=EveryN(10))
    b = StreamLearner.from_config(a.config, schedule=EveryN(10), device="cpu")
    assert b.config == a.config
    for i in range(40):
        out_a, out_b = a.observe(x[i], int(y[i])), b.observe(x[i], int(y[i]))
        assert torch.equal(out_a.goodness, out_b.goodness)
    with pytest.raises(ValueError, match="LearnerConfig"):
        StreamLearner.from_config({"in_features": 4})


# ---------------------------------------------------------------------------- overflowing frames
@pytest.mark.parametrize("scale", [2e19, 1e30, 3e38])
def test_frames_whose_scale_overflows_normalisation_are_refused_before_anything_changes(scale):
    learner = small()
    x, y = blobs(20, 2, 4)
    learner.observe(x, y)
    before = _snapshot(learner)
    with pytest.raises(ValueError, match="too large to normalise"):
        learner.observe([scale, 0.0, 0.0, 0.0], 1)
    with pytest.raises(ValueError, match="too large to normalise"):
        learner.observe(torch.cat([x[:3], torch.full((1, 4), scale)]), y[:4])
    for method in (learner.predict, learner.predict_proba, learner.score):
        with pytest.raises(ValueError, match="too large to normalise"):
            method([scale, 0.0, 0.0, 0.0])
    _assert_same(before, _snapshot(learner))
    learner.observe(x[:2], y[:2])  # the stream goes on


# ---------------------------------------------------------------------------- concurrency
def test_concurrent_observe_calls_take_turns():
    learner = small(schedule=EveryN(50), memory_capacity=30, recent_capacity=30)
    x, y = blobs(200, 2, 4)
    errors = []

    def stream():
        try:
            for i in range(200):
                learner.observe(x[i], int(y[i]))
                learner.predict(x[i])
        except Exception as err:  # noqa: BLE001 - any crash fails the test below
            errors.append(err)

    threads = [threading.Thread(target=stream) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and learner.frames_seen == 400 and learner.sleeps == 8


def test_a_learner_with_a_lock_still_pickles_and_copies():
    learner = small()
    learner.observe([0.1, 0.2, 0.3, 0.4], 1)
    for twin in (copy.deepcopy(learner), pickle.loads(pickle.dumps(learner))):
        assert twin._lock is not learner._lock
        assert torch.equal(
            twin.predict_proba([0.1, 0.2, 0.3, 0.4]), learner.predict_proba([0.1, 0.2, 0.3, 0.4])
        )
        twin.observe([0.1, 0.2, 0.3, 0.4], 0)
        assert twin.frames_seen == learner.frames_seen + 1


def test_default_widths_follow_the_input():
    assert StreamLearner(in_features=16, num_classes=4).config.hidden == (64, 64)
    assert StreamLearner(in_features=(28, 28), num_classes=10).config.hidden == (500, 500)
    assert StreamLearner(in_features=3).config.hidden == (32, 32)
    assert StreamLearner(in_features=16, hidden=(8,)).config.hidden == (8,)
    narrow = StreamLearner(in_features=16, num_classes=4)
    assert [layer.transform.out_features for layer in narrow.net.layers] == [64, 64]


def test_calls_run_on_the_learners_threads_and_restore_torchs_setting(monkeypatch):
    seen = []
    learner = small(in_features=4, num_classes=2, threads=1)
    original = learner.net.step

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(learner.net, "step", spy)
    torch.set_num_threads(2)
    try:
        learner.observe(torch.rand(1, 4), torch.tensor([1]))
        assert seen == [1] and torch.get_num_threads() == 2
        learner.threads = None  # leaves torch's setting alone
        learner.observe(torch.rand(1, 4), torch.tensor([0]))
        assert seen == [1, 2]
    finally:
        torch.set_num_threads(1)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_threads_are_refused(threads):
    with pytest.raises(ValueError, match="threads"):
        StreamLearner(in_features=4, threads=threads)
