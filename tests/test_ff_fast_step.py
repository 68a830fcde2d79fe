"""FFNet.step's closed-form path computes autograd's update; other nets keep autograd."""

import copy

import pytest
import torch
from conftest import assert_same_stats

from ffstream.ff import (
    ChannelwiseCompetition,
    FFConv2d,
    FFLinear,
    FFNet,
    Goodness,
    Logistic,
    SymBa,
    _fast,
    make_optimizer,
)


def twins(**kwargs):
    """Two identical small nets: one on the torch closed-form path, one forced onto autograd.

    The NumPy backend is off in both (tests/test_ff_numpy_backend.py compares it).
    """
    fast = FFNet.mlp([7, 12, 10, 6], seed=3, lr=0.01, **kwargs)
    fast._numpy = False
    slow = copy.deepcopy(fast)
    slow._closed_form = False
    return fast, slow


def batches(phases, steps=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    for i in range(steps):
        n_pos, n_neg = 1 + i % 3, 2 + i % 2  # batch 1 included, phases of unequal size
        pos = torch.randn(n_pos, 7, generator=g) * 2 if "pos" in phases else None
        neg = torch.randn(n_neg, 7, generator=g) if "neg" in phases else None
        yield pos, neg


def assert_same_nets(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, msg=name)  # weights and peer running means
    state_a, state_b = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert state_a["param_groups"] == state_b["param_groups"]
    torch.testing.assert_close(state_a["state"], state_b["state"])


@pytest.mark.parametrize("phases", [("pos",), ("neg",), ("pos", "neg")])
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"goodness": Goodness("mean"), "objective": Logistic(temperature=0.5)},
        {"peer_norm": 0.0, "optimizer": "sgd", "objective": Logistic(temperature=2.0)},
        {"optimizer": "adamw", "weight_decay": 0.01, "goodness": Goodness("sum", threshold=3.0)},
        {"optimizer": "sgd", "momentum": 0.0, "goodness": Goodness("mean"), "peer_norm": 0.1},
        {"objective": [Logistic(), Logistic(temperature=0.3), Logistic(temperature=4.0)]},
    ],
    ids=["adam-sum", "adam-mean-T0.5", "sgd-nopeer-T2", "adamw-theta3", "sgd0-mean", "mixed-T"],
)
def test_closed_form_updates_equal_autograd(settings, phases, monkeypatch):
    fast, slow = twins(**settings)
    calls = []
    real = _fast.closed_form_grads
    monkeypatch.setattr("ffstream.ff.net.closed_form_grads", lambda *a: calls.append(a) or real(*a))
    for pos, neg in batches(phases):
        assert_same_stats(fast.step(pos=pos, neg=neg), slow.step(pos=pos, neg=neg))
    assert len(calls) == 5  # the fast net took the closed form every step, the slow one never
    assert_same_nets(fast, slow)
    moved = FFNet.mlp([7, 12, 10, 6], seed=3, **settings).state_dict()
    assert not torch.equal(moved["layers.0.transform.weight"], fast.layers[0].transform.weight)


def test_the_closed_form_takes_no_graph_and_keeps_frames_apart_from_weights():
    fast, _ = twins()
    pos = torch.randn(3, 7, requires_grad=True)
    stats = fast.step(pos=pos)
    assert pos.grad is None and not stats.losses.requires_grad
    assert not stats.pos_goodness.requires_grad


