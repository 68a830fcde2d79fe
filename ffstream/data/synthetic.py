"""Generated streams for trying learners and detectors: a sensor feed with injected faults."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

__all__ = ["FAULTS", "sensor_stream"]

#: the kinds of fault :func:`sensor_stream` injects
FAULTS = ("spike", "stuck", "offset", "decouple")


def sensor_stream(
    n: int = 5000,
    channels: int = 6,
    anomaly_rate: float = 0.02,
    warmup: int = 300,
    seed: int = 0,
) -> Iterator[tuple[dict[str, float], bool]]:
    """A simulated multi-channel sensor feed with injected faults: ``(frame, is_anomaly)``.

    The channels are noisy mixtures of two slow latent oscillations (so they are correlated,
    like temperatures around one machine). After ``warmup`` frames, each frame starts a fault
    with probability ``anomaly_rate``; a fault lasts 1 to 5 frames on one channel and is one of
    :data:`FAULTS`:

    - ``spike``: the channel jumps by 3 to 6 (without faults a channel stays within about ±2);
    - ``stuck``: the channel freezes at its value when the fault began;
    - ``offset``: the channel shifts by 2;
    - ``decouple``: the channel flips sign, so each value is ordinary but the correlation with
      the other channels is broken.

    Frames are river-style dicts (``{"ch0": ..., "ch1": ...}``), so the stream feeds river's
    anomaly detectors and :class:`ffstream.river.FFAnomalyDetector` directly; the label says
    whether a fault is under way. The same arguments give the same stream.

    Parameters
    ----------
    n
        Frames to generate.
    channels
        Sensor channels per frame.
    anomaly_rate
        Probability that a frame after ``warmup`` starts a fault (when none is under way).
    warmup
        Leading frames without faults.
    seed
        Seed of the stream's own random generator (the global one is not touched).

    Yields
    ------
    tuple[dict[str, float], bool]
        The frame and whether it is faulty.

    Examples
    --------
    >>> frames = list(sensor_stream(n=1000, seed=0))
    >>> len(frames), sorted(frames[0][0])[:2], 5 < sum(y for _, y in frames) < 100
    (1000, ['ch0', 'ch1'], True)
    >>> any(y for _, y in frames[:300])  # no fault during the warm-up
    False
    """
    rng = random.Random(seed)
    mix = [(rng.uniform(-1, 1), rng.uniform(-1, 1)) for _ in range(channels)]
    fault, left, channel, stuck = None, 0, 0, 0.0
    for t in range(n):
        z1, z2 = math.sin(2 * math.pi * t / 200), math.cos(2 * math.pi * t / 57)
        values = [a * z1 + b * z2 + rng.gauss(0, 0.1) for a, b in mix]
        if left == 0 and t >= warmup and rng.random() < anomaly_rate:
            fault, left, channel = rng.choice(FAULTS), rng.randint(1, 5), rng.randrange(channels)
            stuck = values[channel]
        is_anomaly = left > 0
        if is_anomaly:
            if fault == "spike":
                values[channel] += rng.choice((-1, 1)) * rng.uniform(3, 6)
            elif fault == "stuck":
                values[channel] = stuck
            elif fault == "offset":
                values[channel] += 2.0
            else:
                values[channel] = -values[channel]
            left -= 1
        yield {f"ch{i}": v for i, v in enumerate(values)}, is_anomaly
