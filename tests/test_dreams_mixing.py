"""HybridDreams' mixing of more than two memories, and its noise (the agent's dreams)."""

from __future__ import annotations

import math

import pytest
import torch

from ffstream.stream.checkpoint import from_spec, to_spec
from ffstream.stream.dreams import DreamSource, HybridDreams


def _source(features: int = 5, seed: int = 0) -> DreamSource:
    """Recalled memory ``r`` (in recall order) holds ``100 + r`` in every feature."""

    def recall(n):
        return (100.0 + torch.arange(n, dtype=torch.float32))[:, None].expand(n, features), None

    g = torch.Generator().manual_seed(seed)
    return DreamSource(g, (features,), None, recall, None, None)


def test_each_feature_from_a_memory_of_its_own():
    x = torch.zeros(30, 5)
    dream, labels = HybridDreams(memories=None).generate(_source(), x, None)
    assert labels is None and dream.shape == (30, 5)
    assert (dream[:, 0] == 0).all()  # the first feature from the frame dreamed from
    for row in dream:  # the others each from a different recalled memory
        assert len(set(row.tolist())) == 5
    assert len(set(dream[:, 1:].reshape(-1).tolist())) == 30 * 4  # no memory used twice


def test_k_memories_share_the_features():
    x = torch.zeros(400, 5)
    dream, _ = HybridDreams(memories=3).generate(_source(), x, None)
    from_x = (dream == 0).float().mean()
    assert 0.28 < float(from_x) < 0.39  # about a third of the values from each memory
    recalled = dream[dream != 0]
    assert bool(((recalled >= 100) & (recalled < 100 + 2 * 400)).all())


def test_noise_of_the_given_scale_is_added():
    x = torch.zeros(2000, 5)
    plain, _ = HybridDreams(memories=None).generate(_source(seed=1), x, None)
    noisy, _ = HybridDreams(memories=None, noise=0.5).generate(_source(seed=1), x, None)
    assert abs(float((noisy - plain).std()) - 0.5) < 0.02


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"memories": 1}, "memories"),
        ({"memories": True}, "memories"),
        ({"memories": 2.5}, "memories"),
        ({"noise": -0.1}, "noise"),
        ({"noise": math.nan}, "noise"),
        ({"noise": math.inf}, "noise"),
    ],
)
def test_bad_settings_are_refused_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        HybridDreams(**kwargs)


def test_the_settings_travel_in_checkpoint_specs():
    spec = to_spec(HybridDreams(magnify=0.25, memories=None, noise=0.5))
    assert spec == {
        "type": "HybridDreams",
        "params": {"magnify": 0.25, "memories": None, "noise": 0.5},
    }
    rebuilt = from_spec(spec)
    assert (rebuilt.magnify, rebuilt.memories, rebuilt.noise) == (0.25, None, 0.5)
    older = from_spec({"type": "HybridDreams", "params": {"magnify": 0.5}})  # before the options
    assert (older.memories, older.noise) == (2, 0.0)