def test_closed_form_gradient_is_autograds_gradient():
    """The gradients themselves, before any optimizer touches them."""
    fast, slow = twins(goodness=Goodness("mean"), objective=Logistic(temperature=0.7))
    pos, neg = torch.randn(4, 7), torch.randn(3, 7)
    x = fast._input(torch.cat([pos, neg]))
    _fast.closed_form_grads(fast, x, 4, True, True)
    for p in slow.parameters():
        p.grad = None
    slow.optimizer.step = lambda: None  # keep slow's gradients for the comparison
    slow.step(pos=pos, neg=neg)
    for a, b in zip(fast.parameters(), slow.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_fused_update_is_bit_identical_to_optimizer_step(name, momentum):
    layers = [FFLinear(5, 4, generator=torch.Generator().manual_seed(0)), FFLinear(4, 3)]
    twin = copy.deepcopy(layers)
    a = make_optimizer(layers, name, lr=0.05, momentum=momentum, weight_decay=0.01)
    b = make_optimizer(twin, name, lr=0.05, momentum=momentum, weight_decay=0.01)
    b.param_groups[1]["lr"] = a.param_groups[1]["lr"] = 0.02  # groups of their own settings
    g = torch.Generator().manual_seed(1)
    took = []
    for _ in range(4):
        for p, q in zip(a.param_groups[0]["params"] + a.param_groups[1]["params"],
                        b.param_groups[0]["params"] + b.param_groups[1]["params"]):  # fmt: skip
            p.grad = torch.randn(p.shape, generator=g)
            q.grad = p.grad.clone()
        if not _fast.fused_update(a):
            a.step()
            took.append(False)
        else:
            took.append(True)
        b.step()
    # The first step makes the state (Optimizer.step's job), except for plain SGD, which has none.
    assert took == [name == "sgd" and momentum == 0] + [True] * 3
    for p, q in zip(layers, twin):
        for x, y in zip(p.parameters(), q.parameters()):
            assert torch.equal(x, y)
    assert str(a.state_dict()) == str(b.state_dict())


def test_fused_update_declines_hooks_schedulers_and_unfused_groups():
    def fresh():
        net = FFNet.mlp([4, 3], seed=0)
        net.step(pos=torch.randn(2, 4))  # state exists
        for p in net.parameters():
            p.grad = torch.ones_like(p)
        return net

    assert _fast.fused_update(fresh().optimizer)
    hooked = fresh().optimizer
    hooked.register_step_post_hook(lambda *args: None)
    scheduled = fresh().optimizer
    torch.optim.lr_scheduler.StepLR(scheduled, 1)
    unfused = fresh().optimizer
    unfused.param_groups[0]["fused"] = None  # as loaded from a foreach-era checkpoint
    missing = fresh()
    missing.layers[0].transform.bias.grad = None
    for optimizer in (hooked, scheduled, unfused, missing.optimizer):
        before = copy.deepcopy(optimizer.state_dict())
        assert not _fast.fused_update(optimizer)
        assert str(optimizer.state_dict()) == str(before)


def test_other_layers_and_objectives_keep_autograd(monkeypatch):
    def never(*args):
        raise AssertionError("closed form used where it does not apply")

    monkeypatch.setattr("ffstream.ff.net.closed_form_grads", never)
    conv = FFNet([FFConv2d(1, 4, pool=2), FFConv2d(4, 4)], normalize_input=False)
    conv.step(pos=torch.rand(2, 1, 6, 6), neg=torch.rand(2, 1, 6, 6))
    symba = FFNet.mlp([5, 8, 8], seed=0, objective=SymBa())
    symba.step(pos=torch.randn(3, 5), neg=torch.randn(3, 5))
    cwc = FFNet.mlp([5, 8, 8], seed=0, objective=ChannelwiseCompetition(num_classes=2))
    cwc.step(pos=torch.randn(3, 5), labels=torch.tensor([0, 1, 1]))
    mixed = FFNet.mlp([5, 8, 8], seed=0, objective=[Logistic(), SymBa()])
    mixed.step(pos=torch.randn(3, 5), neg=torch.randn(3, 5))
    plain = FFNet.mlp([5, 8, 8], seed=0)
    assert _fast.closed_form_applies(plain, torch.randn(2, 5))
    plain.layers[1].norm = torch.nn.BatchNorm1d(8)
    assert not _fast.closed_form_applies(plain, torch.randn(2, 5))
    frozen = FFNet.mlp([5, 8], seed=0)
    frozen.layers[0].transform.bias.requires_grad_(False)
    assert not _fast.closed_form_applies(frozen, torch.randn(2, 5))
    assert not _fast.closed_form_applies(FFNet.mlp([5, 8], seed=0), torch.randn(2, 5).double())


def test_closed_form_refuses_a_layer_with_parameters_of_its_own():
    """A layer subclass with a head (the agent's) has gradients the closed form never writes:
    it must take the autograd path, or the optimiser would apply stale head gradients."""
    from torch import nn

    from ffstream.ff import FFLinear, FFNet
    from ffstream.ff._fast import closed_form_applies

    class WithHead(FFLinear):
        def __init__(self, a, b):
            super().__init__(a, b)
            self.head = nn.Linear(b, 2)

    net = FFNet([WithHead(4, 8)])
    assert not closed_form_applies(net, torch.zeros(1, 4))
    assert closed_form_applies(FFNet.mlp([4, 8], seed=0), torch.zeros(1, 4))
