"""Every hyper-parameter of the forward-only agent, in one visible place (CleanRL style)."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from typing import Any

from ffstream._checks import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_int_tuple,
    check_non_negative,
    check_positive,
    check_share,
)

__all__ = ["MAX_REPLAY_RATIO", "AgentConfig", "load_config"]

#: The most updates per env step a config may ask for.
MAX_REPLAY_RATIO = 1024.0


@dataclass
class AgentConfig:
    """Hyper-parameters of :class:`~ffstream.agents.FFQAgent`.

    Units: *env steps* count single environment transitions (a vector step of ``N`` envs is
    ``N`` env steps); *updates* count local learning steps on a minibatch.

    Raises
    ------
    ValueError
        Naming the field, when a field has the wrong type (bools are not numbers, floats are
        not ints), is not finite or lies out of range (probabilities and ``adam_beta1`` in
        ``[0, 1]``/``[0, 1)``, ``replay_ratio`` in ``(0, MAX_REPLAY_RATIO]``), or when two
        fields disagree (``eps_end > eps_start``, ``memory_size < batch_size``).

    Examples
    --------
    >>> cfg = AgentConfig(hidden=(64, 64), lr=3e-4)
    >>> cfg.hidden, cfg.gamma
    ((64, 64), 0.99)
    >>> AgentConfig.from_dict({"hiden": [8]})
    Traceback (most recent call last):
    ...
    ValueError: unknown agent config key 'hiden'; did you mean 'hidden'? ...
    >>> AgentConfig(eps_start=5)
    Traceback (most recent call last):
    ...
    ValueError: eps_start must be in [0, 1], got 5
    """

    # -- network: a stack of FF layers, each with its own local Q readout
    hidden: tuple[int, ...] = (256, 256)
    """Widths of the FF layers, bottom first."""
    readout: str = "mean"
    """How the acting Q-values combine the layers' local readouts: ``"mean"`` or ``"last"``."""
    # -- temporal-difference learning (the third factor)
    gamma: float = 0.99
    lr: float = 1e-3
    lr_final_fraction: float = 0.1
    """The step size falls linearly from ``lr`` to ``lr * lr_final_fraction`` over the first
    ``lr_decay_steps`` env steps, then stays there (1: ``lr`` throughout)."""
    lr_decay_steps: int = 100_000
    """Env steps of the step size's decay (0: no decay). Chosen on ``ffstream bench cartpole``
    validation seeds 0-2 in 40,000-step runs decaying over the run: every seed stayed at 500
    on its last three greedy evaluations, against none with a constant lr (and none with
    replay_ratio 1). Over a 100,000-step run (seed 0) the last three were 319, 500, 500."""
    adam_beta1: float = 0.9
    batch_size: int = 64
    memory_size: int = 50_000
    """Capacity of the replay memory of real transitions (a ring buffer)."""
    learning_starts: int = 1_000
    """Env steps before the first update."""
    replay_ratio: float = 0.5
    """Updates per env step once learning has started."""
    target_every: int = 1
    """Updates between moves of the (per-layer) target layers towards the online layers."""
    target_tau: float = 0.005
    """Share of the way each move takes the targets (1: a copy; below 1: Polyak averaging).
    Chosen on ``ffstream bench cartpole`` validation seeds 0-2: a greedy 475 came sooner and
    more often than with a copy every 250 updates; 0.002 was too slow to learn at all."""
    double_q: bool = True
    huber: bool = True
    max_grad_norm: float = 10.0
    """Each layer's gradient is clipped to this norm, layer by layer (0 disables)."""
    # -- exploration
    eps_start: float = 1.0
    eps_end: float = 0.01
    eps_decay_steps: int = 10_000
    # -- Forward-Forward terms
    ff_weight: float = 0.1
    """Weight of the FF goodness objective next to the TD loss in every layer."""
    sleep_every: int = 1_000
    """Env steps between sleep phases (0: never sleep)."""
    sleep_steps: int = 4
    """Negative updates on dreamed states per sleep phase."""
    dream_noise: float = 0.5
    """Std of the noise added to feature-shuffled memories to make dreams (normalised units)."""
    # -- normalisation (stream-x)
    normalize_obs: bool = True
    obs_clip: float = 5.0
    reward_scale: float = 1.0
    # -- action spaces
    action_bins: int = 5
    """Box action spaces are discretised into this many bins per dimension."""
    max_actions: int = 256
    """Refuse a discretised Box space with more joint actions than this."""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    """Reserved; always empty (kept so configs can be extended without breaking checkpoints)."""

    def __post_init__(self) -> None:
        # Every field is checked here, when the config is made (also by ``replace`` and
        # ``from_dict``), so a bad value fails before an agent or a run exists.
        self.hidden = check_int_tuple(
            self.hidden, "hidden", what="a non-empty list of positive widths"
        )
        check_choice(self.readout, "readout", ("mean", "last"))
        for name in ("batch_size", "memory_size", "target_every", "max_actions"):
            setattr(self, name, check_int(getattr(self, name), name, low=1, what="an int >= 1"))
        # One bin per dimension would leave a discretised Box space a single action.
        self.action_bins = check_int(self.action_bins, "action_bins", low=2, what="an int >= 2")
        for name in (
            "learning_starts",
            "sleep_every",
            "sleep_steps",
            "eps_decay_steps",
            "lr_decay_steps",
        ):
            setattr(self, name, check_int(getattr(self, name), name, low=0, what="an int >= 0"))
        for name in ("double_q", "huber", "normalize_obs"):
            setattr(self, name, check_bool(getattr(self, name), name))
        self.gamma = check_float(self.gamma, "gamma", lambda v: 0.0 <= v < 1.0, "in [0, 1)")
        self.adam_beta1 = check_float(
            self.adam_beta1, "adam_beta1", lambda v: 0.0 <= v < 1.0, "in [0, 1)"
        )
        for name in ("lr", "obs_clip", "reward_scale"):
            setattr(self, name, check_positive(getattr(self, name), name))
        # Each env step earns replay_ratio updates: past the bound one vector step would run
        # for minutes (an infinite ratio never returns).
        self.replay_ratio = check_float(
            self.replay_ratio,
            "replay_ratio",
            lambda v: 0.0 < v <= MAX_REPLAY_RATIO,
            f"a number in (0, {MAX_REPLAY_RATIO}] (updates per env step)",
        )
        for name in ("max_grad_norm", "ff_weight", "dream_noise"):
            setattr(self, name, check_non_negative(getattr(self, name), name))
        for name in ("eps_start", "eps_end"):
            setattr(self, name, check_share(getattr(self, name), name))
        self.lr_final_fraction = check_float(
            self.lr_final_fraction, "lr_final_fraction", lambda v: 0.0 < v <= 1.0, "in (0, 1]"
        )
        self.target_tau = check_float(
            self.target_tau, "target_tau", lambda v: 0.0 < v <= 1.0, "in (0, 1]"
        )
        # Fields that are fine alone but not together.
        if self.eps_end > self.eps_start:
            raise ValueError(
                f"eps_end ({self.eps_end}) must not exceed eps_start ({self.eps_start}): "
                "exploration decays from eps_start to eps_end"
            )
        if self.memory_size < self.batch_size:
            # The agent learns once the memory holds a batch: it never would.
            raise ValueError(
                f"memory_size ({self.memory_size}) must be at least batch_size "
                f"({self.batch_size}), or the agent never learns"
            )
        if not isinstance(self.extra, dict) or self.extra:
            raise ValueError(f"extra is reserved and must be an empty dict, got {self.extra!r}")

    def lr_at(self, env_steps: int) -> float:
        """The step size after ``env_steps`` env steps (see ``lr_decay_steps``).

        Examples
        --------
        >>> cfg = AgentConfig(lr=1e-3, lr_final_fraction=0.1, lr_decay_steps=1000)
        >>> cfg.lr_at(0), round(cfg.lr_at(500), 6), round(cfg.lr_at(5000), 6)
        (0.001, 0.00055, 0.0001)
        """
        if self.lr_decay_steps == 0:
            return self.lr
        done = min(1.0, env_steps / self.lr_decay_steps)
        return self.lr * (1.0 - done * (1.0 - self.lr_final_fraction))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentConfig:
        """Build a config from plain data; unknown keys raise ``ValueError`` naming them."""
        names = [f.name for f in fields(cls) if f.name != "extra"]
        for key in data:
            if key not in names:
                import difflib

                close = difflib.get_close_matches(key, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"unknown agent config key {key!r}{hint} (valid keys: {', '.join(names)})"
                )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists for tuples), suitable for JSON, TOML and checkpoints."""
        out = dataclasses.asdict(self)
        out.pop("extra")
        out["hidden"] = list(self.hidden)
        return out

    def replace(self, **changes: Any) -> AgentConfig:
        """A copy with some fields changed (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def load_config(path: str | os.PathLike) -> AgentConfig:
    """Read an :class:`AgentConfig` from a TOML file whose keys are the config's fields.

    The keys may sit at the top level or under an ``[agent]`` table. Errors (missing file, bad
    TOML, unknown keys, bad values) raise ``ValueError`` or ``FileNotFoundError`` naming the file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "agent.toml"
    >>> _ = path.write_text("hidden = [32]\\nlr = 0.0005\\n")
    >>> load_config(path).hidden
    (32,)
    """
    data = read_config_table(path)
    try:
        return AgentConfig.from_dict(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None


def read_config_table(path: str | os.PathLike) -> dict[str, Any]:
    """The config table of a TOML file: its top level, or its ``[agent]`` table.

    ``FileNotFoundError`` for a missing file; ``ValueError`` naming the file when it cannot be
    read or is not UTF-8 TOML.
    """
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"no config file at {path}") from None
    except OSError as err:
        raise ValueError(f"{path} cannot be read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text, so not TOML") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML: {err}") from None
    if set(data) == {"agent"} and isinstance(data["agent"], dict):
        data = data["agent"]
    return data
