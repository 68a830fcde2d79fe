"""Turn an environment id into a running vector environment: :func:`make` and :func:`list_envs`.

Three kinds of id are understood, tried in this order:

1. our torch-vectorised environments, under gymnasium's own ids (``"CartPole-v1"``) or
   gymnasium's namespaced ones (``"ffstream/CartPole-v1"``);
2. a plugin, ``"package.module:attr"``, where ``attr`` is a class or factory called as
   ``attr(num_envs=..., device=..., **kw)``;
3. any other gymnasium id (including gymnasium's ``"module:EnvId-v0"`` form), vectorised by
   gymnasium itself and wrapped to speak torch.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Any

import gymnasium
import torch
from ffstream.envs.gymnasium_registration import NAMESPACE
from ffstream.envs.gymnasium_vector import GymnasiumVectorEnv
from ffstream.envs.wrappers import TorchToNumpy

__all__ = ["UnknownEnvError", "list_envs", "load_entry_point", "make", "register"]

#: our ids -> "module:attr" of the class that implements them
_REGISTRY: dict[str, str | Callable[..., Any]] = {
    "CartPole-v1": "ffstream.envs.cartpole:CartPole",
    "Acrobot-v1": "ffstream.envs.acrobot:Acrobot",
}

_BACKENDS = ("auto", "ffstream", "gymnasium")
_ARRAYS = ("torch", "numpy")


class UnknownEnvError(ValueError):
    """No environment answers to this id (the message lists the closest ids that do)."""


def register(env_id: str, entry_point: str | Callable[..., Any]) -> None:
    """Add an environment to ffstream's registry so :func:`make` finds it by ``env_id``.

    ``entry_point`` is a class or factory (or its ``"module:attr"`` path) called as
    ``entry_point(num_envs=..., device=..., **kw)``.

    Examples
    --------
    >>> from ffstream.envs.cartpole import CartPole
    >>> register("MyCartPole-v0", CartPole)
    >>> make("MyCartPole-v0", num_envs=2).num_envs
    2
    >>> _ = _REGISTRY.pop("MyCartPole-v0")
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env_id must be a non-empty string, got {env_id!r}")
    _REGISTRY[env_id] = entry_point


def list_envs() -> list[str]:
    """The ids our own (torch-vectorised) registry offers, sorted.

    Any gymnasium id works with :func:`make` too, and so does ``"package.module:attr"``.

    Examples
    --------
    >>> list_envs()
    ['Acrobot-v1', 'CartPole-v1']
    """
    return sorted(_REGISTRY)


