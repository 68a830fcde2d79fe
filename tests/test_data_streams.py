"""Shuffled streams, pixel scaling, and continual-learning task splits."""

from __future__ import annotations

import itertools

import pytest
import torch

from ffstream.data import (
    permutations,
    random_shift,
    rotate,
    shuffled_stream,
    split_tasks,
    to_unit_float,
)


def _toy(n=10):
    images = torch.arange(n, dtype=torch.uint8).reshape(n, 1, 1).expand(n, 2, 2).contiguous()
    return images, torch.arange(n)


def _labels_of(stream):
    return [y.tolist() for _, y in stream]


def test_batches_are_float_flat_scaled_and_paired():
    images, labels = _toy()
    batches = list(shuffled_stream(images, labels, batch_size=4, seed=0))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    for x, y in batches:
        assert x.dtype == torch.float32 and x.shape == (len(y), 4)
        assert y.dtype == torch.int64
        # Image i has every pixel equal to i, so each row tells which label it must carry.
        torch.testing.assert_close(x[:, 0], y.float() / 255)


def test_each_epoch_is_a_fresh_permutation():
    images, labels = _toy()
    epochs = _labels_of(shuffled_stream(images, labels, batch_size=10, seed=1, epochs=2))
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(10))
    assert epochs[0] != epochs[1]


def test_same_seed_same_stream_and_global_rng_untouched():
    images, labels = _toy()
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = _labels_of(shuffled_stream(images, labels, 3, seed=7))
    assert torch.equal(torch.rand(1), expected_next)
    assert a == _labels_of(shuffled_stream(images, labels, 3, seed=7))
    assert a != _labels_of(shuffled_stream(images, labels, 3, seed=8))


def test_endless_stream_and_drop_last():
    images, labels = _toy()
    endless = shuffled_stream(images, labels, batch_size=3, seed=0, epochs=None, drop_last=True)
    sizes = [len(y) for _, y in itertools.islice(endless, 20)]
    assert sizes == [3] * 20
    assert list(shuffled_stream(images, labels, 3, seed=0, epochs=0)) == []


