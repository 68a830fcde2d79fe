"""What a layer pipeline (:mod:`ffstream.distributed.pipeline`) can run, and its stages' layers."""

from __future__ import annotations

from collections.abc import Sequence

from ffstream.stream import CallableDreams, HybridDreams, StreamLearner, WrongLabelDreams

__all__ = ["layer_bounds", "pipeline_refusals"]

_DREAMS = (WrongLabelDreams, HybridDreams, CallableDreams)  # made at the head from frames alone


def pipeline_refusals(learner: StreamLearner) -> list[str]:
    """The settings of ``learner`` that a layer pipeline cannot run, each with the reason
    (empty: it can be pipelined).

    Examples
    --------
    >>> pipeline_refusals(StreamLearner(4, 2, hidden=(8, 8), device="cpu", ema_decay=None))
    []
    >>> pipeline_refusals(StreamLearner(4, 2, hidden=(8, 8), device="cpu"))
    ['ema_decay (the weight average predicts from every layer at once: pass ema_decay=None)']
    """
    cfg, out = learner.config, []
    if cfg.ema_decay is not None:
        out.append(
            "ema_decay (the weight average predicts from every layer at once: pass ema_decay=None)"
        )
    if cfg.num_classes and cfg.predict_with != "readout":
        out.append("predict_with='goodness' (its scores sum every layer's goodness of every label)")
    if cfg.readout_learns != "always":
        out.append("readout_learns='asleep' (the readout learns only from frames that travel)")
    if not cfg.replay:
        out.append("replay=False (every sleep step sends the replayed frames up)")
    if learner.schedule.interleaved or learner.schedule.uses_signal:
        out.append(
            f"schedule {learner.schedule!r} (it needs the top's scores or error at once; use "
            f"one that counts frames, EveryN)"
        )
    if type(learner.dreams) not in _DREAMS:
        out.append(
            f"dreams {type(learner.dreams).__name__} (the head makes dreams from frames and "
            f"stale scores alone: WrongLabelDreams, HybridDreams or CallableDreams)"
        )
    if learner.device.type != "cpu":
        out.append(f"device {learner.device} (the stages send CPU tensors over gloo)")
    return out


def layer_bounds(bounds: Sequence[int] | None, layers: int, world: int) -> list[int]:
    """Checked stage bounds: rank ``k`` holds layers ``bounds[k]`` to ``bounds[k + 1] - 1``
    (``None``: even shares, the upper stages taking any extra layer).

    Examples
    --------
    >>> layer_bounds(None, 4, 2), layer_bounds(None, 3, 2), layer_bounds([0, 1, 4], 4, 2)
    ([0, 2, 4], [0, 1, 3], [0, 1, 4])
    """
    if bounds is None:
        return [k * layers // world for k in range(world + 1)]
    out = [int(b) for b in bounds]
    if len(out) != world + 1 or out[0] != 0 or out[-1] != layers:
        raise ValueError(f"bounds must be {world + 1} ints from 0 to {layers}, got {bounds}")
    if any(a >= b for a, b in zip(out, out[1:])):
        raise ValueError(f"bounds must increase (every stage at least one layer), got {bounds}")
    return out