def make(
    env_id: str,
    num_envs: int = 1,
    device: torch.device | str = "cpu",
    *,
    backend: str = "auto",
    arrays: str = "torch",
    **kwargs: Any,
) -> Any:
    """Build ``num_envs`` copies of environment ``env_id`` that return torch tensors on ``device``.

    Parameters
    ----------
    env_id
        One of :func:`list_envs`, any gymnasium id, or ``"package.module:attr"``.
    num_envs
        How many environments step together.
    device
        Where observations, rewards and flags are returned.
    backend
        ``"auto"`` prefers our torch implementation when there is one, ``"ffstream"`` requires
        it, ``"gymnasium"`` forces gymnasium's (sync-vectorised, results moved to ``device``).
    arrays
        ``"torch"`` returns tensors on ``device``; ``"numpy"`` returns numpy arrays on the host,
        as gymnasium's vector wrappers such as ``RecordEpisodeStatistics`` expect (our
        environments still compute on ``device``, behind :class:`~ffstream.envs.TorchToNumpy`).
    **kwargs
        Passed to the environment: our classes take ``dtype``, ``obs_dtype``,
        ``max_episode_steps``, ``validate_actions``, ``render_mode``; gymnasium ids take their
        env kwargs.

    Raises
    ------
    UnknownEnvError
        (a ``ValueError``) when nothing answers to ``env_id``, listing close matches.

    Examples
    --------
    >>> env = make("CartPole-v1", num_envs=4)
    >>> type(env).__name__
    'CartPole'
    >>> make("CartPole-v1", num_envs=4, backend="gymnasium")
    <GymnasiumVectorEnv, SyncVectorEnv(CartPole-v1, num_envs=4)>
    >>> make("CartPole-v1", num_envs=4, arrays="numpy").reset(seed=0)[0].dtype
    dtype('float32')
    >>> pendulum = make("Pendulum-v1", num_envs=2)
    >>> pendulum.reset(seed=0)[0].shape
    torch.Size([2, 3])
    >>> try:
    ...     make("CartPol-v1")
    ... except ValueError as err:
    ...     print(err)
    unknown environment 'CartPol-v1'; did you mean 'CartPole-v1', ...
    """
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    if arrays not in _ARRAYS:
        raise ValueError(f"arrays must be one of {_ARRAYS}, got {arrays!r}")
    if not isinstance(env_id, str):
        raise ValueError(f"env_id must be a string, got {env_id!r}")
    own_id = env_id.removeprefix(f"{NAMESPACE}/")
    if backend != "gymnasium" and own_id in _REGISTRY:
        env = load_entry_point(_REGISTRY[own_id])(num_envs=num_envs, device=device, **kwargs)
    elif backend == "ffstream":
        raise UnknownEnvError(_unknown_message(env_id, list(_REGISTRY)))
    elif (plugin := _find_plugin(env_id)) is not None:
        env = plugin(num_envs=num_envs, device=device, **kwargs)
    else:
        env = _make_gymnasium(env_id, num_envs, device, **kwargs)
        if arrays == "numpy":
            return env.env  # gymnasium's own numpy vector env: no round trip through torch
    return TorchToNumpy(env) if arrays == "numpy" else env


def load_entry_point(entry_point: str | Callable[..., Any]) -> Callable[..., Any]:
    """Resolve ``"package.module:attr"`` to the object it names (callables pass through).

    Examples
    --------
    >>> load_entry_point("ffstream.envs.cartpole:CartPole").__name__
    'CartPole'
    """
    if callable(entry_point):
        return entry_point
    module_name, _, attr = entry_point.partition(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise UnknownEnvError(f"module {module_name!r} has no attribute {attr!r}") from None


def _find_plugin(env_id: str) -> Callable[..., Any] | None:
    """The object behind ``"module:attr"``, or None when ``env_id`` is not of that form.

    gymnasium uses the same syntax to import a module that registers ids (``"ale_py:ALE/..."``):
    when the module has no such attribute, the id is left for gymnasium.
    """
    module_name, sep, attr = env_id.partition(":")
    if not sep:
        return None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        message = f"cannot import {module_name!r} for environment {env_id!r}: {err}"
        raise UnknownEnvError(message) from err
    target = getattr(module, attr, None) if attr.isidentifier() else None
    if target is not None and not callable(target):
        raise ValueError(f"{env_id!r} names {type(target).__name__}, not a class or factory")
    return target


def _make_gymnasium(env_id: str, num_envs: int, device, **kwargs: Any) -> GymnasiumVectorEnv:
    kwargs.setdefault("vectorization_mode", "sync")
    try:
        env = gymnasium.make_vec(env_id, num_envs=num_envs, **kwargs)
    except gymnasium.error.NameNotFound:
        candidates = list(dict.fromkeys([*_REGISTRY, *gymnasium.registry]))
        raise UnknownEnvError(_unknown_message(env_id, candidates)) from None
    except (gymnasium.error.VersionNotFound, gymnasium.error.DeprecatedEnv) as err:
        raise UnknownEnvError(f"unknown environment {env_id!r}: {err}") from None
    return GymnasiumVectorEnv(env, device=device)


def _unknown_message(env_id: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(env_id, candidates, n=5, cutoff=0.6)
    hint = f"did you mean {', '.join(map(repr, close))}?" if close else "no close match"
    return (
        f"unknown environment {env_id!r}; {hint} "
        f"(ffstream offers {', '.join(list_envs())}; any gymnasium id or "
        "'package.module:attr' also works)"
    )
