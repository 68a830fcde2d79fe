"""One versioned checkpoint schema: round trips, old files, corruption, refusals change nothing."""

import copy
import pathlib

import pytest
import torch
from conftest import blobs

from ffstream.stream import EveryN, SequenceLearner, StreamLearner, reber_strings
from ffstream.stream.checkpoint import FORMAT, VERSION, checksum

DATA = pathlib.Path(__file__).parent / "data"


def small(**kw):
    kw.setdefault("hidden", (8, 8))
    kw.setdefault("device", "cpu")
    kw.setdefault("schedule", EveryN(15))
    kw.setdefault("memory_capacity", 20)
    kw.setdefault("recent_capacity", 10)
    return StreamLearner(4, kw.pop("num_classes", 2), **kw)


def trained(n=40, **kw):
    learner = small(**kw)
    x, y = blobs(n, 2, 4)
    for i in range(n):
        learner.observe(x[i], int(y[i]))
    return learner


def tensors(learner):
    """Every tensor and counter of a learner, copied."""
    state = learner.state_dict()["state"]
    return copy.deepcopy(
        {
            **{k: state[k] for k in ("net", "readout", "averaged", "memory", "recent")},
            "net_optimizer": str(state["net_optimizer"]),
            "readout_optimizer": str(state["readout_optimizer"]),
            "schedule_state": state["schedule_state"],
            "generator": state["generator"],
            "counters": state["counters"],
        }
    )


def assert_equal(a, b):
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_equal(a[key], b[key])
    else:
        assert a == b


def continues_alike(a, b, n=30):
    x, y = blobs(n, 2, 4, seed=1)
    for i in range(n):
        out_a, out_b = a.observe(x[i], int(y[i])), b.observe(x[i], int(y[i]))
        assert torch.equal(out_a.goodness, out_b.goodness) and out_a.slept == out_b.slept
        assert torch.equal(out_a.prediction, out_b.prediction)
    assert_equal(tensors(a), tensors(b))


# ---------------------------------------------------------------------------- the schema
def test_file_holds_the_versioned_schema_and_round_trips(tmp_path):
    a = trained(ema_decay=0.9)
    a.save(tmp_path / "a.ckpt")
    data = torch.load(tmp_path / "a.ckpt", weights_only=True)
    assert set(data) == {"format", "version", "kind", "ffstream", "config", "state", "checksum"}
    assert (data["format"], data["version"], data["kind"]) == (FORMAT, VERSION, "StreamLearner")
    assert data["config"] == a.config.to_dict() and "cpu_rng" not in data["state"]
    assert data["checksum"] == checksum({k: v for k, v in data.items() if k != "checksum"})
    b = StreamLearner.load(tmp_path / "a.ckpt", device="cpu")
    assert b.config == a.config
    continues_alike(a, b)


#: settings of every learner written before they existed
BEFORE_0_2 = {"standardize": False, "readout_reads_input": False, "weight_decay": 0.0}


def test_a_file_from_before_the_average_kept_score_predicts_with_its_average(tmp_path):
    a = trained(ema_decay=0.9, ema_fallback_window=None, **BEFORE_0_2)
    payload = a.state_dict()
    del payload["config"]["ema_fallback_window"]  # written before these existed
    del payload["state"]["averaged"]["live_lead"]
    torch.save({**payload, "checksum": checksum(payload)}, tmp_path / "old.ckpt")
    b = StreamLearner.load(tmp_path / "old.ckpt", device="cpu")
    assert b.config.ema_fallback_window is None and b.config == a.config
    continues_alike(a, b)


def test_the_average_s_score_against_the_weights_is_saved(tmp_path):
    a = trained(n=60, ema_decay=0.99, ema_fallback_window=5)
    a.averaged.live_lead.fill_(0.5)  # the weights that learn are well ahead
    a.save(tmp_path / "a.ckpt")
    b = StreamLearner.load(tmp_path / "a.ckpt", device="cpu")
    assert float(b.averaged.live_lead) == 0.5 and not b.averaged.trusted
    continues_alike(a, b)


