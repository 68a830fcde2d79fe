"""Label encodings: how a supervised FF net is told which label a frame claims to have.

A positive frame carries its true label, a negative frame a wrong one; the net learns to find
only the true pairing "good". Classification then asks which label makes a frame most good.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["LabelEncoding", "OneHotAppend", "OneHotOverlay", "SpatialPattern", "scff_pairs"]


class LabelEncoding:
    """Base class: ``encode(x, y)`` embeds labels, ``neutral(x)`` embeds "no label"."""

    num_classes: int

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # abstract: every encoding overrides it

    def neutral(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # abstract: every encoding overrides it

    def all_labels(self, x: torch.Tensor) -> torch.Tensor:
        """Every frame with every label: shape ``(num_classes * batch, ...)``, label-major."""
        batch = x.shape[0]
        labels = torch.arange(self.num_classes, device=x.device).repeat_interleave(batch)
        return self.encode(x.repeat(self.num_classes, *([1] * (x.dim() - 1))), labels)


class OneHotOverlay(LabelEncoding):
    """Overwrite the first ``num_classes`` inputs with a one-hot label (Hinton 2022).

    The neutral label sets each of those entries to ``1 / num_classes`` (0.1 for ten classes, as
    in Hinton's code). Works for flat frames; for images the overwritten pixels are lost in
    convolutions — use :class:`SpatialPattern` there.

    Examples
    --------
    >>> enc = OneHotOverlay(3)
    >>> enc.encode(torch.full((1, 5), 7.0), torch.tensor([1]))
    tensor([[0., 1., 0., 7., 7.]])
    >>> enc.neutral(torch.full((1, 5), 7.0))
    tensor([[0.3333, 0.3333, 0.3333, 7.0000, 7.0000]])
    """

    def __init__(self, num_classes: int, strength: float = 1.0):
        self.num_classes = num_classes
        self.strength = strength

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        if flat.shape[1] <= self.num_classes:
            raise ValueError(
                f"one-hot overlay needs more than {self.num_classes} inputs, got {flat.shape[1]}"
            )
        return flat.clone()

    def encode(self, x, y):
        out = self._check(x)
        out[:, : self.num_classes] = 0.0
        out[torch.arange(out.shape[0], device=x.device), y] = self.strength
        return out.view_as(x)

    def neutral(self, x):
        out = self._check(x)
        out[:, : self.num_classes] = self.strength / self.num_classes
        return out.view_as(x)


class OneHotAppend(LabelEncoding):
    """Append a one-hot label after the features (``num_classes`` extra inputs).

    Unlike :class:`OneHotOverlay` it destroys no input: use it for sensor and tabular frames,
    where every feature matters. The neutral label is ``strength / num_classes`` in every slot.
    The net needs ``num_features + num_classes`` inputs.

    Examples
    --------
    >>> enc = OneHotAppend(3)
    >>> enc.encode(torch.tensor([[5.0, 6.0]]), torch.tensor([2]))
    tensor([[5., 6., 0., 0., 1.]])
    >>> enc.neutral(torch.tensor([[5.0, 6.0]])).shape
    torch.Size([1, 5])
    """

    def __init__(self, num_classes: int, strength: float = 1.0):
        self.num_classes = num_classes
        self.strength = strength

    def _label_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Row ``c``: the appended inputs of label ``c``; the last row: the neutral label.

        Kept per device and dtype: indexing it is one operation, where building a one-hot
        is several, and a batch-1 stream encodes a few frames per observed frame.
        """
        rows = self.__dict__.get("_rows")
        if rows is None or rows.device != x.device or rows.dtype != x.dtype:
            c = self.num_classes
            neutral = torch.full((1, c), self.strength / c)
            rows = torch.cat([torch.eye(c) * self.strength, neutral]).to(x.device, x.dtype)
            self.__dict__["_rows"] = rows
        return rows

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_rows"}  # a cache: rebuilt

    def encode(self, x, y):
        return torch.cat([x.flatten(1), self._label_rows(x)[y]], dim=1)

    def neutral(self, x):
        fill = self._label_rows(x)[-1].expand(x.shape[0], self.num_classes)
        return torch.cat([x.flatten(1), fill], dim=1)


class SpatialPattern(LabelEncoding):
    """Superimpose a class-specific pattern over the whole image (Scodellaro et al., 2023).

    Each class owns a fixed random pattern of the image's shape; the label is *added* everywhere,
    so every receptive field of a convolution sees it. The neutral label adds the mean pattern.

    Parameters
    ----------
    num_classes
        Number of classes.
    shape
        Frame shape without the batch, e.g. ``(1, 28, 28)``.
    strength
        Scale of the pattern relative to inputs in [0, 1].
    seed
        Seed for the patterns (fixed per encoding, stored with it).

    Examples
    --------
    >>> enc = SpatialPattern(10, (1, 4, 4), seed=0)
    >>> x = torch.zeros(2, 1, 4, 4)
    >>> a, b = enc.encode(x, torch.tensor([0, 1]))
    >>> bool((a != b).float().mean() > 0.5)  # labels differ almost everywhere
    True
    """

    def __init__(
        self, num_classes: int, shape: Sequence[int], strength: float = 0.5, seed: int = 0
    ):
        self.num_classes = num_classes
        self.shape = tuple(shape)
        self.strength = strength
        generator = torch.Generator().manual_seed(seed)
        signs = torch.randint(0, 2, (num_classes, *self.shape), generator=generator) * 2.0 - 1.0
        self.patterns = strength * signs

    def _patterns(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"frames of shape {tuple(x.shape[1:])}; encoding expects {self.shape}")
        if self.patterns.device != x.device or self.patterns.dtype != x.dtype:
            self.patterns = self.patterns.to(device=x.device, dtype=x.dtype)
        return self.patterns

    def encode(self, x, y):
        return x + self._patterns(x)[y]

    def neutral(self, x):
        return x + self._patterns(x).mean(0)


def scff_pairs(
    x: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Self-contrastive FF pairs (Chen et al., 2025): ``(cat(x, x), cat(x, x'))``.

    ``x'`` is another frame of the same batch (a random derangement), so negatives need no
    labels and no generator. Needs a batch of at least two frames.

    Examples
    --------
    >>> pos, neg = scff_pairs(torch.arange(6.0).view(3, 2), torch.Generator().manual_seed(0))
    >>> pos.shape, neg.shape
    (torch.Size([3, 4]), torch.Size([3, 4]))
    >>> bool((neg[:, :2] != neg[:, 2:]).any(1).all())  # second half always another frame
    True
    """
    batch = x.shape[0]
    if batch < 2:
        raise ValueError("SCFF pairs need a batch of at least two frames")
    shift = torch.randint(1, batch, (1,), generator=generator).item()
    other = torch.roll(torch.arange(batch), shifts=int(shift)).to(x.device)
    return torch.cat([x, x], dim=1), torch.cat([x, x[other]], dim=1)
