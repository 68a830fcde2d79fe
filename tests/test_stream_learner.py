"""StreamLearner: awake/sleep updates, schedules, memory bounds, checkpoints, bad input."""

import copy
import itertools
import pickle

import pytest
import torch
from conftest import blobs, is_moved_copy
from river import drift

from ffstream.stream import (
    CallableDreams,
    ClassBalancedMemory,
    DreamSource,
    EveryN,
    HybridDreams,
    Interleaved,
    LangevinDreams,
    Manual,
    OnDrift,
    RecentMemory,
    ReservoirMemory,
    StreamLearner,
)
from ffstream.stream.average import lead_after, trusts


def small(num_classes=3, in_features=12, **kw):
    kw.setdefault("hidden", (32, 32))
    kw.setdefault("seed", 0)
    kw.setdefault("device", "cpu")
    return StreamLearner(in_features, num_classes, **kw)


def test_awake_raises_goodness_of_real_frames():
    learner = small(None, schedule=Manual())
    x = torch.rand(8, 12)
    before = learner.goodness_of(x).sum(1)
    for _ in range(10):
        learner.observe(x)
    assert bool((learner.goodness_of(x).sum(1) > before).all())


def test_sleep_lowers_goodness_of_dreams():
    learner = small(None, schedule=Manual(), replay=False, sleep_batch=16)
    x = torch.rand(16, 12)
    for _ in range(100):  # make x familiar: its goodness is now high
        learner.observe(x)
    learner.dreams = CallableDreams(lambda frames, labels, g: (x, labels))  # dream of x itself
    before = learner.goodness_of(x).sum(1)
    learner.sleep(steps=100)
    assert bool((learner.goodness_of(x).sum(1) < before).all())


def test_every_n_schedule_sleeps_on_time():
    learner = small(schedule=EveryN(frames=5, steps=2))
    x, y = blobs(20, 3, 12)
    slept = [learner.observe(x[i], int(y[i])).slept for i in range(20)]
    assert [i for i, s in enumerate(slept) if s] == [4, 9, 14, 19]
    assert learner.sleeps == 4


def test_full_sleep_balances_awake_updates_then_clears_recent_frames():
    learner = small(schedule=Manual(), sleep_batch=4)
    x, y = blobs(10, 3, 12)
    learner.observe(x[:4], y[:4])  # one awake update of a batch...
    for i in range(4, 10):  # ...and six of single frames
        learner.observe(x[i], int(y[i]))
    assert len(learner.recent) == 10
    assert learner.sleep() == 7  # as many sleep steps as awake updates
    assert len(learner.recent) == 0 and len(learner.memory) == 10
    assert learner.sleep() == 1  # nothing new: a minimal sleep


def test_manual_schedule_never_sleeps_by_itself():
    learner = small(schedule=Manual())
    x, y = blobs(50, 3, 12)
    assert not any(learner.observe(x[i], int(y[i])).slept for i in range(50))


def test_interleaved_makes_a_negative_update_every_frame():
    learner = small(schedule=Interleaved())
    calls = []
    original = learner.net.step

    def spy(pos=None, neg=None, labels=None, **kwargs):
        calls.append(neg is not None)
        return original(pos, neg, labels, **kwargs)

    learner.net.step = spy
    x, y = blobs(5, 3, 12)
    outs = [learner.observe(x[i], int(y[i])) for i in range(5)]
    assert calls == [True] * 5 and not any(o.slept for o in outs)


def test_drift_schedule_fires_when_the_error_rate_jumps():
    detector = drift.PageHinkley(min_instances=30, threshold=20.0, mode="up")
    learner = small(4, schedule=OnDrift(detector, max_frames=200, min_frames=10))
    x, y = blobs(1000, 4, 12, seed=1)
    before = [learner.observe(x[i], int(y[i])).slept for i in range(900)]
    swapped = (y + 1) % 4  # the concept changes: every label moves
    after = [learner.observe(x[i], int(swapped[i])).slept for i in range(900, 960)]
    # Before the change only the max_frames fallback sleeps; right after it, the detector does.
    assert [i for i, slept in enumerate(before) if slept] == [199, 399, 599, 799]
    assert any(after)


