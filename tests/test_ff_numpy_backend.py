"""FFNet's NumPy backend computes what its torch path computes, on the torch tensors themselves."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_same_stats
from torch import nn

from ffstream.ff import FFConv2d, FFLinear, FFNet, Goodness, Logistic, _numpy
from ffstream.ff._numpy import softmax_minus_onehot, wrong_label_belief
from ffstream.ff.negatives import hard_wrong_labels
from ffstream.stream import EveryN, StreamLearner


def twins(sizes=(7, 12, 10, 6), **kwargs):
    """Two identical nets: one on the NumPy backend, one forced onto torch's closed form."""
    fast = FFNet.mlp(list(sizes), seed=3, lr=0.01, **kwargs)
    slow = copy.deepcopy(fast)
    slow._numpy = False
    return fast, slow


def batches(phases, steps=6, seed=0, width=7):
    g = torch.Generator().manual_seed(seed)
    for i in range(steps):
        n_pos, n_neg = (1, 1) if i < 2 else (1 + i % 3, 2 + i % 2)  # batch 1, unequal phases
        pos = torch.randn(n_pos, width, generator=g) * 2 if "pos" in phases else None
        neg = torch.randn(n_neg, width, generator=g) if "neg" in phases else None
        yield pos, neg


@pytest.fixture
def numpy_steps(monkeypatch):
    """How many steps the NumPy backend took (and did not decline)."""
    taken = []
    real = _numpy.step

    def spy(*args):
        out = real(*args)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(_numpy, "step", spy)
    return taken


def assert_same_nets(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, msg=name)  # weights, biases and peer running means
    state_a, state_b = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert state_a["param_groups"] == state_b["param_groups"]
    assert str(_layout(state_a)) == str(_layout(state_b))  # keys, order, dtypes, shapes
    torch.testing.assert_close(state_a["state"], state_b["state"])


def _layout(state_dict):
    return {
        i: [(k, v.dtype, tuple(v.shape)) for k, v in s.items()]
        for i, s in state_dict["state"].items()
    }


SETTINGS = {
    "adam-sum": {},
    "adam-mean-T0.5": {"goodness": Goodness("mean"), "objective": Logistic(temperature=0.5)},
    "sgd-nopeer-T2": {"peer_norm": 0.0, "optimizer": "sgd", "objective": Logistic(2.0)},
    "sgd0-wd-mean": {
        "optimizer": "sgd",
        "momentum": 0.0,
        "weight_decay": 0.01,
        "peer_norm": 0.1,
        "goodness": Goodness("mean"),
    },  # fmt: skip
    "adamw-wd-theta3": {
        "optimizer": "adamw",
        "weight_decay": 0.01,
        "goodness": Goodness("sum", threshold=3.0),
    },  # fmt: skip
    "adam-wd-mixed-T": {
        "weight_decay": 0.02,
        "objective": [Logistic(), Logistic(0.3), Logistic(4.0)],
    },  # fmt: skip
    "sgd-nesterov-raw": {"optimizer": "sgd", "normalize_input": False},
}


@pytest.mark.parametrize("phases", [("pos",), ("neg",), ("pos", "neg")])
@pytest.mark.parametrize("name", list(SETTINGS))
def test_numpy_steps_equal_torch_steps(name, phases, numpy_steps):
    fast, slow = twins(**SETTINGS[name])
    if name == "sgd-nesterov-raw":
        for nets in (fast, slow):
            for group in nets.optimizer.param_groups:
                group["nesterov"], group["dampening"] = True, 0.0
    for pos, neg in batches(phases):
        assert_same_stats(fast.step(pos=pos, neg=neg), slow.step(pos=pos, neg=neg))
    assert numpy_steps == [True] * 6  # the slow net never asked
    assert_same_nets(fast, slow)
    moved = FFNet.mlp([7, 12, 10, 6], seed=3).state_dict()["layers.1.transform.weight"]
    assert not torch.equal(moved, fast.layers[1].transform.weight)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("sizes", [(7, 12, 10, 6), (7, 5)])
def test_numpy_goodness_and_features_equal_torch(reduction, sizes):
    fast, slow = twins(sizes, goodness=Goodness(reduction))
    for pos, neg in batches(("pos", "neg"), steps=3):
        fast.step(pos, neg)
        slow.step(pos, neg)
    x = torch.randn(9, 7) * 3
    for skip_first in (True, False):
        got = fast.features(x, skip_first=skip_first)
        assert got.dtype == torch.float32 and not got.requires_grad
        torch.testing.assert_close(got, slow.features(x, skip_first=skip_first))
    torch.testing.assert_close(fast.goodness(x), slow.goodness(x))
    torch.testing.assert_close(fast.goodness(x[:1]), slow.goodness(x[:1]))


