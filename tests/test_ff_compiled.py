"""The compiled FF update (``FFNet.compile_step``, ``StreamLearner.compile``) and its GPU paths.

Two CPU tests check the compiled numerics against the eager paths (each compiles a few graphs:
seconds to tens of seconds); the rest are cheap contract tests, and tests that need CUDA skip
without it.
"""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from ffstream.ff import FFNet
from ffstream.ff.compiled import MODES, CompiledStep
from ffstream.stream import StreamLearner
from ffstream.stream.schedules import EveryN

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _max_gap(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))


def test_compiled_step_matches_the_eager_step():
    """Peer normalisation on, both phases and positives alone: the same update as eager."""
    torch.manual_seed(0)
    net = FFNet.mlp([12, 32, 32], seed=0)
    eager = copy.deepcopy(net)
    net.compile_step("default")
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        pos, neg = torch.randn(8, 12, generator=g), torch.randn(8, 12, generator=g)
        compiled, reference = net.step(pos=pos, neg=neg), eager.step(pos=pos, neg=neg)
        torch.testing.assert_close(compiled.losses, reference.losses, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(compiled.neg_goodness, reference.neg_goodness)
        net.step(pos=pos)
        eager.step(pos=pos)
    assert _max_gap(net, eager) < 1e-5
    for a, b in zip(net.layers, eager.layers):  # peer normalisation's running means too
        torch.testing.assert_close(a.mean_activity, b.mean_activity)


def test_compiled_learner_learns_as_the_eager_one():
    """A StreamLearner compiled, labelled and unlabelled: its awake graph (standardiser,
    readout, layers) and its sleep updates give the eager learner's predictions, weights and
    running statistics."""
    g = torch.Generator().manual_seed(2)
    x, y = 3 * torch.randn(44, 6, generator=g) + 1, torch.randint(0, 3, (44,), generator=g)
    pairs = {}
    for num_classes in (3, None):
        kwargs = dict(in_features=6, num_classes=num_classes, hidden=(16, 16), seed=0)
        compiled = StreamLearner(**kwargs, schedule=EveryN(20)).compile("default")
        eager = StreamLearner(**kwargs, schedule=EveryN(20))
        labels = [None if num_classes is None else int(label) for label in y]
        for i in range(44):
            a, b = compiled.observe(x[i], labels[i]), eager.observe(x[i], labels[i])
            assert a.slept == b.slept
            torch.testing.assert_close(a.goodness, b.goodness, atol=1e-5, rtol=1e-4)
            assert (a.prediction is None) == (num_classes is None)
            assert num_classes is None or bool((a.prediction == b.prediction).all())
        assert compiled.sleeps == eager.sleeps == 2
        assert _max_gap(compiled.net, eager.net) < 1e-5
        assert _max_gap(compiled.net, StreamLearner(**kwargs).net) > 1e-3  # it did learn
        pairs[num_classes] = compiled, eager
    compiled, eager = pairs[3]
    assert _max_gap(compiled.readout, eager.readout) < 1e-5
    assert compiled.standardizer.count == eager.standardizer.count == 44
    torch.testing.assert_close(compiled.standardizer.var, eager.standardizer.var)
    torch.testing.assert_close(compiled.predict_proba(x), eager.predict_proba(x))


def test_awake_graph_leaves_what_it_does_not_cover_to_the_eager_step():
    """Interleaved learners dream on every frame and the goodness predictor scores every
    label: both stay eager (and learn), as do copies of a compiled learner."""
    from ffstream.stream.awake_graph import AwakeGraph
    from ffstream.stream.schedules import Interleaved

    x, y = torch.randn(1, 4), torch.tensor([1])
    interleaved = StreamLearner(4, 2, hidden=(8,), seed=0, schedule=Interleaved())
    by_goodness = StreamLearner(4, 2, hidden=(8,), seed=0, predict_with="goodness")
    plain = StreamLearner(4, 2, hidden=(8,), seed=0)
    assert not AwakeGraph.covers(interleaved, x, y)
    assert not AwakeGraph.covers(by_goodness, x, y)
    assert AwakeGraph.covers(plain, x, y) and AwakeGraph.covers(plain, x, None)
    assert not AwakeGraph.covers(plain, x.double(), y)
    with pytest.raises(ValueError, match="mode must be one of"):
        plain.compile("fast")
    assert plain.__dict__.get("_awake_graph") is None  # a refused mode changes nothing
    plain.compile("default")
    for other in (pickle.loads(pickle.dumps(plain)), copy.deepcopy(plain)):
        assert other.__dict__.get("_awake_graph") is None
    assert plain.compile(None).__dict__["_awake_graph"] is None


def test_closed_form_under_bfloat16_autocast_keeps_float32_gradients():
    """What a compiled bf16 step runs (on CUDA), checked under the CPU's autocast: bfloat16
    matmuls, float32 goodness, losses and gradients, close to the float32 closed form."""
    from ffstream.ff._fast import closed_form_grads

    net = FFNet.mlp([12, 32, 32], seed=0)
    twin = copy.deepcopy(net)
    x = torch.randn(16, 12, generator=torch.Generator().manual_seed(3))
    reference = closed_form_grads(twin, twin._input(x), 8, True, True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses, goodness = closed_form_grads(net, net._input(x), 8, True, True)
    for got, want in zip(losses + goodness, reference[0] + reference[1]):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want, atol=0.05, rtol=0.05)
    for p, q in zip(net.parameters(), twin.parameters()):
        assert p.grad.dtype == torch.float32
        assert float((p.grad - q.grad).norm() / q.grad.norm()) < 0.05


def test_compile_step_refuses_unknown_modes_and_can_be_undone():
    net = FFNet.mlp([4, 8], seed=0)
    with pytest.raises(ValueError, match="mode must be one of"):
        net.compile_step("fast")
    assert net.compile_step("reduce-overhead").__dict__["_compiled"].mode == "reduce-overhead"
    assert net.compile_step(None).__dict__["_compiled"] is None
    assert set(MODES) >= {"default", "reduce-overhead"}


def test_compiled_nets_pickle_and_copy_without_their_graphs():
    """Graphs belong to one process: copies and checkpoints run eagerly, the original stays."""
    net = FFNet.mlp([4, 8], seed=0).compile_step("default")
    assert isinstance(net.__dict__["_compiled"], CompiledStep)
    for other in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert other.__dict__.get("_compiled") is None
        torch.testing.assert_close(other.layers[0].transform.weight, net.layers[0].transform.weight)
    assert isinstance(net.__dict__["_compiled"], CompiledStep)


def test_compiled_learner_saves_and_loads(tmp_path):
    learner = StreamLearner(4, 2, hidden=(8,), seed=0, device="cpu").compile("default")
    learner.save(tmp_path / "l.ckpt")  # nothing compiled runs: no step was taken
    loaded = StreamLearner.load(tmp_path / "l.ckpt")
    assert loaded.net.__dict__.get("_compiled") is None
    torch.testing.assert_close(
        loaded.net.layers[0].transform.weight, learner.net.layers[0].transform.weight
    )


def test_host_frames_are_checked_before_they_move():
    """A NaN frame is refused on the host, before any copy to the learner's device."""
    learner = StreamLearner(3, 2, hidden=(8,), seed=0, device="cpu")
    with pytest.raises(ValueError, match="NaN or Inf"):
        learner.observe([[float("nan"), 0.0, 1.0]], [0])
    assert learner.frames_seen == 0


@needs_cuda
def test_graphed_batch1_observe_on_cuda_matches_eager():
    """Every graph is recorded (a skipped CUDA graph raises) and learns what eager learns."""
    kwargs = dict(in_features=8, num_classes=3, hidden=(32, 32), seed=0, device="cuda")
    graphed = StreamLearner(**kwargs, schedule=EveryN(16)).compile("reduce-overhead")
    eager = StreamLearner(**kwargs, schedule=EveryN(16))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 8, generator=g), torch.randint(0, 3, (40,), generator=g)
    with torch._inductor.config.patch({"triton.cudagraph_or_error": True}):
        kept = [graphed.observe(x[i], int(y[i])) for i in range(40)]
    reference = [eager.observe(x[i], int(y[i])) for i in range(40)]
    assert _max_gap(graphed.net, eager.net) < 1e-4
    assert _max_gap(graphed.readout, eager.readout) < 1e-4
    for a, b in zip(kept, reference):  # outputs survive later replays
        torch.testing.assert_close(a.goodness, b.goodness, atol=1e-4, rtol=1e-3)