def test_a_file_of_ffstream_0_1_0_still_loads(tmp_path):
    a = trained(**BEFORE_0_2)
    payload = a.state_dict()
    # ffstream 0.1.0's StreamLearner.save: every state entry at the top level, the config with
    # lists, the process-wide RNG as "cpu_rng", and no checksum.
    old = {
        "format": "ffstream.StreamLearner/1",
        "config": payload["config"],
        **payload["state"],
        "cpu_rng": torch.get_rng_state(),
    }
    torch.save(old, tmp_path / "old.ckpt")
    b = StreamLearner.load(tmp_path / "old.ckpt", device="cpu")
    assert b.config == a.config
    continues_alike(a, b)


def test_a_file_from_before_readout_decay_keeps_the_decay_it_ran_with(tmp_path):
    a = trained(readout_decay=0.003, **BEFORE_0_2)
    payload = a.state_dict()
    for name in ("readout_decay", *BEFORE_0_2):  # written before these settings existed
        del payload["config"][name]
    del payload["state"]["standardizer"]
    old = {"format": "ffstream.StreamLearner/1", "config": payload["config"], **payload["state"]}
    torch.save(old, tmp_path / "old.ckpt")
    b = StreamLearner.load(tmp_path / "old.ckpt", device="cpu")
    assert b.config.readout_decay == 0.003 and b.config == a.config
    continues_alike(a, b)


def test_a_sequence_file_of_ffstream_0_1_0_still_loads(tmp_path):
    # Written by ffstream 0.1.0's SequenceLearner(7, context=3, hidden=(8,), sleep_every=25,
    # memory_capacity=64, recent_capacity=32) after 80 symbols: windows stored as symbol ids.
    path = DATA / "sequence-0.1.0.ckpt"
    old = torch.load(path, weights_only=True)
    b = SequenceLearner.load(path)
    for key, value in old["net"].items():
        assert torch.equal(b.net.state_dict()[key], value), key
    assert (list(b.history), b.symbols_seen, b.sleeps) == (old["history"], 80, 3)
    windows = old["memory"]["frames"][: len(b.memory)]
    assert torch.equal(b.memory.frames[: len(b.memory)], b.encode(windows[:, :-1]))
    assert torch.equal(b.memory.labels[: len(b.memory)], windows[:, -1])
    assert b.core.schedule.state_dict() == {"since": old["counters"]["since_sleep"]}
    stream = [s for string in reber_strings(20, seed=3) for s in string.symbols]
    assert all(p in range(7) for p in b.observe(stream[80:120]))

    old["memory"]["frames"][0, 0] = 9  # a symbol outside the vocabulary: refused, named
    torch.save(old, tmp_path / "bad.ckpt")
    with pytest.raises(ValueError, match="memory.frames"):
        SequenceLearner.load(tmp_path / "bad.ckpt")


@pytest.mark.parametrize(
    ("data", "found"),
    [
        ({"format": "ffstream.Agent/1", "env_steps": 3}, "'ffstream.Agent/1'"),
        ({"format": FORMAT, "version": 2, "kind": "SequenceLearner"}, "'SequenceLearner'"),
        ([1, 2, 3], "a list without a format tag"),
    ],
)
def test_anything_else_is_refused_naming_what_it_holds(tmp_path, data, found):
    torch.save(data, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match=found):
        StreamLearner.load(tmp_path / "other.ckpt")


def test_another_schema_version_is_refused(tmp_path):
    a = small()
    a.save(tmp_path / "a.ckpt")
    data = torch.load(tmp_path / "a.ckpt", weights_only=True)
    data["version"] = 3
    torch.save(data, tmp_path / "v3.ckpt")
    with pytest.raises(ValueError, match="version 3"):
        StreamLearner.load(tmp_path / "v3.ckpt")