def test_float_images_pass_through_unscaled():
    images = torch.full((4, 3), 0.5)
    x, _ = next(shuffled_stream(images, torch.zeros(4, dtype=torch.long), 4, seed=0))
    assert torch.all(x == 0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": torch.arange(3)}, "10 images but 3 labels"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"epochs": -1}, "epochs must be non-negative"),
    ],
)
def test_stream_rejects_bad_arguments(kwargs, message):
    images, labels = _toy()
    arguments = {"images": images, "labels": labels, "batch_size": 2, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        next(shuffled_stream(**arguments))


def test_to_unit_float():
    images = torch.tensor([[[0, 255]]], dtype=torch.uint8)
    assert to_unit_float(images).tolist() == [[0.0, 1.0]]
    assert to_unit_float(to_unit_float(images)).tolist() == [[0.0, 1.0]]
    with pytest.raises(ValueError, match="dtype torch.int64"):
        to_unit_float(images.long())


def _offset_of(original: torch.Tensor, moved: torch.Tensor, max_shift: int):
    """The (rows, cols) offset that turns ``original`` (C, H, W) into ``moved``, or None."""
    k, (h, w) = max_shift, original.shape[-2:]
    padded = torch.nn.functional.pad(original, (k, k, k, k))
    for dy, dx in itertools.product(range(-k, k + 1), repeat=2):
        if torch.equal(padded[:, k - dy : k - dy + h, k - dx : k - dx + w], moved):
            return dy, dx
    return None


def test_random_shift_moves_each_image_whole_within_the_limit():
    images = torch.rand(64, 2, 7, 9)
    moved = random_shift(images, 2, torch.Generator().manual_seed(0))
    offsets = [_offset_of(a, b, 2) for a, b in zip(images, moved)]
    assert None not in offsets  # both channels moved alike, zeros moved in
    assert len(set(offsets)) > 10  # each image draws its own offset
    again = random_shift(images, 2, torch.Generator().manual_seed(0))
    assert torch.equal(moved, again)
    assert random_shift(images, 0) is images


@pytest.mark.parametrize(
    ("images", "max_shift", "message"),
    [
        (torch.rand(4, 9), 1, r"expected \(batch, \.\.\., height, width\)"),
        (torch.rand(4, 3, 3), -1, "non-negative int"),
        (torch.rand(4, 3, 3), 1.5, "non-negative int"),
    ],
)
def test_random_shift_refuses_bad_input(images, max_shift, message):
    with pytest.raises(ValueError, match=message):
        random_shift(images, max_shift)


def test_split_mnist_tasks():
    labels = torch.arange(10).repeat(3)
    tasks = split_tasks(labels)
    assert [t.classes for t in tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    for task in tasks:
        assert task.indices.dtype == torch.int64
        assert set(labels[task.indices].tolist()) == set(task.classes)
        assert len(task.indices) == 6
    all_indices = torch.cat([t.indices for t in tasks]).sort().values
    assert torch.equal(all_indices, torch.arange(30))


def test_split_uses_the_classes_present_and_keeps_order():
    tasks = split_tasks(torch.tensor([7, 3, 7, 5]), classes_per_task=1)
    assert [(t.classes, t.indices.tolist()) for t in tasks] == [
        ((3,), [1]),
        ((5,), [3]),
        ((7,), [0, 2]),
    ]


def test_split_refuses_uneven_tasks():
    with pytest.raises(ValueError, match="10 classes cannot be split evenly into tasks of 3"):
        split_tasks(torch.arange(10), classes_per_task=3)
    with pytest.raises(ValueError, match="at least 1"):
        split_tasks(torch.arange(10), classes_per_task=0)


def test_permutations():
    perms = permutations(10, 784, seed=3)
    assert perms.shape == (10, 784) and perms.dtype == torch.int64
    assert torch.equal(perms[0], torch.arange(784))
    for row in perms[1:]:
        assert torch.equal(row.sort().values, torch.arange(784))
        assert not torch.equal(row, torch.arange(784))
    assert len({tuple(row.tolist()) for row in perms}) == 10
    assert torch.equal(perms, permutations(10, 784, seed=3))
    assert not torch.equal(perms, permutations(10, 784, seed=4))
    # Permuting frames is a gather that the inverse permutation undoes.
    x = torch.rand(2, 784)
    assert torch.equal(x[:, perms[5]][:, perms[5].argsort()], x)


def test_permutations_rejects_empty():
    with pytest.raises(ValueError, match="num_tasks >= 1"):
        permutations(0, 784, seed=0)


def test_rotate_turns_counter_clockwise_and_keeps_the_ink():
    images = torch.rand(3, 28, 28)
    # A quarter turn is a pure index shuffle: it must match torch.rot90 (counter-clockwise).
    assert torch.allclose(rotate(images, 90), torch.rot90(images, 1, dims=(1, 2)), atol=1e-5)
    assert torch.allclose(rotate(images, -90), torch.rot90(images, -1, dims=(1, 2)), atol=1e-5)
    assert torch.equal(rotate(images, 360), images)
    # A digit-like blob in the middle keeps its ink under any angle (nothing leaves the frame).
    blob = torch.zeros(1, 28, 28)
    blob[0, 10:18, 12:16] = 1.0
    turned = rotate(blob, 30)
    assert abs(float(turned.sum()) - float(blob.sum())) < 0.05 * float(blob.sum())
    assert not torch.allclose(turned, blob)


def test_rotate_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        rotate(torch.rand(28, 28), 10)
    with pytest.raises(ValueError, match="float"):
        rotate(torch.zeros(1, 28, 28, dtype=torch.uint8), 10)
    with pytest.raises(ValueError, match="finite"):
        rotate(torch.rand(1, 28, 28), float("nan"))
