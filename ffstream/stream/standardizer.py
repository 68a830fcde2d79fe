"""InputStandardizer: a forgetting, outlier-robust running standardiser of frames, in torch.

A user's sensor feed arrives in its own units: a temperature near 300, a count in the
thousands, a flag of 0 or 1. The FF layers RMS-normalise what they receive, so without
standardisation the largest-scaled feature drowns the others and a feature's offset hides its
variation. This part turns each feature into standard units with estimates that follow the
stream, are bounded against glitches and never stop learning.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["InputStandardizer"]

#: the largest variance kept: squares of float32 frames can overflow, a variance never does
_LARGEST = torch.finfo(torch.float32).max / 4


class InputStandardizer(nn.Module):
    """Per-feature running mean and variance that forget, winsorised against outliers.

    The first ``horizon`` frames are averaged equally; after that every frame has weight
    ``1 / horizon``: an exponentially weighted mean and variance with a time constant of
    ``horizon`` frames, so the scale follows a feature whose range really changes. Once
    ``warmup`` frames have been seen, a value more than ``winsor`` standard deviations from the
    mean updates the estimates as if it lay on that bound, so one glitch moves them no further
    than one ordinary far value would. Standardised values are clipped to ``±clip``; a feature
    that has not varied yet standardises to 0.

    Why these bounds: each frame that lands on the bound widens the variance by about
    ``winsor**2 / horizon``. At 3 deviations a real change of scale is still followed (the
    variance grows a hundredfold in about 500 frames), while a burst of 50 faulty frames
    widens a feature's scale by only a quarter; at 10 deviations the same burst would widen it
    tenfold and leave that feature squashed for thousands of frames. Clipping at 3 keeps what
    the model sees of any one frame in the range of ordinary ones (about three Gaussian values
    in a thousand lie beyond it).

    :meth:`update` takes a batch: its frames count as one step whose weight is what ``batch``
    single frames would carry together. Everything stays on the frames' device, with no host
    synchronisation.

    Parameters
    ----------
    num_features
        Features per (flat) frame.
    horizon
        Frames after which the equal average turns into an exponentially weighted one.
    winsor
        Bound of each update, in standard deviations from the mean.
    clip
        Bound of standardised values.
    warmup
        Frames needed before updates are winsorised (before that the scale is still a guess).

    Examples
    --------
    >>> s = InputStandardizer(2)
    >>> s.update(torch.tensor([[1.0, 10.0], [3.0, 10.0]]))
    >>> s(torch.tensor([[3.0, 10.0]])).tolist()
    [[1.0, 0.0]]

    One wild value moves a warmed-up feature no further than a value ``winsor`` deviations out:

    >>> s = InputStandardizer(1)
    >>> g = torch.Generator().manual_seed(0)
    >>> for value in torch.randn(500, 1, 1, generator=g):
    ...     s.update(value)
    >>> s.update(torch.tensor([[1e6]]))
    >>> bool(s.mean.abs() < 0.1 and 0.8 < s.var.sqrt() < 1.3)
    True
    """

    def __init__(
        self,
        num_features: int,
        *,
        horizon: float = 1000.0,
        winsor: float = 3.0,
        clip: float = 3.0,
        warmup: int = 10,
    ):
        super().__init__()
        for name, value in (("horizon", horizon), ("winsor", winsor), ("clip", clip)):
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value}")
        self.horizon, self.winsor, self.clip, self.warmup = horizon, winsor, clip, warmup
        self.count = 0  # frames seen: a host number, known without asking the device
        # The mean is kept as shift + offset, the shift set by the first batch: a feature far
        # from zero with a small spread (a temperature in kelvin) would otherwise need steps
        # below float32's resolution of its mean, and its mean would stop following it.
        self.register_buffer("shift", torch.zeros(num_features))
        self.register_buffer("offset", torch.zeros(num_features))
        self.register_buffer("var", torch.zeros(num_features))

    @property
    def mean(self) -> torch.Tensor:
        """The running mean of each feature."""
        return self.shift + self.offset

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Move the estimates toward a batch of flat frames ``(batch, num_features)``."""
        n = x.shape[0]
        x = x.to(self.var.dtype)
        if self.count == 0:
            self.shift.copy_(x.mean(0))
        x = x - self.shift
        if self.count >= self.warmup:
            # A feature that has not varied has no scale yet: its first change is bounded by
            # its own size (at least 1), so one glitch cannot set a scale that takes thousands
            # of frames to forget; changes that keep coming widen it geometrically.
            fallback = self.winsor * self.mean.abs().clamp_(min=1.0)
            reach = torch.where(self.var > 0, self.winsor * self.var.sqrt(), fallback)
            x = torch.minimum(torch.maximum(x, self.offset - reach), self.offset + reach)
        # The weight of n frames: equal shares while young, then what n forgetting steps give.
        weight = max(n / (self.count + n), 1.0 - (1.0 - 1.0 / self.horizon) ** n)
        batch_mean = x.mean(0)
        batch_var = x.var(0, unbiased=False) if n > 1 else torch.zeros_like(batch_mean)
        delta = batch_mean - self.offset
        self.offset += weight * delta
        spread = (1.0 - weight) * weight * delta.square() + weight * batch_var
        # finite whatever the input: a variance that overflowed would read every value as 0
        self.var.mul_(1.0 - weight).add_(spread).clamp_(max=_LARGEST)
        self.count += n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Flat frames in standard units, clipped to ``±clip`` (the estimates do not move)."""
        inv_std = torch.where(self.var > 0, self.var.rsqrt(), 0.0)
        centred = x.to(self.var.dtype) - self.shift - self.offset
        return (centred * inv_std).clamp_(-self.clip, self.clip).to(x.dtype)
