"""InputStandardizer: running statistics that forget, resist outliers and stay bounded."""

import copy
import pickle

import pytest
import torch

from ffstream.stream import standardizer as standardizer_module
from ffstream.stream.standardizer import InputStandardizer


def feed(standardizer, frames, batch=1):
    for chunk in frames.split(batch):
        standardizer.update(chunk)


def test_it_is_the_running_mean_and_variance_within_the_horizon():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 3, generator=g) * torch.tensor([1.0, 50.0, 0.01]) + 7.0
    s = InputStandardizer(3, horizon=1000.0, winsor=1e9, clip=1e9)
    feed(s, x)
    assert torch.allclose(s.mean, x.mean(0), rtol=1e-4)
    assert torch.allclose(s.var, x.var(0, unbiased=False), rtol=1e-3)
    z = s(x)
    assert torch.allclose(z.mean(0), torch.zeros(3), atol=1e-3)
    assert torch.allclose(z.std(0, unbiased=False), torch.ones(3), atol=1e-2)


def test_a_batch_update_matches_frame_by_frame_updates_while_young():
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    # unbounded: a batch is bounded by the estimates before it, each frame by those before it
    one, batched = InputStandardizer(4, winsor=1e9), InputStandardizer(4, winsor=1e9)
    feed(one, x)
    feed(batched, x, batch=16)
    assert torch.allclose(one.mean, batched.mean, atol=1e-5)
    assert torch.allclose(one.var, batched.var, rtol=1e-3)
    assert one.count == batched.count == 64


def test_it_forgets_a_scale_that_changed():
    g = torch.Generator().manual_seed(2)
    s = InputStandardizer(1, horizon=200.0)
    feed(s, torch.randn(2000, 1, generator=g))
    feed(s, 100.0 + 10.0 * torch.randn(3000, 1, generator=g))  # new units, new offset
    assert abs(s.mean.item() - 100.0) < 2.0
    assert 8.0 < s.var.sqrt().item() < 12.0


def test_one_glitch_barely_moves_warm_estimates_and_its_output_is_clipped():
    g = torch.Generator().manual_seed(3)
    s = InputStandardizer(2, winsor=10.0, clip=5.0)
    feed(s, torch.randn(1000, 2, generator=g))
    mean, std = s.mean.clone(), s.var.sqrt()
    s.update(torch.tensor([[1e12, 0.0]]))
    # no further than one frame on the bound: winsor deviations, weighted 1/horizon
    assert (s.mean - mean).abs()[0] <= 10.0 * std[0] / 1000 * 1.001
    assert s.var.sqrt()[0] < 1.1 * std[0]
    assert s(torch.tensor([[1e12, -1e12]])).tolist() == [[5.0, -5.0]]


def test_a_constant_feature_standardises_to_zero_and_its_first_change_sets_its_scale():
    s = InputStandardizer(2)
    feed(s, torch.tensor([[3.0, 1.0], [3.0, 2.0]] * 20))
    assert s(torch.tensor([[3.0, 1.5]]))[0, 0] == 0.0
    s.update(torch.tensor([[4.0, 1.5]]))  # not clipped to a zero scale: it has none yet
    assert s.var[0] > 0


@pytest.mark.parametrize("name", ["horizon", "winsor", "clip"])
@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), -float("inf")])
def test_bad_settings_are_refused(name, bad):
    with pytest.raises(ValueError, match=name):
        InputStandardizer(2, **{name: bad})


def test_a_far_offset_with_a_small_spread_is_still_followed():
    g = torch.Generator().manual_seed(4)
    s = InputStandardizer(1, horizon=500.0)
    feed(s, 300.0 + 1e-3 * torch.randn(2000, 1, generator=g))  # kelvin, read to a millikelvin
    feed(s, 300.003 + 1e-3 * torch.randn(3000, 1, generator=g))  # three deviations warmer
    assert abs(s.mean.item() - 300.003) < 2e-4
    assert 0.7e-3 < s.var.sqrt().item() < 1.5e-3


def test_one_glitch_on_a_feature_that_never_varied_does_not_squash_it():
    s = InputStandardizer(1)
    feed(s, torch.zeros(5000, 1))  # a flag, off so far
    s.update(torch.tensor([[1e6]]))
    g = torch.Generator().manual_seed(5)
    feed(s, (torch.rand(200, 1, generator=g) < 0.5).float())  # then it really flips
    assert s.var.sqrt().item() < 3.0
    assert s(torch.tensor([[1.0]])).item() > 0.5