# ---------------------------------------------------------------------------- corruption
def test_bit_flipped_files_are_refused_or_load_unchanged(tmp_path):
    a = trained(n=20)
    a.save(tmp_path / "a.ckpt")
    good = (tmp_path / "a.ckpt").read_bytes()
    expected = tensors(a)
    generator = torch.Generator().manual_seed(0)
    positions = torch.randint(0, len(good) * 8, (150,), generator=generator).tolist()
    refused = 0
    for bit in positions:
        flipped = bytearray(good)
        flipped[bit // 8] ^= 1 << (bit % 8)
        (tmp_path / "flipped.ckpt").write_bytes(bytes(flipped))
        try:
            b = StreamLearner.load(tmp_path / "flipped.ckpt", device="cpu")
        except ValueError:
            refused += 1
            continue
        assert_equal(expected, tensors(b))  # a flip that the reader ignores changes nothing
    assert refused > len(positions) // 2


def test_a_changed_weight_fails_the_checksum(tmp_path):
    a = trained(n=20)
    a.save(tmp_path / "a.ckpt")
    data = torch.load(tmp_path / "a.ckpt", weights_only=True)
    weight = data["state"]["net"]["layers.0.transform.weight"]
    weight.view(-1)[0] = torch.nextafter(weight.view(-1)[0], torch.tensor(1e9))
    torch.save(data, tmp_path / "changed.ckpt")
    with pytest.raises(ValueError, match="checksum"):
        StreamLearner.load(tmp_path / "changed.ckpt")


# ------------------------------------------------------------------------ refusals change nothing
def test_a_config_mismatch_leaves_the_learner_untouched(tmp_path):
    trained(lr=5e-4).save(tmp_path / "other.ckpt")
    learner = trained(n=30)
    before = tensors(learner)
    with pytest.raises(ValueError, match=r"another config: lr=0\.0005"):
        learner.load_state_dict(torch.load(tmp_path / "other.ckpt", weights_only=True))
    assert_equal(before, tensors(learner))


@pytest.mark.parametrize(
    ("where", "bad", "message"),
    [
        (("counters", "frames_seen"), -1, "frames_seen"),
        (("memory", "frames"), torch.zeros(21, 5), "memory.frames: shape"),
        (("memory", "size"), 99, "memory: size"),
        (("recent", "labels"), torch.zeros(11), "recent.labels: dtype"),
        (("generator",), torch.zeros(3, dtype=torch.uint8), "generator: shape"),
        (("readout", "linear.weight"), torch.full((2, 12), float("nan")), "NaN"),
        (("net_optimizer", "param_groups", 0, "lr"), 1.0, "lr=1.0"),
        (("standardizer", "count"), 999, "counted more frames"),
        (("standardizer", "var"), -torch.ones(4), "variance is negative"),
    ],
)
def test_a_state_that_does_not_fit_is_refused_before_anything_changes(where, bad, message):
    source = trained(n=30, seed=1)  # same config, other weights: a partial load would show
    payload = source.state_dict()
    payload = {**payload, "state": copy.deepcopy(payload["state"])}
    target = payload["state"]
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = bad
    learner = trained(n=30, seed=1)
    learner.observe([0.5, 0.5, 0.5, 0.5], 0)
    before = tensors(learner)
    with pytest.raises(ValueError, match=message):
        learner.load_state_dict(payload)
    assert_equal(before, tensors(learner))


def test_loading_leaves_the_process_wide_rng_alone(tmp_path):
    trained(seed=None).save(tmp_path / "a.ckpt")
    SequenceLearner(3, context=2, hidden=(8,), seed=None).save(tmp_path / "s.ckpt")
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    StreamLearner.load(tmp_path / "a.ckpt", device="cpu")
    SequenceLearner.load(tmp_path / "s.ckpt")
    assert torch.equal(torch.get_rng_state(), before)


def test_an_unseeded_learner_does_not_reseed_the_process_wide_rng():
    draws = []
    for seed in (None, 0):  # both build the same layers (whose default inits draw globally)
        torch.manual_seed(99)
        small(seed=seed).observe([0.1, 0.2, 0.3, 0.4], 1)
        draws.append(torch.rand(3))
    assert torch.equal(*draws)