def test_optimizer_state_made_by_numpy_loads_into_a_torch_net_and_continues_identically():
    fast, _ = twins()
    for pos, neg in batches(("pos", "neg"), steps=3):
        fast.step(pos, neg)
    torch_net = FFNet.mlp([7, 12, 10, 6], seed=99, lr=0.01)
    torch_net._numpy = False
    torch_net.load_state_dict(fast.state_dict())
    # (deep copies: a loaded optimizer state shares the tensors of the dict it was given)
    torch_net.optimizer.load_state_dict(copy.deepcopy(fast.optimizer.state_dict()))
    continued = copy.deepcopy(fast)  # on the NumPy backend still
    reference = copy.deepcopy(torch_net)
    for pos, neg in batches(("pos", "neg"), steps=3, seed=1):
        torch_net.step(pos, neg)
        reference.step(pos, neg)
        continued.step(pos, neg)
    assert_same_nets(torch_net, reference)
    assert_same_nets(continued, torch_net)
    # and back: NumPy picks up the state torch replaced, rebuilding its views
    fast.optimizer.load_state_dict(copy.deepcopy(torch_net.optimizer.state_dict()))
    fast.load_state_dict(torch_net.state_dict())
    for pos, neg in batches(("pos",), steps=2, seed=2):
        fast.step(pos, neg)
        torch_net.step(pos, neg)
    assert_same_nets(fast, torch_net)


def test_numpy_updates_the_torch_tensors_in_place():
    net, _ = twins()
    weight = net.layers[0].transform.weight
    pointer, version = weight.data_ptr(), weight._version
    before = weight.detach().clone()
    net.step(torch.randn(2, 7))
    assert weight.data_ptr() == pointer and weight._version > version
    assert not torch.equal(before, weight)
    state = net.optimizer.state[weight]
    assert state["step"].dtype == torch.float32 and state["step"].shape == () and state["step"] == 1
    graph = net.goodness_with_grad(torch.randn(2, 7, requires_grad=True)).sum()
    net.step(torch.randn(2, 7))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        graph.backward()  # autograd still sees the in-place update


def test_numpy_follows_a_net_moved_to_other_tensors(numpy_steps):
    net, slow = twins()
    net.step(torch.randn(1, 7))
    net.to(torch.float64).to(torch.float32)  # new storage: views must be rebuilt
    slow.load_state_dict(net.state_dict())
    slow.optimizer.load_state_dict(copy.deepcopy(net.optimizer.state_dict()))
    x = torch.randn(3, 7)
    net.step(x)
    slow.step(x)
    assert numpy_steps == [True, True]
    assert_same_nets(net, slow)


def test_torch_runs_where_numpy_must_not(numpy_steps):
    double = FFNet.mlp([5, 8], seed=0, dtype=torch.float64)
    double.step(torch.randn(2, 5, dtype=torch.float64))
    conv = FFNet([FFConv2d(1, 4, 3), FFLinear(4 * 4 * 4, 3)])
    assert _numpy.goodness(conv, torch.randn(2, 1, 4, 4)) is None
    wide = FFNet.mlp([20, 64], seed=0)
    rows = _numpy.SINGLE_THREAD_WORK // (20 * 64) + 1  # one product too big for one thread
    wide.step(torch.randn(rows, 20))
    assert _numpy.features(wide, torch.randn(rows, 20), True) is None
    assert _numpy.features(wide, torch.randn(rows - 1, 20), True) is not None
    many = FFNet.mlp([8] * 21, seed=0)  # small products, much work in all
    rows = _numpy.MAX_WORK // (20 * 8 * 8)
    assert _numpy.features(many, torch.randn(rows + 1, 8), True) is None
    assert _numpy.features(many, torch.randn(rows, 8), True) is not None
    assert numpy_steps == [False, False]

    hooked, seen = FFNet.mlp([5, 8], seed=0), []
    hooked.layers[0].transform.register_forward_hook(lambda *args: seen.append("forward"))
    hooked.features(torch.randn(2, 5))
    hooked.step(torch.randn(2, 5))  # the closed form declines hooks: autograd calls them
    assert seen == ["forward", "forward"]
    stepped, steps = FFNet.mlp([5, 8], seed=0), []
    stepped.optimizer.register_step_post_hook(lambda *args: steps.append(1))
    stepped.step(torch.randn(2, 5))
    assert steps == [1]
    unfused = FFNet.mlp([5, 8], seed=0)
    unfused.optimizer.param_groups[0]["fused"] = None  # as a foreach-era checkpoint loads
    unfused.step(torch.randn(2, 5))
    assert numpy_steps == [False] * 5


