"""FFNet.step's layer_loss hook: a caller's own local term on a layer's activities."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ffstream.ff import FFLinear, FFNet


def _net(seed: int = 0, heads: bool = True) -> FFNet:
    g = torch.Generator().manual_seed(seed)
    layers = [FFLinear(6, 8, generator=g), FFLinear(8, 8, generator=g), FFLinear(8, 8, generator=g)]
    if heads:
        for layer in layers:
            layer.head = nn.Linear(8, 1)  # before the net: in the layer's optimiser group
    net = FFNet(layers, lr=0.01)
    net._closed_form = False  # the hook's steps run on autograd: compare with the same path
    return net


def _after(net: FFNet, hook=None, **step) -> list[list[torch.Tensor]]:
    """Each layer's parameters after one step of a copy of ``net``; ``hook(copy)`` makes the
    step's ``layer_loss``."""
    net = copy.deepcopy(net)
    net.step(**step, layer_loss=None if hook is None else hook(net))
    return [[p.detach().clone() for p in layer.parameters()] for layer in net.layers]


def _same(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


def test_a_term_on_one_layer_changes_only_that_layers_update():
    net, x = _net(), torch.randn(16, 6, generator=torch.Generator().manual_seed(1))
    target = torch.ones(16)

    def fit_head_1(clone):
        def term(i, h):
            return None if i != 1 else (clone.layers[i].head(h).squeeze(1) - target).square().mean()

        return term

    plain, fitted = _after(net, pos=x), _after(net, fit_head_1, pos=x)
    assert _same(plain[0], fitted[0]) and _same(plain[2], fitted[2])
    assert not torch.equal(plain[1][0], fitted[1][0])  # the layer's weights
    assert not torch.equal(plain[1][-1], fitted[1][-1])  # its head: learned in its group


def test_the_hook_sees_every_layer_and_none_adds_nothing():
    net, x = _net(), torch.randn(8, 6, generator=torch.Generator().manual_seed(2))
    neg = torch.randn(4, 6, generator=torch.Generator().manual_seed(3))
    seen = []

    def record(i, h):
        seen.append((i, tuple(h.shape), h.requires_grad))

    with_hook = _after(net, lambda _: record, pos=x, neg=neg)
    assert [s[0] for s in seen] == [0, 1, 2]
    assert all(shape == (12, 8) and grad for _, shape, grad in seen)  # both phases, graph
    without = _after(net, pos=x, neg=neg)
    assert all(_same(a, b) for a, b in zip(with_hook, without))


def test_a_term_never_reaches_the_layers_below():
    net, x = _net(heads=False), torch.randn(16, 6, generator=torch.Generator().manual_seed(4))
    plain = _after(net, pos=x)
    pushed = _after(net, lambda _: lambda i, h: h.sum() if i == 2 else None, pos=x)
    assert _same(plain[0], pushed[0]) and _same(plain[1], pushed[1])
    assert not _same(plain[2], pushed[2])


def test_a_step_with_a_term_leaves_the_fast_paths():
    net = FFNet.mlp([6, 8, 8], seed=0)  # the closed form (and NumPy) would apply
    calls = []
    net.step(pos=torch.randn(4, 6), layer_loss=lambda i, h: calls.append(i))
    assert calls == [0, 1]
