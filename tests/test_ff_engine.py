"""The FF engine: locality, objectives, labels, inference, determinism, bad input."""

import copy

import pytest
import torch
from conftest import blobs

from ffstream.ff import (
    ChannelwiseCompetition,
    FFConv2d,
    FFNet,
    Goodness,
    LinearReadout,
    Logistic,
    OneHotOverlay,
    SpatialPattern,
    SupervisedFF,
    SymBa,
    hard_wrong_labels,
    hybrid_images,
    random_wrong_labels,
    rms_normalize,
    scff_pairs,
)
from ffstream.ff.objectives import Objective


class Scaled(Objective):
    """Wraps an objective and multiplies its loss: a layer that 'shouts'."""

    def __init__(self, inner, factor):
        self.inner, self.factor = inner, factor

    def loss(self, h_pos, h_neg, *, goodness, labels=None):
        return self.factor * self.inner.loss(h_pos, h_neg, goodness=goodness, labels=labels)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("closed_form", [False, True])
def test_no_layer_update_depends_on_another_layers_loss(closed_form):
    base = Logistic()
    quiet = FFNet.mlp([8, 16, 16, 16], seed=0, objective=[base, base, base], peer_norm=0.0)
    # Scaled objectives take the autograd path, other logistic temperatures the closed form.
    louder = (
        [Logistic(0.01), Logistic(50.0)] if closed_form else [Scaled(base, 1e3), Scaled(base, -5)]
    )
    loud = FFNet.mlp([8, 16, 16, 16], seed=0, objective=[base, *louder], peer_norm=0.0)
    quiet._closed_form = closed_form  # both nets on the same path: bit-identical arithmetic
    pos, neg = torch.randn(4, 8), torch.randn(4, 8)
    for _ in range(3):
        quiet.step(pos=pos, neg=neg)
        loud.step(pos=pos, neg=neg)
    # Layer 0 sees only its own loss, so its weights must match bit for bit.
    for a, b in zip(_params(quiet.layers[0]), _params(loud.layers[0])):
        assert torch.equal(a, b)
    # ...while the scaled layers really did learn differently (the test can fail).
    assert not torch.equal(quiet.layers[1].transform.weight, loud.layers[1].transform.weight)


def test_layer_inputs_are_detached_constants():
    net = FFNet.mlp([8, 16, 16], seed=0)
    seen = []
    net.layers[1].transform.register_forward_pre_hook(
        lambda mod, args: seen.append(args[0].requires_grad)
    )
    net.step(pos=torch.randn(3, 8))
    assert seen == [False]


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_positive_raises_and_negative_lowers_goodness(reduction):
    x = torch.rand(16, 10)
    for phase, sign in (("pos", 1), ("neg", -1)):
        net = FFNet.mlp([10, 20, 20], seed=1, goodness=Goodness(reduction), lr=0.01, peer_norm=0)
        before = net.goodness(x)
        for _ in range(10):
            net.step(**{phase: x})
        change = net.goodness(x) - before
        assert bool((sign * change > 0).all()), (phase, change)


def test_logistic_matches_softplus_definition():
    h = torch.tensor([[1.0, 2.0]])  # sum of squares 5, theta 2
    g = Goodness("sum")
    pos = Logistic().loss(h, None, goodness=g)
    neg = Logistic().loss(None, h, goodness=g)
    assert pos.item() == pytest.approx(torch.nn.functional.softplus(torch.tensor(-3.0)).item())
    assert neg.item() == pytest.approx(torch.nn.functional.softplus(torch.tensor(3.0)).item())


def test_symba_needs_pairs_and_prefers_larger_margin():
    g = Goodness("mean")
    small = SymBa().loss(torch.ones(2, 3), torch.ones(2, 3) * 0.9, goodness=g)
    large = SymBa().loss(torch.ones(2, 3) * 2, torch.ones(2, 3) * 0.1, goodness=g)
    assert large < small
    with pytest.raises(ValueError, match="SymBa"):
        SymBa().loss(torch.ones(2, 3), None, goodness=g)


def test_cwc_groups_and_loss_direction():
    cwc = ChannelwiseCompetition(num_classes=2)
    h = torch.tensor([[1.0, 1.0, 0.0, 0.0]], requires_grad=True)
    loss = cwc.loss(h, None, goodness=Goodness(), labels=torch.tensor([1]))
    loss.backward()
    assert h.grad[0, 2:].abs().sum() == 0 or bool((h.grad[0, :2] > 0).all())
    with pytest.raises(ValueError, match="divisible"):
        cwc.group_goodness(torch.ones(1, 3))


def test_one_hot_overlay_and_neutral():
    enc = OneHotOverlay(10)
    x = torch.rand(2, 784)
    out = enc.encode(x, torch.tensor([3, 7]))
    assert out[0, 3] == 1 and out[0, :10].sum() == 1 and out[1, 7] == 1
    assert torch.equal(out[:, 10:], x[:, 10:])
    assert torch.allclose(enc.neutral(x)[:, :10], torch.full((2, 10), 0.1))
    many = enc.all_labels(x)
    assert many.shape == (20, 784) and torch.equal(many[2 * 4 + 1, :10].argmax(), torch.tensor(4))


