"""Watch a vector environment play: its ``rgb_array`` pictures shown in a pygame window.

gymnasium's ``render_mode="human"`` needs each environment to own a window; ours draw numpy
pictures (:mod:`ffstream.envs.render`) and have no window of their own. :class:`ShowFrames`
gives any vector environment made with ``render_mode="rgb_array"`` one window, side by side
when there are several copies, paced at the environment's ``render_fps``. pygame is an optional
extra: without it, :func:`require_pygame` names the pip command.

Examples
--------
>>> from ffstream.envs import make
>>> try:
...     ShowFrames(make("CartPole-v1", num_envs=1))
... except ValueError as err:
...     print(err)
CartPole(...) has render_mode=None; make it with render_mode='rgb_array' to watch it
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import VectorWrapper

__all__ = ["RENDER_INSTALL", "ShowFrames", "WindowClosed", "require_pygame"]

#: The command that installs what :class:`ShowFrames` needs to open a window.
RENDER_INSTALL = 'pip install pygame  (or: pip install "ffstream[render]")'


class WindowClosed(Exception):
    """The viewer's window was closed: whoever is stepping the environment should stop."""


def require_pygame() -> ModuleType:
    """The ``pygame`` module, or ``DependencyNotInstalled`` naming the pip command.

    Examples
    --------
    >>> import sys
    >>> from unittest import mock
    >>> with mock.patch.dict(sys.modules, {"pygame": None}):  # as if it were not installed
    ...     try:
    ...         require_pygame()
    ...     except gymnasium.error.DependencyNotInstalled as err:
    ...         print(err)
    showing episodes in a window needs pygame, which is not installed: pip install pygame ...
    """
    try:
        import pygame
    except ImportError:
        raise gymnasium.error.DependencyNotInstalled(
            f"showing episodes in a window needs pygame, which is not installed: {RENDER_INSTALL}"
        ) from None
    return pygame


class ShowFrames(VectorWrapper):
    """Show the pictures of a vector environment in a window after every reset and step.

    Parameters
    ----------
    env
        A vector environment made with ``render_mode="rgb_array"`` (torch or numpy arrays; they
        pass through untouched).
    fps
        Pictures per second at most; by default the environment's ``metadata["render_fps"]``
        (30 when it has none). ``0`` does not wait.
    caption
        The window's title.

    Raises
    ------
    ValueError
        When ``env`` does not render pictures.
    gymnasium.error.DependencyNotInstalled
        When pygame is not installed (the message names the pip command).
    RuntimeError
        When pygame cannot open a display (no screen, e.g. over ssh without X forwarding).

    Notes
    -----
    Closing the window raises :class:`WindowClosed` from the next ``reset`` or ``step``.
    """

    def __init__(
        self, env: gymnasium.vector.VectorEnv, fps: float | None = None, caption: str = "ffstream"
    ):
        if env.render_mode != "rgb_array":
            raise ValueError(
                f"{env!r} has render_mode={env.render_mode!r}; "
                "make it with render_mode='rgb_array' to watch it"
            )
        if fps is not None and not (isinstance(fps, int | float) and fps >= 0):
            raise ValueError(f"fps must be a number >= 0 or None, got {fps!r}")
        pygame = require_pygame()
        super().__init__(env)
        self.fps = float(env.metadata.get("render_fps", 30) if fps is None else fps)
        self.caption = caption
        self.frames_shown = 0
        self._pygame = pygame
        self._screen: Any = None
        try:  # fails here, before anything is stepped, when there is no display
            pygame.display.init()
        except pygame.error as err:
            raise RuntimeError(f"cannot open a window to show the episodes: {err}") from None
        self._clock = pygame.time.Clock()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the wrapped environment and show its first pictures."""
        result = self.env.reset(seed=seed, options=options)
        self._show()
        return result

    def step(self, actions: Any):
        """Step the wrapped environment and show its pictures."""
        result = self.env.step(actions)
        self._show()
        return result

    def _show(self) -> None:
        pygame = self._pygame
        for event in pygame.event.get():  # also keeps the window responsive
            if event.type == pygame.QUIT:
                raise WindowClosed("the window was closed")
        # One picture per copy, side by side (they share a shape: one env id, one renderer).
        frame = np.concatenate([np.asarray(f) for f in self.env.render()], axis=1)
        height, width = frame.shape[:2]
        if self._screen is None or self._screen.get_size() != (width, height):
            self._screen = pygame.display.set_mode((width, height))
            pygame.display.set_caption(self.caption)
        # pygame's surfaces are indexed (x, y); pictures are (row, column).
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
        self._screen.blit(surface, (0, 0))
        pygame.display.flip()
        self.frames_shown += 1
        if self.fps > 0:
            self._clock.tick(self.fps)

    def close(self, **kwargs: Any) -> None:
        """Close the window, then the wrapped environment."""
        if self._screen is not None:
            self._pygame.display.quit()
            self._screen = None
        super().close(**kwargs)