@pytest.mark.parametrize("memory_cls", [ReservoirMemory, RecentMemory, ClassBalancedMemory])
def test_memory_stays_bounded_on_a_long_stream(memory_cls):
    memory = memory_cls(capacity=64)
    g = torch.Generator().manual_seed(0)
    for t in range(2000):
        memory.add(torch.rand(5, 3, generator=g), torch.tensor([t % 4] * 5), g)
    assert len(memory) == 64 and memory.frames.shape == (65, 3) and memory.seen == 10_000


def test_class_balanced_memory_keeps_equal_shares_and_resumes_exactly():
    g = torch.Generator().manual_seed(0)
    stream = [(torch.rand(7, 3, generator=g), torch.full((7,), t // 100)) for t in range(500)]
    memory, resumed = ClassBalancedMemory(capacity=60), ClassBalancedMemory(capacity=60)
    draws = torch.Generator().manual_seed(1)
    for x, y in stream[:300]:  # classes 0, 1, 2 arrive one after another
        memory.add(x, y, draws)
    assert torch.bincount(memory.labels[:60]).tolist() == [20, 20, 20]
    resumed.load_state_dict(memory.state_dict())
    draws_copy = torch.Generator().manual_seed(2)
    draws.manual_seed(2)
    for x, y in stream[300:]:  # classes 3 and 4 take their shares from the others
        memory.add(x, y, draws)
        resumed.add(x, y, draws_copy)
    assert torch.bincount(memory.labels[:60]).tolist() == [12] * 5
    assert torch.equal(memory.frames, resumed.frames) and torch.equal(memory.labels, resumed.labels)


def test_learner_memory_is_bounded():
    learner = small(memory_capacity=50, recent_capacity=20, schedule=EveryN(1000))
    x, y = blobs(300, 3, 12)
    for i in range(0, 300, 3):
        learner.observe(x[i : i + 3], y[i : i + 3])
    # capacity rows plus one spare row
    assert learner.memory.frames.shape[0] == 51 and learner.recent.frames.shape[0] == 21


@pytest.mark.parametrize("dreams", [HybridDreams(), LangevinDreams(steps=3)])
def test_unsupervised_dreams_have_frame_shape(dreams):
    learner = small(None, dreams=dreams, schedule=Manual())
    learner.observe(torch.rand(10, 12))
    x, y = dreams.generate(learner.dream_source(), *learner.recall(7))
    assert x.shape == (7, 12) and y is None and bool(torch.isfinite(x).all())


def test_learns_labelled_stream_with_default_awake_sleep_schedule():
    x, y = blobs(3000, 4, 12, seed=1)
    learner = small(4, schedule=EveryN(200))
    for i in range(0, 2500):
        learner.observe(x[i], int(y[i]))
    assert learner.sleeps >= 10
    accuracy = (learner.predict(x[2500:]) == y[2500:]).float().mean().item()
    assert accuracy >= 0.9, accuracy


def test_asleep_readout_learns_only_while_asleep():
    learner = small(schedule=Manual(), readout_learns="asleep", readout_batch=24)
    x, y = blobs(40, 3, 12)
    before = copy.deepcopy(learner.readout.state_dict())
    learner.observe(x, y)
    assert all(torch.equal(v, learner.readout.state_dict()[k]) for k, v in before.items())
    batches = []
    step = learner.readout.step
    learner.readout.step = lambda features, y, **kw: batches.append(len(y)) or step(features, y)
    learner.sleep()
    assert not torch.equal(before["linear.weight"], learner.readout.linear.weight)
    assert batches == [24]  # one step per awake update, of readout_batch memories


def test_asleep_readout_keeps_old_classes_between_sleeps():
    # Two tasks of two classes; the test comes 50 frames into an awake phase of the second.
    # Mean of three seeds: one toy run swings by +-0.1.
    x, y = blobs(6000, 4, 12, seed=1, spread=1.0)
    old = torch.nonzero(y[:4000] < 2).flatten()[:1000]
    new = torch.nonzero(y[:4000] >= 2).flatten()[:1050]
    test = 4000 + torch.nonzero(y[4000:] < 2).flatten()
    accuracy = {"always": 0.0, "asleep": 0.0}
    for mode, seed in itertools.product(accuracy, range(3)):
        learner = small(
            4,
            schedule=EveryN(100),
            memory_capacity=200,
            recent_capacity=100,
            readout_learns=mode,
            seed=seed,
        )
        for idx in torch.cat([old, new]).split(10):
            learner.observe(x[idx], y[idx])
        accuracy[mode] += (learner.predict(x[test]) == y[test]).float().mean().item() / 3
    assert accuracy["asleep"] >= 0.75, accuracy
    assert accuracy["asleep"] > accuracy["always"] + 0.1, accuracy


@pytest.mark.parametrize("goodness_layers", ["all", "above-first"])
def test_goodness_prediction_sums_the_chosen_layers_per_label(goodness_layers):
    x, y = blobs(60, 3, 12)
    learner = small(predict_with="goodness", goodness_layers=goodness_layers)
    for i in range(60):
        learner.observe(x[i], int(y[i]))
    frames = x[:5]
    units = learner.standardizer(frames)  # the core's goodness reads standardised frames
    per_label = torch.stack([learner.goodness_of(units, torch.full((5,), c)) for c in range(3)])
    first = 0 if goodness_layers == "all" else 1
    expected = per_label[:, :, first:].sum(2).T  # (frames, labels)
    assert torch.allclose(learner.class_scores(frames), expected)
    assert torch.equal(learner.predict(frames), expected.argmax(1))


@pytest.mark.parametrize("share, long_term", [(0.0, 0), (0.5, 4), (0.75, 6), (1.0, 8)])
def test_recall_draws_the_long_term_share_from_the_long_term_memory(share, long_term):
    learner = small(long_term_share=share)
    old, new = torch.zeros(5, 12), torch.ones(5, 12)
    learner.memory.add(old, torch.zeros(5, dtype=torch.long), learner.generator)
    learner.recent.add(new, torch.ones(5, dtype=torch.long), learner.generator)
    x, y = learner.recall(8)
    assert x.shape == (8, 12) and int((x[:, 0] == 0).sum()) == long_term
    assert torch.equal(y, x[:, 0].long())  # each frame keeps its label
    learner.recent.clear()  # nothing recent: all from the long-term memory, whatever the share
    assert bool((learner.recall(8)[0] == 0).all())


def test_unknown_readout_mode_is_refused():
    with pytest.raises(ValueError, match="goodness_layers"):
        small(predict_with="goodness", goodness_layers="first")
    with pytest.raises(ValueError, match="readout_learns"):
        small(readout_learns="never")
    with pytest.raises(ValueError, match="needs a schedule that sleeps"):
        small(readout_learns="asleep", schedule=Interleaved())
    with pytest.raises(ValueError, match="sleep_batch"):
        small(sleep_batch=0)
    for share in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="long_term_share"):
            small(long_term_share=share)
    with pytest.raises(ValueError, match="readout_batch must be at least 1"):
        small(readout_learns="asleep", readout_batch=0)
    with pytest.raises(ValueError, match="needs readout_learns='asleep'"):
        small(readout_batch=16)


@pytest.mark.parametrize("readout_learns", ["always", "asleep"])
def test_replay_shift_moves_what_sleep_replays_and_keeps_the_memory(readout_learns):
    learner = small(
        in_features=(4, 5),
        schedule=Manual(),
        replay_shift=1,
        sleep_batch=16,
        readout_learns=readout_learns,
    )
    x, y = blobs(40, 3, 20)
    learner.observe(x.view(40, 4, 5), y)
    stored = learner.memory.frames[: len(learner.memory)].clone()
    replayed, read = [], []  # FF positives; frames read with the neutral label (readout, dreams)
    step, neutral = learner.net.step, learner.encoding.neutral
    learner.net.step = lambda pos, neg, **kw: replayed.append(pos[:, :20]) or step(pos, neg, **kw)
    learner.encoding.neutral = lambda frames: read.append(frames) or neutral(frames)
    learner.sleep(steps=3)
    assert torch.equal(learner.memory.frames[: len(learner.memory)], stored)
    assert len(torch.cat(replayed)) == 3 * 16 and len(torch.cat(read)) >= 3 * 16
    for frames in (torch.cat(replayed), torch.cat(read)):
        moved, unmoved = is_moved_copy(frames, stored, (4, 5))
        assert bool(moved.all())  # every frame is a memory moved by at most one pixel
        assert int(unmoved.sum()) < 16  # and most of them did move


def test_replay_shift_needs_image_frames():
    with pytest.raises(ValueError, match="replay_shift needs image frames"):
        small(replay_shift=1)
    with pytest.raises(ValueError, match="non-negative int"):
        small(in_features=(3, 4), replay_shift=-1)


# ---------------------------------------------------------------------------- weight average
def _learn_blobs(learner, n=150):
    x, y = blobs(n, 3, 12)
    predictions = [learner.observe(x[i : i + 5], y[i : i + 5]).prediction for i in range(0, n, 5)]
    return x, torch.cat(predictions)


@pytest.mark.parametrize("schedule", [EveryN(40), OnDrift(drift.ADWIN(), max_frames=60)])
def test_weight_average_predicts_and_never_feeds_back_into_learning(schedule):
    averaged = small(schedule=copy.deepcopy(schedule), ema_decay=0.9, ema_fallback_window=None)
    latest = small(schedule=copy.deepcopy(schedule), ema_decay=None)
    x, reported = _learn_blobs(averaged)
    _, latest_reported = _learn_blobs(latest)
    assert averaged.sleeps == latest.sleeps > 0
    _same(_snapshot(averaged) | {"averaged": {}}, _snapshot(latest))  # learning is unchanged
    # What predicts is the average: the latest weights, given the average's values, agree.
    modules = averaged.averaged.module
    latest.net.load_state_dict(modules["net"].state_dict())
    latest.readout.load_state_dict(modules["readout"].state_dict())
    assert torch.equal(averaged.class_scores(x), latest.class_scores(x))
    assert torch.equal(averaged.score(x), latest.score(x))
    assert not torch.equal(
        modules["net"].layers[0].transform.weight, averaged.net.layers[0].transform.weight
    )
    assert not torch.equal(reported, latest_reported)  # observe() reports the average's guess


def test_unlabelled_learner_scores_novelty_with_the_weight_average():
    x = torch.rand(60, 12, generator=torch.Generator().manual_seed(0))
    averaged, latest = small(None, ema_decay=0.9), small(None, ema_decay=None)
    for learner in (averaged, latest):
        for i in range(0, 60, 5):
            learner.observe(x[i : i + 5])
    live = averaged.net.state_dict()
    assert all(torch.equal(v, latest.net.state_dict()[k]) for k, v in live.items())
    assert not torch.equal(averaged.score(x), latest.score(x))
    latest.net.load_state_dict(averaged.averaged.module["net"].state_dict())
    assert torch.equal(averaged.score(x), latest.score(x))


def test_weight_average_follows_every_awake_and_sleep_step():
    learner = small(schedule=EveryN(40), ema_decay=0.0)  # decay 0: the average is a copy
    _learn_blobs(learner)
    awake, asleep = 150 // 5, 3 * (40 // 5)  # three full sleeps of 8 steps each
    assert int(learner.averaged.n_averaged) == awake + asleep
    for name, value in learner.averaged.module["net"].state_dict().items():
        if not name.endswith("mean_activity"):  # a training statistic, never averaged
            assert torch.equal(value, learner.net.state_dict()[name]), name


@pytest.mark.parametrize("ema_decay", [-0.1, 1.0, float("nan")])
def test_bad_ema_decay_is_refused(ema_decay):
    with pytest.raises(ValueError, match="ema_decay"):
        small(ema_decay=ema_decay)


def test_weight_average_steps_aside_after_a_change_and_predicts_again_when_level():
    learner = small(schedule=EveryN(40), ema_decay=0.99, ema_fallback_window=20)
    x, y = blobs(1200, 3, 12)
    for i in range(0, 300, 5):
        learner.observe(x[i : i + 5], y[i : i + 5])
    assert learner.averaged.trusted  # a still stream: the average is not behind, and predicts
    assert not torch.equal(learner.class_scores(x), learner.class_scores(x, latest=True))
    flipped = (y + 1) % 3  # the concept changes: every class takes the next one's place
    trusted = []
    for i in range(300, 1200, 5):
        learner.observe(x[i : i + 5], flipped[i : i + 5])
        trusted.append(learner.averaged.trusted)
        if not trusted[-1]:  # what it predicts then is the weights that learn
            assert torch.equal(learner.class_scores(x), learner.class_scores(x, latest=True))
    assert not all(trusted)  # it stepped aside after the change
    assert trusted[-1]  # and the average, caught up, predicts again


def test_weight_average_without_fallback_always_predicts():
    learner = small(ema_decay=0.99, ema_fallback_window=None)
    x, y = blobs(200, 3, 12)
    for i in range(0, 200, 5):
        learner.observe(x[i : i + 5], (y[i : i + 5] + i // 100) % 3)
    assert learner.averaged.trusted and float(learner.averaged.live_lead) == 0.0


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_a_copied_learners_average_follows_its_own_weights(duplicate):
    learner = small(ema_decay=0.0, ema_fallback_window=None)  # decay 0: the average is a copy
    x, y = blobs(60, 3, 12)
    learner.observe(x[:30], y[:30])
    before = [p.clone() for p in learner.averaged.module.parameters()]
    twin = duplicate(learner)
    twin.observe(x[30:], y[30:])
    for mine, live in zip(twin.averaged.module.parameters(), twin._learning.parameters()):
        assert torch.equal(mine, live)  # the twin's own weights, not the original's
    assert all(map(torch.equal, before, learner.averaged.module.parameters()))


def test_the_average_follows_weights_that_were_replaced():
    learner = small(ema_decay=0.0, ema_fallback_window=None)
    x, y = blobs(60, 3, 12)
    learner.observe(x[:30], y[:30])
    fresh = {k: v.clone() + 1.0 for k, v in learner._learning.state_dict().items()}
    learner._learning.load_state_dict(fresh, assign=True)  # new tensors in every module
    learner.observe(x[30:], y[30:])
    for mine, live in zip(learner.averaged.module.parameters(), learner._learning.parameters()):
        assert torch.equal(mine, live)


def test_the_average_is_judged_by_one_rule_on_floats_and_tensors():
    # FFClassifier keeps its score in a float, the learner core in a tensor beside the weights
    lead, lead_tensor = 0.0, torch.zeros(())
    for gap, frames in [(1.0, 3), (0.0, 1), (-0.5, 4), (0.25, 2)]:
        lead = lead_after(lead, gap, frames, window=20)
        lead_tensor = lead_after(lead_tensor, torch.tensor(gap), frames, window=20)
        assert float(lead_tensor) == pytest.approx(lead, rel=1e-6)
        assert bool(trusts(lead_tensor, 20)) == trusts(lead, 20)
    assert not trusts(0.05, 20) and trusts(0.04, 20)  # a frame's lead in 20 is too much


@pytest.mark.parametrize("window", [0, -5, 2.5, "500"])
def test_bad_ema_fallback_window_is_refused(window):
    with pytest.raises(ValueError, match="ema_fallback_window"):
        small(ema_decay=0.9, ema_fallback_window=window)


def test_balanced_memory_gives_late_classes_their_share():
    learner = small(4, schedule=Manual(), memory_capacity=40, balanced_memory=True)
    x, y = blobs(400, 4, 12)
    for idx in torch.argsort(y, stable=True).split(10):  # class 0 first, class 3 last
        learner.observe(x[idx], y[idx])
    counts = torch.bincount(learner.memory.labels[: len(learner.memory)], minlength=4)
    assert counts.tolist() == [10, 10, 10, 10]
    with pytest.raises(ValueError, match="balanced_memory needs labels"):
        small(None, balanced_memory=True)


def test_novelty_is_higher_for_unfamiliar_frames():
    learner = small(None, schedule=EveryN(100))
    g = torch.Generator().manual_seed(0)
    normal = lambda n: torch.rand(n, 12, generator=g) * torch.linspace(0, 1, 12)  # noqa: E731
    for _ in range(300):
        learner.observe(normal(4))
    familiar = learner.score(normal(200)).mean()
    strange = learner.score(torch.rand(200, 12, generator=g) * torch.linspace(1, 0, 12)).mean()
    assert strange > familiar


def _snapshot(learner):
    return copy.deepcopy(
        {
            "net": learner.net.state_dict(),
            "opt": str(learner.net.optimizer.state_dict()),
            "memory": learner.memory.state_dict(),
            "recent": learner.recent.state_dict(),
            "readout": {} if learner.readout is None else learner.readout.state_dict(),
            "averaged": {} if learner.averaged is None else learner.averaged.state_dict(),
            "frames": learner.frames_seen,
        }
    )


def _same(a, b):
    assert a["averaged"].keys() == b["averaged"].keys()
    for key in ("net", "readout", "averaged"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), name
    assert a["opt"] == b["opt"] and a["frames"] == b["frames"]
    for key in ("memory", "recent"):
        assert torch.equal(a[key]["frames"], b[key]["frames"]) and a[key]["size"] == b[key]["size"]


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([float("nan")] + [0.0] * 11, 0, "NaN or Inf"),
        ([float("inf")] * 12, 0, "NaN or Inf"),
        ([3e38, 3e38, float("-inf")] + [0.0] * 9, 0, "NaN or Inf"),
        (torch.ones(1, 12), -1, "outside"),
        ([0.0] * 11, 0, "shape"),
        (torch.ones(2, 13), [0, 1], "shape"),
        (torch.ones(1, 12, dtype=torch.int64), 0, "dtype"),
        (torch.ones(0, 12), [], "empty"),
        (torch.ones(1, 12), 7, "outside"),
        (torch.ones(2, 12), [0, 1, 2], "labels for a batch"),
        ("abc", 0, "strings"),
        (torch.ones(1, 12), None, "give the labels"),
    ],
)
def test_bad_input_raises_and_leaves_state_unchanged(x, y, message):
    learner = small()
    data, labels = blobs(30, 3, 12)
    learner.observe(data, labels)
    before = _snapshot(learner)
    with pytest.raises(ValueError, match=message):
        learner.observe(x, y)
    _same(before, _snapshot(learner))
    learner.observe(data[:2], labels[:2])  # the stream goes on


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"readout_learns": "asleep", "balanced_memory": True, "memory_capacity": 40},
        {"in_features": (3, 4), "replay_shift": 1},
        {"ema_decay": 0.9},
        {"predict_with": "goodness", "goodness_layers": "all", "long_term_share": 0.75},
    ],
)
def test_checkpoint_resume_is_bit_identical(tmp_path, options):
    x, y = blobs(200, 3, 12)
    a = small(schedule=EveryN(30), **options)
    x = x.view(len(x), *a.frame_shape)
    for i in range(100):
        a.observe(x[i], int(y[i]))
    a.save(tmp_path / "learner.ckpt")
    b = StreamLearner.load(tmp_path / "learner.ckpt", device="cpu")
    assert b.replay_shift == a.replay_shift and b.frame_shape == a.frame_shape
    assert b.config == a.config and b.goodness_layers == a.goodness_layers
    for i in range(100, 200):
        out_a, out_b = a.observe(x[i], int(y[i])), b.observe(x[i], int(y[i]))
        assert torch.equal(out_a.goodness, out_b.goodness) and out_a.slept == out_b.slept
        assert torch.equal(out_a.prediction, out_b.prediction)
    _same(_snapshot(a), _snapshot(b))


