"""The river estimators' net (``RiverFF``: the core's layers on the NumPy FF engine of
``ffstream.ff._numpy``) computes what the torch ``FFNet`` computes.

On the same weights, batch and dream labels: the same goodness per layer, the same SGD update
(``RiverFF.update`` with ``dL/dgoodness`` of FFNet's logistic loss against ``FFNet.step``, also
through autograd) and, through the estimators, the same predictions, scores and learning steps.
``RiverFF`` is float64 and the exported ``FFNet`` float32, so the start weights are rounded to
float32 first (both nets then start from the very same numbers) and values are compared with
float32 tolerances.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ffstream.ff import LinearReadout, Logistic
from ffstream.ff._numpy import logistic_dgood
from ffstream.ff.objectives import Objective
from ffstream.river import FFAnomalyDetector, FFClassifier
from ffstream.river._engine import LeanReadout, RiverFF

N_FEATURES, N_CLASSES = 5, 3


def _pairs(net: RiverFF) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each layer's (weight, bias), detached: the memory the numpy views share."""
    return [(w.detach(), b.detach()) for w, b in net._parameters()]


def _as_float32(net: RiverFF) -> None:
    """Round every weight of ``net`` to float32 in place (the numpy views share the memory)."""
    for pair in _pairs(net) + (net.average or []):
        for t in pair:
            t.copy_(t.float().double())


def _lean(hidden=(16, 12), lr=0.3, max_step=None, seed=1) -> RiverFF:
    net = RiverFF(N_FEATURES + N_CLASSES, hidden, lr=lr, seed=seed, max_step=max_step)
    generator = torch.Generator().manual_seed(seed)
    for _, b in _pairs(net):  # non-zero biases, so their update is checked too
        b.copy_(0.1 * torch.randn(b.shape, generator=generator, dtype=torch.float64))
    _as_float32(net)
    return net


def _sgd_ffnet(net: RiverFF, autograd: bool = False, **options):
    """The exported net, with the optimizer that makes RiverFF's update.

    ``autograd`` turns off FFNet's closed-form step (where it has one), so that ``step``
    backpropagates through its loss: the definition the closed forms are checked against.
    """
    ffnet = net.to_ffnet(optimizer="sgd", lr=net.lr, momentum=0.0, peer_norm=0.0, **options)
    if autograd:
        ffnet._closed_form = False
    return ffnet