def test_a_stream_learner_learns_the_same_on_either_backend(monkeypatch):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 6, generator=g)
    y = (x @ torch.randn(6, 3, generator=g)).argmax(1)
    runs = []
    for on in (True, False):
        monkeypatch.setattr(FFNet, "_numpy", on)
        learner = StreamLearner(
            in_features=6, num_classes=3, hidden=(16, 16), seed=0, device="cpu", schedule=EveryN(50)
        )
        seen = [learner.observe(x[i : i + 1], y[i : i + 1]).prediction for i in range(300)]
        runs.append((torch.cat(seen), learner.net.state_dict(), learner))
    (pred_a, state_a, a), (pred_b, state_b, b) = runs
    assert (pred_a == pred_b).float().mean() >= 0.99  # float rounding may flip a near tie
    assert a.sleeps == b.sleeps > 0
    for (name, p), q in zip(state_a.items(), state_b.values()):
        torch.testing.assert_close(p, q, atol=1e-4, rtol=1e-4, msg=name)


def test_hooks_registered_on_all_modules_send_every_net_to_torch():
    net, seen = FFNet.mlp([5, 8], seed=0), []
    handle = nn.modules.module.register_module_forward_hook(lambda *args: seen.append(1))
    try:
        net.goodness(torch.randn(2, 5))
    finally:
        handle.remove()
    assert seen


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"momentum": 0.0},
        {"weight_decay": 0.0},
        {"momentum": 0.5, "weight_decay": 0.01},
    ],
)
@pytest.mark.parametrize("with_logits", [False, True])
def test_readout_numpy_step_matches_torch_sgd(monkeypatch, options, with_logits):
    import copy

    import ffstream.ff.readout as readout_module
    from ffstream.ff import LinearReadout

    generator = torch.Generator().manual_seed(0)
    fast = LinearReadout(12, 4, lr=0.05, **options)
    with torch.no_grad():
        fast.linear.weight.normal_(generator=generator)
    slow = copy.deepcopy(fast)
    for i in range(12):
        features = torch.randn(3 if i % 2 else 1, 12, generator=generator)
        y = torch.randint(0, 4, (features.shape[0],), generator=generator)
        logits_fast = fast(features) if with_logits else None
        logits_slow = slow(features) if with_logits else None
        loss_fast = fast.step(features, y, logits=logits_fast)
        monkeypatch.setattr(readout_module, "_NUMPY_WORK", -1)  # the torch path
        loss_slow = slow.step(features, y, logits=logits_slow)
        monkeypatch.undo()
        torch.testing.assert_close(loss_fast, loss_slow)
    for a, b in zip(fast.parameters(), slow.parameters()):
        torch.testing.assert_close(a, b)
        state_a, state_b = fast.optimizer.state[a], slow.optimizer.state[b]
        assert state_a.keys() == state_b.keys()
        for key in state_a:
            torch.testing.assert_close(state_a[key], state_b[key])


def test_softmax_minus_onehot_is_the_cross_entropy_gradient_per_row_and_batch():
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    labels = torch.tensor([0, 3, 1, 1, 2])
    leaf = logits.clone().requires_grad_(True)
    loss = F.cross_entropy(leaf, labels, reduction="sum")
    loss.backward()
    grad, per_row = softmax_minus_onehot(logits.numpy(), labels.numpy())
    np.testing.assert_allclose(grad, leaf.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(per_row.sum(), loss.item(), rtol=1e-12)
    row_grad, row_loss = softmax_minus_onehot(logits[1].numpy(), 3)  # one row, an int label
    np.testing.assert_array_equal(row_grad, grad[1])
    assert row_loss == per_row[1]


def test_wrong_label_belief_is_the_distribution_hard_wrong_labels_draws_from():
    # The river front ends weigh wrong labels by this belief; the core's dreams draw one hard
    # wrong label from it. Same scores: the draws' frequencies approach the belief.
    scores = np.array([2.0, 0.5, -1.0, 1.5])
    belief = wrong_label_belief(scores, 0)
    assert belief[0] == 0.0 and belief.sum() == pytest.approx(1.0)
    n = 40_000
    drawn = hard_wrong_labels(
        torch.from_numpy(scores).float().expand(n, 4),
        torch.zeros(n, dtype=torch.long),
        torch.Generator().manual_seed(0),
    )
    frequencies = np.bincount(drawn.numpy(), minlength=4) / n
    np.testing.assert_allclose(frequencies, belief, atol=0.01)
    batch = wrong_label_belief(np.stack([scores, scores[::-1]]), np.array([0, 2]))
    np.testing.assert_allclose(batch[0], belief)
    assert batch[1, 2] == 0.0