def test_spatial_label_survives_convolution_but_one_hot_does_not():
    """The seed's failure case: one-hot pixels are lost after conv + pooling."""
    g = torch.Generator().manual_seed(0)
    conv = FFConv2d(1, 16, 3, padding=1, pool=2, generator=g)
    image = torch.rand(1, 1, 28, 28, generator=g)
    spatial = SpatialPattern(10, (1, 28, 28), seed=0)
    onehot = OneHotOverlay(10)

    def changed_positions(encode):
        a, b = (conv(rms_normalize(encode(image, torch.tensor([k])))) for k in (2, 5))
        per_position = (a - b).abs().sum(1) > 1e-3 * a.abs().sum(1).mean()
        return per_position.float().mean().item()

    assert changed_positions(spatial.encode) > 0.9
    assert changed_positions(onehot.encode) < 0.05


def test_scff_pairs_shape_and_errors():
    pos, neg = scff_pairs(torch.randn(5, 3))
    assert torch.equal(pos[:, :3], pos[:, 3:]) and neg.shape == (5, 6)
    with pytest.raises(ValueError, match="two frames"):
        scff_pairs(torch.randn(1, 3))


def test_negative_label_makers():
    y = torch.randint(0, 10, (500,))
    assert bool((random_wrong_labels(y, 10) != y).all())
    scores = torch.randn(500, 10)
    hard = hard_wrong_labels(scores, y)
    assert bool((hard != y).all())
    # A confident belief in one wrong class is what gets sampled.
    scores = torch.zeros(500, 10)
    scores[:, 9] = 20.0
    y = torch.randint(0, 9, (500,))
    assert (hard_wrong_labels(scores, y) == 9).float().mean() > 0.99


def test_hybrid_images_mix_two_frames():
    a, b = torch.ones(4, 784), torch.zeros(4, 784)
    mixed = hybrid_images(a, b, (28, 28))
    frac = mixed.mean(1)
    assert bool(((frac > 0.1) & (frac < 0.9)).all())


@pytest.mark.parametrize("mode", ["goodness", "readout"])
def test_supervised_ff_learns_separable_problem(mode):
    x, y = blobs(600, 4, 20, seed=3)
    model = SupervisedFF(
        FFNet.mlp([20, 64, 64], seed=0, lr=0.01), OneHotOverlay(4), seed=0, readout_lr=0.1
    )
    for _ in range(8):
        for i in range(0, 500, 25):
            model.train_step(x[i : i + 25], y[i : i + 25])
    acc = (model.predict(x[500:], mode) == y[500:]).float().mean().item()
    assert acc >= 0.9, acc


def test_cwc_cnn_learns_without_negatives():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(240, 1, 8, 8)
    y = torch.randint(0, 2, (240,), generator=g)
    x[y == 0, :, :, :4] = 1.0  # class 0: left half bright; class 1: right half
    x[y == 1, :, :, 4:] = 1.0
    x = x + 0.3 * torch.rand(x.shape, generator=g)
    cwc = ChannelwiseCompetition(2)
    net = FFNet(
        [FFConv2d(1, 8, 3, pool=2, generator=g), FFConv2d(8, 8, 3, generator=g)],
        objective=cwc,
        lr=0.01,
    )
    model = SupervisedFF(net, None, readout=False)
    for _ in range(10):
        for i in range(0, 200, 20):
            model.train_step(x[i : i + 20], y[i : i + 20])
    assert (model.predict(x[200:]) == y[200:]).float().mean() >= 0.9


def test_training_is_deterministic_given_seeds():
    x, y = blobs(100, 3, 12)

    def run():
        model = SupervisedFF(FFNet.mlp([12, 16, 16], seed=7), OneHotOverlay(3), seed=7)
        for i in range(0, 100, 10):
            model.train_step(x[i : i + 10], y[i : i + 10])
        return _params(model)

    for a, b in zip(run(), run()):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (torch.full((2, 6), float("nan")), "NaN or Inf"),
        (torch.full((2, 6), float("inf")), "NaN or Inf"),
        (torch.ones(2, 5), "shape"),
        (torch.ones(6), "shape"),
        (torch.ones(0, 6), "shape"),
        (torch.ones(2, 6, dtype=torch.long), "dtype"),
    ],
)
def test_bad_input_raises_and_changes_nothing(bad, message):
    net = FFNet.mlp([6, 8, 8], seed=0)
    net.step(pos=torch.rand(3, 6))  # optimizer state exists
    before = copy.deepcopy(net.state_dict())
    optim_before = copy.deepcopy(net.optimizer.state_dict())
    with pytest.raises(ValueError, match=message):
        net.step(pos=torch.rand(2, 6), neg=bad)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert str(net.optimizer.state_dict()) == str(optim_before)


def test_readout_closed_form_step_matches_autograd_sgd():
    """The readout's hand-written gradient is cross-entropy's, momentum and decay included."""
    torch.manual_seed(0)
    fast, slow = LinearReadout(6, 4, lr=0.1), LinearReadout(6, 4, lr=0.1)
    slow.load_state_dict(fast.state_dict())
    for step in range(4):
        x, y = torch.randn(5, 6), torch.randint(0, 4, (5,))
        logits = fast(x) if step % 2 else None  # with and without the caller's logits
        loss = fast.step(x, y, logits=logits)
        reference = torch.nn.functional.cross_entropy(slow(x), y)
        slow.optimizer.zero_grad()
        reference.backward()
        slow.optimizer.step()
        assert torch.allclose(loss, reference.detach(), atol=1e-6)
    for a, b in zip(fast.parameters(), slow.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
