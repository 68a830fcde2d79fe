"""InputStandardizer: a forgetting, outlier-robust running standardiser of frames.

A user's sensor feed arrives in its own units: a temperature near 300, a count in the
thousands, a flag of 0 or 1. The FF layers RMS-normalise what they receive, so without
standardisation the largest-scaled feature drowns the others and a feature's offset hides its
variation. This part turns each feature into standard units with estimates that follow the
stream, are bounded against glitches and never stop learning. It is the one standardiser of the
library: the learner core and the river front ends (whose features may be missing from a sample
or appear late) both use it.

The arithmetic is written once, over an array namespace: torch's on an accelerator or for
large batches, NumPy's (on zero-copy views of the same buffers) on a CPU, where a batch of one
frame costs a few microseconds instead of the tens that torch's per-operation dispatch takes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ffstream.stream._standardizer_numpy import ScaleViews, warm_update

__all__ = ["InputStandardizer"]

#: the largest variance kept: squares of float32 frames can overflow, a variance never does
_LARGEST = float(torch.finfo(torch.float32).max / 4)

#: CPU batches of at most this many values run through NumPy (above it torch's kernels win)
_NUMPY_WORK = 1 << 16


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
    single frames would carry together. A feature may be missing from some frames
    (``present``) or join later (:meth:`grow`): each keeps its own count, so a late feature
    has a young phase of its own. On an accelerator everything stays on the frames' device,
    with no host synchronisation; on a CPU, :meth:`update_array` and
    :meth:`standardize_array` also take NumPy arrays directly.

    Parameters
    ----------
    num_features
        Features per (flat) frame.
    horizon
        Frames after which the equal average turns into an exponentially weighted one
        (``math.inf``: never; a plain running mean and variance).
    winsor
        Bound of each update, in standard deviations from the mean (``math.inf``: unbounded).
    clip
        Bound of standardised values (``math.inf``: unclipped).
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
            if not value > 0:  # NaN fails too
                raise ValueError(f"{name} must be a number > 0 (inf allowed), got {value}")
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 0:
            raise ValueError(f"num_features must be an int >= 0, got {num_features!r}")
        self.horizon, self.winsor, self.clip, self.warmup = horizon, winsor, clip, warmup
        self.count = 0  # frames seen: a host number, known without asking the device
        # The mean is kept as shift + offset, the shift set by a feature's first frames: a
        # feature far from zero with a small spread (a temperature in kelvin) would otherwise
        # need steps below float32's resolution of its mean, and its mean would stop following.
        self.register_buffer("shift", torch.zeros(num_features))
        self.register_buffer("offset", torch.zeros(num_features))
        self.register_buffer("var", torch.zeros(num_features))
        # Frames each feature was present in. A learner's frames have every feature, so this
        # is ``count`` for all (not saved: rebuilt from it); a river sample may lack some, and
        # features may join late, each with its own young phase. (float32 stops counting at
        # 2**24 frames, long after the weight has settled at its floor.)
        self.register_buffer("seen", torch.zeros(num_features), persistent=False)
        # Host flags that pick the NumPy step: every feature warm (seen ``warmup`` times) and
        # varied, so the fast step applies; and some feature still in its young phase.
        self._warm = False
        self._young = True
        self._views: ScaleViews | None = None

    @property
    def mean(self) -> torch.Tensor:
        """The running mean of each feature."""
        return self.shift + self.offset

    @property
    def num_features(self) -> int:
        return self.var.shape[0]

    # ------------------------------------------------------------------ state
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_views"] = None  # views into this object's memory: a copy makes its own
        return state

    def _apply(self, fn, recurse: bool = True):
        self._views = None  # .to(), .double(): the buffers are new tensors
        return super()._apply(fn, recurse)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self.refresh()  # the cached scale derives from the variance just loaded

    def refresh(self) -> None:
        """Derive the cached scale again: after something else changed the estimates in place
        (a collective averaging them across ranks)."""
        self._views = None
        self._warm = False

    def restore_count(self, count: int) -> None:
        """Set ``count`` after ``load_state_dict`` (every feature seen in every frame)."""
        self.count = count
        self.seen.fill_(count)
        self._warm = False

    def grow(self, n: int) -> None:
        """Track ``n`` more features (appended), each unseen so far."""
        for name in ("shift", "offset", "var", "seen"):
            old = getattr(self, name)
            setattr(self, name, torch.cat([old, old.new_zeros(n)]))
        self._views = None
        self._warm = False

    def _numpy(self) -> ScaleViews:
        """The NumPy views of this (CPU) standardiser, rebuilt when a buffer was replaced."""
        views = self._views
        if views is None or views.source is not self._buffers["var"]:
            if self.var.device.type != "cpu":
                raise ValueError(
                    f"NumPy arrays need a CPU standardiser, this one is on {self.var.device}"
                )
            views = self._views = ScaleViews(self._buffers, self.winsor)
        return views

    def _on_numpy(self, x: torch.Tensor) -> bool:
        """Whether ``x`` goes through NumPy: a small CPU batch for a CPU standardiser."""
        cpu = x.device.type == "cpu" and self.var.device.type == "cpu"
        return cpu and x.numel() <= _NUMPY_WORK and not x.requires_grad

    # ------------------------------------------------------------------ torch
    def update(self, x: torch.Tensor, present: torch.Tensor | None = None) -> None:
        """Move the estimates toward a batch of flat frames ``(batch, num_features)``.

        ``present`` (a bool mask of features, default all) marks the features these frames
        have: the others keep their estimates, whatever ``x`` holds there.
        """
        if self._on_numpy(x):
            mask = None if present is None else present.numpy()
            self.update_array(x.detach().numpy(), mask)
            return
        if x.shape[0] == 0:
            return
        self.update_buffers(x, present)
        self.count_update(x.shape[0])

    def update_buffers(self, x: torch.Tensor, present: torch.Tensor | None = None) -> None:
        """:meth:`update`'s tensor arithmetic alone, in torch, for a non-empty batch.

        Pure tensor work (no host state is read or written), so a compiled awake step can
        hold it; :meth:`count_update` must follow it, outside the compiled code.
        """
        with torch.no_grad():
            buffers = self.shift, self.offset, self.var, self.seen
            settings = self._weight(x.shape[0]), self.winsor, self.warmup
            _update(torch, buffers, x.to(self.var.dtype), present, *settings)

    def count_update(self, n: int) -> None:
        """The host side of an update of ``n`` frames made by :meth:`update_buffers`."""
        self.refresh()  # its cached scale is stale
        self.count += n

    def standardize_tensor(self, x: torch.Tensor, present: torch.Tensor | None = None):
        """:meth:`forward` in torch whatever the batch (never through NumPy)."""
        with torch.no_grad():
            xs = x.to(self.var.dtype)
            z = _standardize(xs, self.shift, self.offset, self.var, self.clip, present)
        return z.to(x.dtype)

    def forward(self, x: torch.Tensor, present: torch.Tensor | None = None) -> torch.Tensor:
        """Flat frames in standard units, clipped to ``±clip`` (the estimates do not move).

        A feature not ``present`` (mask, default all) standardises to 0, its running mean.
        """
        if self._on_numpy(x):
            mask = None if present is None else present.numpy()
            return torch.from_numpy(self.standardize_array(x.numpy(), mask)).to(x.dtype)
        return self.standardize_tensor(x, present)

    # ------------------------------------------------------------------ numpy
    def update_array(self, x: np.ndarray, present: np.ndarray | None = None) -> None:
        """:meth:`update` for NumPy frames ``(batch, num_features)`` or one ``(num_features,)``
        (a CPU standardiser only)."""
        views = self._numpy()
        x = np.asarray(x, dtype=views.var.dtype)
        x = x.reshape(-1, x.shape[-1]) if x.ndim == 1 else x
        n = x.shape[0]
        if n == 0:
            return
        # A square past float32 is clipped, and an infinite winsor times a zero deviation
        # is discarded, as in torch.
        with np.errstate(over="ignore", invalid="ignore"):
            if present is None and self._warm:
                self._warm_step(views, x)
            else:
                self._general_step(views, x, present)
        self._plain(count=self.count + n)

    def _plain(self, **values) -> None:
        """Set plain attributes past ``Module.__setattr__``, whose type checks cost more than
        a whole NumPy step of a small frame (these are never tensors or modules)."""
        self.__dict__.update(values)

    def _warm_step(self, views: ScaleViews, x: np.ndarray) -> None:
        n = len(x)
        weight = self._weight(n)
        if self._young:  # equal shares while young: a weight per feature
            weight = np.maximum(n / (views.seen + n), weight)
        warm_update(views, x, weight, _LARGEST)
        if self._young:
            self._plain(_young=bool(views.seen.min() < self.horizon))
        if views.var.all():
            views.refresh_varied(self.winsor)
        else:  # a variance that underflowed to 0 needs the general step's bound again
            self._plain(_warm=False)
            views.refresh(self.winsor)

    def _general_step(self, views: ScaleViews, x: np.ndarray, present: np.ndarray | None):
        buffers = views.shift, views.offset, views.var, views.seen
        _update(np, buffers, x, present, self._weight(len(x)), self.winsor, self.warmup)
        self._plain(_warm=self._all_warm(views))
        views.refresh(self.winsor)

    def standardize_array(self, x: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
        """:meth:`forward` for NumPy frames (a CPU standardiser only); a new array."""
        views = self._numpy()
        return views.standardize(np.asarray(x, dtype=views.var.dtype), self.clip, present)

    def _weight(self, n: int) -> float:
        """The weight of ``n`` frames once past the young phase."""
        return 1.0 - (1.0 - 1.0 / self.horizon) ** n

    def _all_warm(self, views: ScaleViews) -> bool:
        """Every feature warm and varied (and, as a side effect, whether any is young)."""
        if not len(views.seen):
            return False
        least = views.seen.min()
        self._plain(_young=bool(least < self.horizon))
        return bool(least >= self.warmup and views.var.all())


def _standardize(x, shift, offset, var, clip, present):
    """``(x - mean) / std`` clipped to ``±clip``; 0 for unvaried or missing features (the
    torch twin of :meth:`ScaleViews.standardize`, which caches the scale)."""
    inv_std = torch.where(var > 0, var.rsqrt(), 0.0)
    if present is not None:
        inv_std = inv_std * present
    return ((x - shift - offset) * inv_std).clip(-clip, clip)


def _update(xp, buffers, x, present, settled_weight: float, winsor: float, warmup: int) -> None:
    """One batch's step of the running estimates, in place, in the namespace ``xp``."""
    shift, offset, var, seen = buffers
    n = x.shape[0]
    first = seen == 0 if present is None else (seen == 0) & present
    shift[...] = xp.where(first, x.mean(0), shift)
    x = x - shift
    # A feature that has not varied has no scale yet: its first change is bounded by its own
    # size (at least 1), so one glitch cannot set a scale that takes thousands of frames to
    # forget; changes that keep coming widen it geometrically.
    fallback = winsor * abs(shift + offset).clip(min=1.0)
    reach = xp.where(var > 0, winsor * var**0.5, fallback)
    bounded = xp.minimum(xp.maximum(x, offset - reach), offset + reach)
    x = xp.where(seen >= warmup, bounded, x)
    # The weight of n frames: equal shares while young, then what n forgetting steps give.
    weight = (n / (seen + n)).clip(min=settled_weight)
    if present is not None:
        weight = weight * present
    batch_mean = x.mean(0)
    delta = batch_mean - offset
    offset += weight * delta
    spread = (1.0 - weight) * weight * delta * delta  # in this order: 0, not 0 * inf
    if n > 1:
        spread = spread + weight * ((x - batch_mean) ** 2).mean(0)
    # finite whatever the input: a variance that overflowed would read every value as 0
    var[...] = ((1.0 - weight) * var + spread).clip(max=_LARGEST)
    seen += n if present is None else present * n
