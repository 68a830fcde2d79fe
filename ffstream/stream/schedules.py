"""Sleep schedules: when the learner stops learning from the world and dreams.

A schedule is told, after every observed batch, how many frames arrived and a scalar signal
(the prequential error rate when labels are known, else the mean novelty). It answers how many
sleep steps are due now: 0 stays awake, ``None`` means "a full sleep" (the learner picks the
length: one replay of what it saw since the last sleep).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["Schedule", "Interleaved", "EveryN", "Manual", "OnDrift"]


class Schedule:
    """Base class. ``interleaved`` schedules make a negative update with every awake frame;
    ``uses_signal`` schedules read the error/novelty signal (others get ``None``, which spares
    the learner a host sync per frame)."""

    interleaved: bool = False
    uses_signal: bool = False

    def after_observe(self, frames: int, signal: float | None) -> int | None:
        """Sleep steps due after ``frames`` more frames: 0 (awake), an int, or None (full)."""
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class Interleaved(Schedule):
    """No separate sleep: a positive and a negative update on every frame (the FF baseline)."""

    interleaved = True


class Manual(Schedule):
    """Never sleeps by itself; call :meth:`StreamLearner.sleep` when you want it."""


class EveryN(Schedule):
    """Sleep every ``frames`` frames, for ``steps`` steps (``None``: a full sleep).

    Examples
    --------
    >>> schedule = EveryN(frames=3)
    >>> [schedule.after_observe(1, None) for _ in range(7)]
    [0, 0, None, 0, 0, None, 0]
    """

    def __init__(self, frames: int = 1000, steps: int | None = None):
        if frames <= 0:
            raise ValueError(f"frames must be positive, got {frames}")
        self.frames = frames
        self.steps = steps
        self._since = 0

    def after_observe(self, frames, signal):
        self._since += frames
        if self._since < self.frames:
            return 0
        self._since = 0
        return self.steps

    def state_dict(self):
        return {"since": self._since}

    def load_state_dict(self, state):
        self._since = int(state["since"])


class OnDrift(Schedule):
    """Sleep when a river drift detector fires on the error (or novelty) stream.

    Parameters
    ----------
    detector
        A river drift detector (``river.drift.ADWIN()``, ``PageHinkley()``, ...). It resets
        itself after each detection, as river detectors do.
    steps
        Sleep steps per detection (``None``: a full sleep).
    max_frames
        Also sleep after this many frames without a detection, so memory gets consolidated.
    min_frames
        Ignore detections sooner than this after the last sleep.

    Examples
    --------
    >>> from river import drift
    >>> schedule = OnDrift(drift.PageHinkley(min_instances=10, threshold=5), max_frames=10_000)
    >>> fired = [schedule.after_observe(1, 0.0 if t < 200 else 1.0) for t in range(400)]
    >>> 200 < fired.index(None) < 260
    True
    """

    uses_signal = True

    def __init__(
        self,
        detector=None,
        steps: int | None = None,
        max_frames: int = 10_000,
        min_frames: int = 100,
    ):
        from river import drift

        self.detector = detector if detector is not None else drift.ADWIN()
        self.steps = steps
        self.max_frames = max_frames
        self.min_frames = min_frames
        self._since = 0

    def after_observe(self, frames, signal):
        self._since += frames
        drifted = False
        if signal is not None:
            self.detector.update(float(signal))
            drifted = self.detector.drift_detected
        if (drifted and self._since >= self.min_frames) or self._since >= self.max_frames:
            self._since = 0
            return self.steps
        return 0

    def state_dict(self):
        return {"since": self._since, "detector": _object_state(self.detector)}

    def load_state_dict(self, state):
        self._since = int(state["since"])
        _restore_object(self.detector, state["detector"])


# A river detector's state as plain data, so checkpoints stay free of pickles. River's Rust
# helpers (ADWIN's AdaptiveWindowing) expose their state as bytes through __getstate__.
def _object_state(obj) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for key, value in vars(obj).items():
        if callable(value) and not hasattr(value, "__getstate__"):
            continue
        if value is None or isinstance(value, bool | int | float | str):
            state[key] = value
        elif type(value).__module__.startswith("river._river_rust"):
            state[key] = {
                "__bytes__": torch.frombuffer(bytearray(value.__getstate__()), dtype=torch.uint8)
            }
        elif hasattr(value, "__dict__") and not callable(value):
            state[key] = {"__object__": _object_state(value)}
    return state


def _restore_object(obj, state: dict[str, Any]) -> None:
    for key, value in state.items():
        if isinstance(value, dict) and "__bytes__" in value:
            getattr(obj, key).__setstate__(bytes(value["__bytes__"].tolist()))
        elif isinstance(value, dict) and "__object__" in value:
            _restore_object(getattr(obj, key), value["__object__"])
        else:
            setattr(obj, key, value)