@needs_cuda
@pytest.mark.parametrize("mode", [None, "reduce-overhead"])
def test_observe_of_host_frames_never_waits_for_the_gpu(mode):
    learner = StreamLearner(8, 3, hidden=(32, 32), schedule=EveryN(10**9), seed=0, device="cuda")
    learner.compile(mode)
    for i in range(3):  # allocations, optimiser state, the graph's recording
        learner.observe(torch.randn(1, 8), [i])
    torch.cuda.set_sync_debug_mode("error")
    try:
        for i in range(5):
            learner.observe(torch.randn(1, 8), [i % 3])
    finally:
        torch.cuda.set_sync_debug_mode("default")


@needs_cuda
def test_bf16_compiled_batched_step_on_cuda():
    """A bf16 net's compiled step (closed form under autocast) follows its eager bf16 step."""
    net = FFNet.mlp([64, 128, 128], seed=0, device="cuda", bf16=True)
    eager = copy.deepcopy(net)
    net.compile_step("default")
    pos, neg = torch.randn(256, 64, device="cuda"), torch.randn(256, 64, device="cuda")
    for _ in range(3):
        stats, reference = net.step(pos=pos, neg=neg), eager.step(pos=pos, neg=neg)
    assert torch.isfinite(stats.losses).all() and stats.pos_goodness.dtype == torch.float32
    torch.testing.assert_close(stats.losses, reference.losses, atol=0.02, rtol=0.02)
    assert _max_gap(net, eager) < 1e-2


@needs_cuda
def test_every_default_dream_runs_on_cuda():
    """Dreams draw on the learner's CPU generator and move their draws to the device."""
    for num_classes in (None, 3):
        learner = StreamLearner(8, num_classes, hidden=(16,), schedule=EveryN(8), device="cuda")
        for i in range(24):
            learner.observe(torch.randn(1, 8), None if num_classes is None else [i % 3])
        assert learner.sleeps == 3