def test_checkpoint_keeps_drift_detector_state(tmp_path):
    a = small(None, schedule=OnDrift(drift.ADWIN(), steps=1))
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        a.observe(torch.rand(1, 12, generator=g))
    a.save(tmp_path / "c.ckpt")
    b = StreamLearner.load(tmp_path / "c.ckpt", device="cpu")
    assert b.schedule.detector._helper.get_width() == a.schedule.detector._helper.get_width() > 0


def test_malicious_checkpoint_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.ckpt"
    torch.save({"format": "ffstream.StreamLearner/1", "payload": Exploit()}, path)
    with pytest.raises(ValueError, match="refused"):
        StreamLearner.load(path)
    assert not marker.exists()


def test_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        StreamLearner.load(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        StreamLearner.load(tmp_path / "junk.ckpt")


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    learner = small()
    path = tmp_path / "l.ckpt"
    learner.save(path)
    good = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", boom)
    with pytest.raises(OSError):
        learner.save(path)
    assert path.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == ["l.ckpt"]


def test_custom_dreams_must_be_passed_again_on_load(tmp_path):
    learner = small(dreams=CallableDreams(lambda x, y, g: x))
    learner.save(tmp_path / "c.ckpt")
    with pytest.raises(ValueError, match="custom"):
        StreamLearner.load(tmp_path / "c.ckpt")
    again = StreamLearner.load(tmp_path / "c.ckpt", dreams=CallableDreams(lambda x, y, g: x))
    assert isinstance(again.dreams, CallableDreams)


def test_reservoir_is_the_same_frame_by_frame_or_in_batches():
    one, many = ReservoirMemory(50), ReservoirMemory(50)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    frames = torch.arange(1000.0).view(1000, 1)
    for t in range(1000):
        one.add(frames[t : t + 1], None, g1)
    for t in range(0, 1000, 100):  # batches above the small-batch fast path
        many.add(frames[t : t + 100], None, g2)
    assert torch.equal(one.frames[:50], many.frames[:50])
    # uniform over the whole stream, not just its start
    assert 300 < one.frames[:50].mean() < 700


def test_recent_memory_keeps_the_newest_frames_of_a_large_batch():
    memory = RecentMemory(capacity=4)
    memory.add(torch.arange(10.0).view(10, 1), None, torch.Generator())
    assert sorted(memory.frames[:4].view(-1).tolist()) == [6.0, 7.0, 8.0, 9.0]


def test_huge_finite_frames_are_accepted_while_each_can_be_normalised():
    """A batch whose sum of squares overflows float32 is learned from if no frame's does.

    (A frame whose own sum of squares overflows is refused: tests/test_learner_safety.py.)
    """
    learner = small()
    out = learner.observe(torch.full((100, 12), 1.5e18), torch.zeros(100, dtype=torch.long))
    assert learner.frames_seen == 100 and out.prediction.shape == (100,)


def _dream_source(second_memory: torch.Tensor) -> DreamSource:
    return DreamSource(
        generator=torch.Generator().manual_seed(0),
        frame_shape=second_memory.shape,
        num_classes=None,
        recall=lambda n: (second_memory.expand(n, -1), None),
        class_scores=None,
        goodness=None,
    )


def test_magnified_hybrid_dreams_are_hybrids_scaled_up_within_bounds():
    first = torch.ones(200, 6)
    plain, _ = HybridDreams().generate(_dream_source(2.0 * torch.ones(6)), first, None)
    assert set(plain.unique().tolist()) == {1.0, 2.0}  # each value from one of the two
    source = _dream_source(torch.ones(6))  # both memories all ones: a dream is its scale
    dreams, _ = HybridDreams(magnify=0.5).generate(source, first, None)
    scale = dreams[:, 0]
    assert torch.equal(dreams, scale[:, None].expand(-1, 6))
    magnified = scale != 1.0
    assert 60 < int(magnified.sum()) < 140  # about half
    assert bool(((scale[magnified] > 1.64) & (scale[magnified] < 7.39)).all())  # exp(U(.5, 2))
    with pytest.raises(ValueError, match="magnify"):
        HybridDreams(magnify=1.5)


def test_a_memory_widened_by_new_features_pads_its_frames_with_zeros():
    memory = RecentMemory(3)
    memory.add(torch.ones(2, 2), None, torch.Generator())
    memory.widen(2)
    assert memory.frames[:2].tolist() == [[1.0, 1.0, 0.0, 0.0]] * 2
    memory.add(torch.full((1, 4), 5.0), None, torch.Generator())
    assert len(memory) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_weight_average_keeps_score_beside_the_weights_on_a_gpu():
    learner = small(device="cuda", ema_decay=0.99, ema_fallback_window=20)
    x, y = blobs(40, 3, 12)
    seen = learner.observe(x, y)
    assert learner.averaged.live_lead.device.type == "cuda"
    assert seen.prediction.device.type == "cuda"