def _labelled(frames: np.ndarray, labels: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Each frame with a one-hot label overlay, as FFClassifier writes them."""
    rows = np.zeros((len(frames), N_FEATURES + N_CLASSES))
    rows[:, :N_FEATURES] = frames
    rows[np.arange(len(frames)), N_FEATURES + labels] = strength
    return rows


def _pos_neg(seed=0):
    """Positive rows (frames with their true labels) and dreams (frames with wrong labels):
    four positives and six negatives, the first four on the same frames as the positives."""
    rng = np.random.default_rng(seed)
    frames = rng.normal(size=(6, N_FEATURES))
    labels = rng.integers(N_CLASSES, size=6)
    wrong = (labels + rng.integers(1, N_CLASSES, size=6)) % N_CLASSES
    return _labelled(frames[:4], labels[:4]), _labelled(frames, wrong)


def _t(rows: np.ndarray) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def _logistic_dgood(good, n_pos: int):
    """dL/dgoodness of FFNet's Logistic loss (each phase averaged), by autograd."""
    g = torch.tensor(np.stack(good, 1), requires_grad=True)
    loss = F.softplus(1.0 - g[:n_pos]).mean(0).sum() + F.softplus(g[n_pos:] - 1.0).mean(0).sum()
    loss.backward()
    return [g.grad[:, layer].numpy().copy() for layer in range(g.shape[1])]


def _steps(net: RiverFF, ffnet, before):
    """Per layer: (RiverFF's weight and bias change, FFNet's), in float64."""
    out = []
    for layer, (w0, b0), (w, b) in zip(ffnet.layers, before, _pairs(net)):
        torch_w = layer.transform.weight.detach().double() - w0
        torch_b = layer.transform.bias.detach().double() - b0
        out.append(
            (torch.cat([(w - w0).flatten(), b - b0]), torch.cat([torch_w.flatten(), torch_b]))
        )
    return out


def _assert_same_step(net: RiverFF, ffnet, before) -> None:
    for lean_step, torch_step in _steps(net, ffnet, before):
        assert lean_step.abs().max() > 1e-3  # the step is not trivially zero
        torch.testing.assert_close(lean_step, torch_step, rtol=0.0, atol=2e-6)


def _weights(net: RiverFF):
    return [(w.clone(), b.clone()) for w, b in _pairs(net)]


# ----------------------------------------------------------------------- the engine
def test_same_goodness_per_layer():
    net = _lean()
    pos, neg = _pos_neg()
    rows = np.concatenate([pos, 50.0 * neg])  # also rows far from unit scale
    good = np.stack(net.forward(rows)[2], 1)
    torch_good = net.to_ffnet().goodness(_t(rows)).double().numpy()
    assert good.shape == torch_good.shape == (len(rows), 2)
    np.testing.assert_allclose(good, torch_good, rtol=2e-6, atol=1e-7)


def test_closed_form_dgood_is_the_per_row_derivative_of_the_logistic_loss():
    good = [np.array([0.2, 1.0, 3.0, 0.5, 1.7]), np.array([1.1, 0.0, 2.0, 0.9, 4.0])]
    dgood = _logistic_dgood(good, n_pos=2)
    sign = np.array([-1.0, -1.0, 1.0, 1.0, 1.0])
    rows_per_phase = np.array([2.0, 2.0, 3.0, 3.0, 3.0])
    for g, dg in zip(good, dgood):
        np.testing.assert_allclose(logistic_dgood(g, sign) / rows_per_phase, dg, rtol=1e-12)


@pytest.mark.parametrize("autograd", [False, True])
def test_same_update_as_an_ffnet_sgd_step(autograd):
    net = _lean()
    ffnet = _sgd_ffnet(net, autograd)
    before = _weights(net)
    pos, neg = _pos_neg()
    ins, acts, good = net.forward(np.concatenate([pos, neg]))
    net.update(ins, acts, _logistic_dgood(good, n_pos=len(pos)))
    ffnet.step(pos=_t(pos), neg=_t(neg))
    _assert_same_step(net, ffnet, before)


@pytest.mark.parametrize("autograd", [False, True])
def test_same_update_with_one_phase_only(autograd):
    for phase in ("pos", "neg"):
        net = _lean()
        ffnet = _sgd_ffnet(net, autograd)
        before = _weights(net)
        rows = _pos_neg()[0 if phase == "pos" else 1]
        ins, acts, good = net.forward(rows)
        net.update(ins, acts, _logistic_dgood(good, n_pos=len(rows) if phase == "pos" else 0))
        ffnet.step(**{phase: _t(rows)})
        _assert_same_step(net, ffnet, before)


def test_max_step_is_the_same_update_with_a_capped_step_size_per_layer():
    # hidden (16, 12) after 8 inputs: caps of max_step * 16 / 16 and max_step * 12 / 32.
    pos, neg = _pos_neg()
    rows = np.concatenate([pos, neg])
    plain = _lean(lr=0.3)
    high = _lean(lr=0.3, max_step=1.7)  # both caps (1.7, 0.6375) above lr: no effect
    for net in (plain, high):
        ins, acts, good = net.forward(rows)
        net.update(ins, acts, _logistic_dgood(good, n_pos=len(pos)))
    for a, b in zip(_pairs(plain), _pairs(high)):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])

    net = _lean(lr=0.3, max_step=0.4)  # caps 0.4 (above lr) and 0.15 (below lr)
    ffnet = _sgd_ffnet(net)
    caps = [0.3, 0.4 * 12 / (2 * 16)]
    assert net.step_sizes == caps
    for group, lr in zip(ffnet.optimizer.param_groups, caps):
        group["lr"] = lr
    before = _weights(net)
    ins, acts, good = net.forward(rows)
    net.update(ins, acts, _logistic_dgood(good, n_pos=len(pos)))
    ffnet.step(pos=_t(pos), neg=_t(neg))
    _assert_same_step(net, ffnet, before)
    # From the same weights and rows, the step is proportional to the step size of its layer.
    for layer, ratio in enumerate((1.0, 0.15 / 0.3)):
        capped, uncapped = (_pairs(n)[layer][0] - before[layer][0] for n in (net, plain))
        torch.testing.assert_close(capped, ratio * uncapped, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------- the estimators
def _stream(n: int, seed: int = 0):
    """A small generated stream: three classes with different feature means."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 2.0, size=(N_CLASSES, N_FEATURES))
    for _ in range(n):
        y = int(rng.integers(N_CLASSES))
        x = centres[y] + rng.normal(size=N_FEATURES)
        yield {f"x{i}": float(v) for i, v in enumerate(x)}, y


def _classifier_rows(model: FFClassifier, x: dict) -> np.ndarray:
    """Every known label's copy of ``x``, built as ``FFClassifier._forward`` builds them."""
    v, present, _ = model._columns.read(x)
    u = model._columns.scaler.standardize_array(v, present)
    c = len(model._classes)
    rows = np.zeros((c, len(u) + c))
    rows[:, : len(u)] = u
    rows[:, len(u) :] = model.label_strength * np.eye(c)
    return rows


def _spy_forward(net: RiverFF) -> list:
    """Record (a copy of) the rows of every forward pass of ``net``."""
    seen, forward = [], net.forward

    def spy(z, *args, **kwargs):
        seen.append(np.array(z))
        return forward(z, *args, **kwargs)

    net.forward = spy
    return seen


@pytest.mark.parametrize("ema_decay", [0.99, None])
def test_classifier_predicts_the_argmax_of_the_exported_nets_goodness(ema_decay):
    model = FFClassifier(hidden=(16, 16), lr=0.5, ema_decay=ema_decay, readout_lr=None, seed=0)
    stream = list(_stream(400))
    for x, y in stream[:300]:
        model.learn_one(x, y)
    ffnet = model._net.to_ffnet()  # the average when there is one: what predicts
    decided = 0
    for x, _ in stream[300:]:
        proba = model.predict_proba_one(x)
        score = ffnet.goodness(_t(_classifier_rows(model, x))).sum(1).double().numpy()
        expected = np.exp(score - score.max()) / np.exp(score - score.max()).sum()
        np.testing.assert_allclose([proba[c] for c in model._classes], expected, atol=1e-5)
        if np.ptp(np.sort(score)[-2:]) > 1e-4:  # not a tie within float32 rounding
            assert max(proba, key=proba.get) == model._classes[int(score.argmax())]
            decided += 1
    assert decided >= 90


def _one_learn_one_against_ffnet(model, sample, objective=None):
    """Learn ``sample`` once; return the net, the FFNet exported before, its weights before and
    the rows the estimator learned from."""
    net = model._net
    _as_float32(net)
    options = {} if objective is None else {"objective": objective}
    ffnet = _sgd_ffnet(net, averaged=False, **options)
    before = _weights(net)
    rows = _spy_forward(net)
    model.learn_one(*sample)
    del net.forward
    return net, ffnet, before, rows[-1]


def test_binary_classifier_learn_one_is_an_ffnet_step_with_the_wrong_label_as_dream():
    model = FFClassifier(hidden=(16,), lr=0.5, readout_lr=None, seed=0)
    stream = [(x, y % 2) for x, y in _stream(201)]
    for x, y in stream[:200]:
        model.learn_one(x, y)
    x, y = stream[200]
    expected_rows = _classifier_rows(model, x)
    net, ffnet, before, rows = _one_learn_one_against_ffnet(model, (x, y))
    np.testing.assert_allclose(rows, expected_rows)
    target = model._class_index[y]
    ffnet.step(pos=_t(rows[[target]]), neg=_t(rows[[1 - target]]))
    _assert_same_step(net, ffnet, before)


class _BeliefLogistic(Objective):
    """Logistic loss with each negative weighted by ``weights`` (summing to 1), not averaged."""

    def __init__(self, weights: torch.Tensor):
        self.weights = weights

    def loss(self, h_pos, h_neg, *, goodness, labels=None):
        return (
            F.softplus(1.0 - goodness(h_pos)).mean()
            + (self.weights * F.softplus(goodness(h_neg) - 1.0)).sum()
        )


def test_multiclass_classifier_learn_one_weights_its_dreams_by_belief():
    # With more than two classes the wrong labels are weighted by the softmax of their summed
    # goodness (hard negatives in expectation), which Logistic's plain mean cannot express.
    model = FFClassifier(hidden=(16, 16), lr=0.5, readout_lr=None, seed=0)
    stream = list(_stream(301))
    for x, y in stream[:300]:
        model.learn_one(x, y)
    x, y = stream[300]
    target = model._class_index[y]
    wrong = [k for k in range(N_CLASSES) if k != target]
    rows = _classifier_rows(model, x)
    score = model._net.to_ffnet(averaged=False).goodness(_t(rows)).sum(1)[wrong].double()
    belief = torch.softmax(score, 0).float()
    assert belief.max() - belief.min() > 0.01  # not uniform: Logistic would differ
    net, ffnet, before, seen = _one_learn_one_against_ffnet(model, (x, y), _BeliefLogistic(belief))
    np.testing.assert_allclose(seen, rows)
    ffnet.step(pos=_t(rows[[target]]), neg=_t(rows[wrong]))
    _assert_same_step(net, ffnet, before)


def _detector_row(detector: FFAnomalyDetector, x: dict) -> np.ndarray:
    _, u, _ = detector._standardised(x)
    return np.append(u, 1.0)[None]


def test_anomaly_score_is_the_exported_nets_mean_p_unreal():
    detector = FFAnomalyDetector(hidden=(16, 16), seed=0)
    stream = [x for x, _ in _stream(350)]
    for x in stream[:300]:
        detector.learn_one(x)
    ffnet = detector._net.to_ffnet()
    for x in stream[300:]:
        good = ffnet.goodness(_t(_detector_row(detector, x)))[0].double()
        expected = float(torch.sigmoid(4.0 * (1.0 - good)).mean())
        assert detector.score_one(x) == pytest.approx(expected, abs=1e-6)


def test_anomaly_learn_one_is_an_ffnet_step_with_its_dream():
    detector = FFAnomalyDetector(hidden=(16, 16), mode="interleaved", seed=0)
    stream = [x for x, _ in _stream(301)]
    for x in stream[:300]:
        detector.learn_one(x)
    row = _detector_row(detector, stream[300])
    net, ffnet, before, rows = _one_learn_one_against_ffnet(detector, (stream[300],))
    assert rows.shape == (2, N_FEATURES + 1) and np.array_equal(rows[:1], row)
    assert rows[1, -1] == 1.0  # the dream is a frame too, with its constant entry
    ffnet.step(pos=_t(rows[:1]), neg=_t(rows[1:]))
    _assert_same_step(net, ffnet, before)


def test_exported_net_is_the_logistic_mean_goodness_ffnet():
    ffnet = _sgd_ffnet(_lean())
    assert ffnet.goodness_fn.reduction == "mean" and ffnet.goodness_fn.threshold_for(16) == 1.0
    assert all(isinstance(o, Logistic) for o in ffnet.objectives) and ffnet.peer_norm == 0.0


def test_lean_readout_step_is_a_linear_readout_sgd_step():
    rng = np.random.default_rng(0)
    lean = LeanReadout(5, 3, lr=0.1)
    lean.weight[:] = rng.normal(size=(3, 5))
    lean.bias[:] = rng.normal(size=3)
    _round_to_float32(lean)
    torch_readout = LinearReadout(5, 3, lr=0.1, momentum=0.0, weight_decay=0.0)
    with torch.no_grad():
        torch_readout.linear.weight.copy_(torch.from_numpy(lean.weight))
        torch_readout.linear.bias.copy_(torch.from_numpy(lean.bias))
    for target in (2, 0, 1):
        f = rng.normal(size=5).astype(np.float32).astype(np.float64)
        offset = rng.normal(size=3).astype(np.float32).astype(np.float64)  # goodness scores
        logits = lean(f) + offset
        mine = torch_readout(_t(f[None]))[0].detach().double().numpy()
        assert np.allclose(mine + offset, logits, atol=1e-5)
        lean.step(f, target, logits)
        torch_readout.step(_t(f[None]), torch.tensor([target]), logits=_t(logits[None]))
        assert np.allclose(torch_readout.linear.weight.detach().double(), lean.weight, atol=1e-5)
        assert np.allclose(torch_readout.linear.bias.detach().double(), lean.bias, atol=1e-5)


def _round_to_float32(readout: LeanReadout) -> None:
    readout.weight[:] = readout.weight.astype(np.float32)
    readout.bias[:] = readout.bias.astype(np.float32)


def test_anomaly_awake_sleep_makes_positive_steps_then_one_step_on_the_dreams():
    detector = FFAnomalyDetector(hidden=(16,), mode="awake-sleep", seed=0)
    stream = [x for x, _ in _stream(64)]
    seen = []
    original = RiverFF.update

    def spy(net, ins, acts, dgood):
        seen.append(np.sign(dgood[0]).tolist())
        return original(net, ins, acts, dgood)

    RiverFF.update = spy
    try:
        for x in stream:
            detector.learn_one(x)
    finally:
        RiverFF.update = original
    assert len(seen) == 64 + 2  # one awake step a sample, one sleep step per 32 samples
    awake = [s for s in seen if len(s) == 1]
    assert len(awake) == 64 and all(s == [-1.0] for s in awake)  # pushed up, alone
    asleep = [s for s in seen if len(s) > 1]
    assert len(asleep) == 2 and all(set(s) == {1.0} and len(s) == 32 for s in asleep)


def test_classifier_awake_sleep_pushes_true_labels_awake_and_wrong_labels_asleep():
    model = FFClassifier(hidden=(16,), mode="awake-sleep", readout_lr=None, seed=0)
    samples = list(_stream(64))
    for x, y in samples[:2]:  # every class and feature known before the spy
        model.learn_one(x, y)
    seen = []
    original = RiverFF.update

    def spy(net, ins, acts, dgood):
        seen.append(np.sign(dgood[0]))
        return original(net, ins, acts, dgood)

    RiverFF.update = spy
    try:
        for x, y in samples[2:]:
            model.learn_one(x, y)
    finally:
        RiverFF.update = original
    awake = [s for s in seen if len(s) == N_CLASSES]
    asleep = [s for s in seen if len(s) > N_CLASSES]
    assert len(awake) == 62 and all((s <= 0).all() and (s < 0).sum() == 1 for s in awake)
    assert len(asleep) == 2  # a sleep after every 32 samples (the first two came before)
    for sleep in asleep:
        per_sample = sleep.reshape(32, N_CLASSES)  # only the wrong labels are pushed down
        assert ((per_sample >= 0).all(1) & ((per_sample == 0).sum(1) == 1)).all()


def test_binary_classifier_sleep_is_an_ffnet_step_on_the_wrong_labels_as_dreams():
    # Mode awake-sleep: the samples since the last sleep wait in the core's RecentMemory, and
    # the core's EveryN schedule calls the sleep: one step that pushes down every sample's
    # wrong label. The loss sums over the dreams where Logistic averages: lr times their count.
    model = FFClassifier(hidden=(16, 12), lr=0.5, mode="awake-sleep", readout_lr=None, seed=0)
    stream = [(x, y % 2) for x, y in _stream(96)]
    for x, y in stream[:95]:
        model.learn_one(x, y)
    assert len(model._awake) == 31 and model._schedule.frames == 32  # one sample to the sleep
    targets = model._awake.labels[:31].tolist()
    x, y = stream[95]
    targets.append(model._class_index[y])
    net, befores, original = model._net, [], RiverFF.update

    def spy(self, ins, acts, dgood):
        befores.append(_weights(self))
        return original(self, ins, acts, dgood)

    rows = _spy_forward(net)
    RiverFF.update = spy
    try:
        model.learn_one(x, y)
    finally:
        RiverFF.update = original
        del net.forward
    assert len(befores) == 2 and len(model._awake) == 0  # the awake step, then the sleep
    assert rows[-1].shape == (32 * 2, N_FEATURES + 2)  # both labels' copy of every sample
    dreams = rows[-1][[2 * i + 1 - target for i, target in enumerate(targets)]]
    ffnet = net.to_ffnet(averaged=False, optimizer="sgd", lr=32 * net.lr, momentum=0.0)
    ffnet.peer_norm = 0.0
    with torch.no_grad():
        for layer, (w, b) in zip(ffnet.layers, befores[1]):
            layer.transform.weight.copy_(w)
            layer.transform.bias.copy_(b)
    rounded = [(w.float().double(), b.float().double()) for w, b in befores[1]]
    ffnet.step(neg=_t(dreams))
    for (lean_step, torch_step), (w0, b0), (w1, b1) in zip(
        _steps(net, ffnet, rounded), befores[1], _pairs(net)
    ):
        assert lean_step.abs().max() > 1e-3
        mine = torch.cat([(w1 - w0).flatten(), b1 - b0])
        torch.testing.assert_close(mine, torch_step, rtol=0.0, atol=2e-5)