def test_values_whose_squares_overflow_leave_the_variance_finite():
    s = InputStandardizer(1)
    feed(s, torch.tensor([[1.5e19], [-1.5e19], [1.0]]))
    assert torch.isfinite(s.var).all() and s.var.item() > 0


def _torch_only(monkeypatch):
    """Send every batch through the torch arithmetic (as on a GPU)."""
    monkeypatch.setattr(standardizer_module, "_NUMPY_WORK", 0)


def _hard_stream(seed: int) -> torch.Tensor:
    """Offsets, scales, a constant feature that later varies, outliers and a unit change."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3000, 5, generator=g) * torch.tensor([1.0, 50.0, 1e-3, 1.0, 2.0]) + 300.0
    x[:1500, 3] = 4.0  # constant, then it varies
    x[::97, 0] = 1e7  # glitches
    x[2000:, 4] *= 30.0  # a unit change
    return x


@pytest.mark.parametrize("batch", [1, 7])
def test_numpy_and_torch_paths_compute_the_same_estimates(batch, monkeypatch):
    x = _hard_stream(batch)
    on_numpy, on_torch = InputStandardizer(5, horizon=300.0), InputStandardizer(5, horizon=300.0)
    feed(on_numpy, x, batch)
    _torch_only(monkeypatch)
    feed(on_torch, x, batch)
    for name in ("shift", "offset", "var", "seen"):
        a, b = getattr(on_numpy, name), getattr(on_torch, name)
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), name
    probe = x[-50:]
    assert torch.allclose(on_torch(probe), InputStandardizer.forward(on_numpy, probe), atol=1e-4)
    assert on_numpy._warm  # the fast step ran for most of the stream


def test_a_mask_keeps_missing_features_and_a_late_feature_has_its_own_young_phase(monkeypatch):
    results = []
    for numpy_path in (True, False):
        if not numpy_path:
            _torch_only(monkeypatch)
        g = torch.Generator().manual_seed(5)
        s = InputStandardizer(2)
        for t in range(1200):
            frame = torch.stack([3.0 + torch.randn((), generator=g), torch.tensor(-7.0)])
            present = torch.tensor([True, t % 2 == 0])  # the second is there every other frame
            s.update(frame.view(1, 2), present)
        s.grow(1)
        for _ in range(40):
            s.update(torch.tensor([[3.0, -7.0, 500.0]]) + torch.randn(1, 3, generator=g))
        results.append(s)
        assert s.seen.tolist() == [1240.0, 640.0, 40.0]
        assert abs(s.mean[2] - 500.0) < 1.0  # not dragged from 0 at a settled weight
        z = s(torch.tensor([[3.0, 0.0, 500.0]]), torch.tensor([True, False, True]))
        assert z[0, 1] == 0.0  # missing: its running mean
    assert torch.allclose(results[0].mean, results[1].mean, atol=1e-3)


def test_a_copy_and_a_loaded_state_standardise_as_the_original():
    s = InputStandardizer(3)
    feed(s, _hard_stream(0)[:, :3])
    probe = torch.randn(4, 3) * 50.0 + 300.0
    for twin in (copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        assert torch.equal(twin(probe), s(probe))
        twin.update(probe)  # its own buffers: the original does not move
    loaded = InputStandardizer(3)
    loaded(probe)  # caches the scale of its empty estimates
    loaded.load_state_dict(s.state_dict())
    loaded.restore_count(s.count)
    assert torch.equal(loaded(probe), s(probe))
    assert loaded.seen.tolist() == s.seen.tolist()


def test_an_infinite_horizon_and_winsor_give_the_plain_running_moments_forever():
    g = torch.Generator().manual_seed(6)
    x = torch.cat([torch.randn(1500, 2, generator=g), 1e3 + torch.randn(1500, 2, generator=g)])
    x[100, 0] = 1e6  # an outlier: counted in full
    s = InputStandardizer(2, horizon=float("inf"), winsor=float("inf"), clip=float("inf"))
    feed(s, x)
    assert torch.allclose(s.mean, x.double().mean(0).float(), rtol=1e-4)
    assert torch.allclose(s.var, x.double().var(0, unbiased=False).float(), rtol=1e-3)


def test_refresh_derives_the_scale_again_after_an_in_place_change():
    """A collective averaging the estimates in place must not leave a stale cached scale."""
    s = InputStandardizer(2)
    for value in torch.randn(50, 1, 2, generator=torch.Generator().manual_seed(0)):
        s.update(value)
    frame = torch.tensor([[1.0, 1.0]])
    before = s(frame)
    s.var.mul_(4.0)  # what an average across ranks may do: same tensor, new values
    s.refresh()
    torch.testing.assert_close(s(frame), before / 2)
