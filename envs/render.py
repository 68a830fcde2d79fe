"""Pictures of our environments as numpy ``uint8`` RGB arrays, drawn without pygame.

Each function takes the physical states of a batch of environments, shape ``(n, state_dim)``,
and returns ``n`` frames of shape ``(height, width, 3)``: the same layout, sizes and colours as
gymnasium's ``rgb_array`` rendering of the classic-control environments, so a video recorded from
ours looks like one recorded from theirs. Shapes are drawn by testing pixel centres against
rectangles, discs and thick line segments, which is all these pictures need.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["acrobot_frames", "cartpole_frames"]

_WHITE = 255
_BLACK = (0, 0, 0)
_POLE = (202, 152, 101)
_AXLE = (129, 132, 203)
_LINK = (0, 204, 204)
_JOINT = (204, 204, 0)


class _Canvas:
    """One white image with drawing in world-like coordinates: x right, y up, in pixels."""

    def __init__(self, height: int, width: int):
        self.image = np.full((height, width, 3), _WHITE, dtype=np.uint8)
        self.height, self.width = height, width

    def _window(self, x0: float, x1: float, y0: float, y1: float):
        """Pixel-centre coordinates of the rows and columns that can touch the box, and slices."""
        c0, c1 = max(int(math.floor(x0)), 0), min(int(math.ceil(x1)) + 1, self.width)
        # Row r holds y = height - (r + 0.5): the picture is stored top row first.
        r0 = max(int(math.floor(self.height - y1)) - 1, 0)
        r1 = min(int(math.ceil(self.height - y0)) + 1, self.height)
        if c0 >= c1 or r0 >= r1:
            return None
        xs = np.arange(c0, c1) + 0.5
        ys = self.height - (np.arange(r0, r1) + 0.5)
        return xs[None, :], ys[:, None], (slice(r0, r1), slice(c0, c1))

    def rect(self, cx: float, cy: float, half_w: float, half_h: float, color) -> None:
        """Fill the axis-aligned rectangle centred on ``(cx, cy)``."""
        window = self._window(cx - half_w, cx + half_w, cy - half_h, cy + half_h)
        if window is not None:
            xs, ys, where = window
            inside = (np.abs(xs - cx) <= half_w) & (np.abs(ys - cy) <= half_h)
            self.image[where][inside] = color

    def disc(self, cx: float, cy: float, radius: float, color) -> None:
        """Fill the disc of ``radius`` around ``(cx, cy)``."""
        self.segment(cx, cy, cx, cy, radius, color)

    def segment(self, ax, ay, bx, by, half_width: float, color) -> None:
        """Fill every pixel within ``half_width`` of the segment from ``a`` to ``b``."""
        pad = half_width + 1
        x0, x1, y0, y1 = min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)
        window = self._window(x0 - pad, x1 + pad, y0 - pad, y1 + pad)
        if window is None:
            return
        xs, ys, where = window
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        # Project each pixel onto the segment, clamped to its ends: the distance to that point.
        t = 0.0 if length2 == 0 else np.clip(((xs - ax) * dx + (ys - ay) * dy) / length2, 0, 1)
        dist2 = (xs - ax - t * dx) ** 2 + (ys - ay - t * dy) ** 2
        self.image[where][dist2 <= half_width * half_width] = color


def cartpole_frames(
    states: np.ndarray, *, x_threshold: float = 2.4, half_pole_length: float = 0.5
) -> list[np.ndarray]:
    """Draw CartPole states ``(x, x_dot, theta, theta_dot)`` as 400 x 600 RGB frames.

    Parameters
    ----------
    states
        Array of shape ``(n, 4)``.
    x_threshold
        Cart position at the edge of the picture's half width (the picture spans twice it).
    half_pole_length
        Half the pole's length, in the units of ``x``.

    Returns
    -------
    list of numpy.ndarray
        ``n`` arrays of shape ``(400, 600, 3)`` and dtype ``uint8``.

    Examples
    --------
    >>> frames = cartpole_frames(np.zeros((2, 4)))
    >>> len(frames), frames[0].shape, frames[0].dtype
    (2, (400, 600, 3), dtype('uint8'))
    """
    height, width = 400, 600
    scale = width / (2 * x_threshold)
    pole_width, pole_len = 10.0, scale * 2 * half_pole_length
    cart_y, axle_offset = 100.0, 30.0 / 4
    frames = []
    for x, _, theta, _ in np.asarray(states, dtype=np.float64).reshape(-1, 4):
        canvas = _Canvas(height, width)
        cart_x = x * scale + width / 2
        canvas.rect(width / 2, cart_y, width / 2, 0.5, _BLACK)  # the track
        canvas.rect(cart_x, cart_y, 25.0, 15.0, _BLACK)
        axle_y = cart_y + axle_offset
        reach = pole_len - pole_width / 2
        tip_x, tip_y = cart_x + reach * math.sin(theta), axle_y + reach * math.cos(theta)
        canvas.segment(cart_x, axle_y, tip_x, tip_y, pole_width / 2, _POLE)
        canvas.disc(cart_x, axle_y, pole_width / 2, _AXLE)
        frames.append(canvas.image)
    return frames


def acrobot_frames(states: np.ndarray) -> list[np.ndarray]:
    """Draw Acrobot states ``(theta1, theta2, dtheta1, dtheta2)`` as 500 x 500 RGB frames.

    The black line is the goal height; the links hang down from the centre when both angles
    are 0.

    Parameters
    ----------
    states
        Array of shape ``(n, 4)``.

    Returns
    -------
    list of numpy.ndarray
        ``n`` arrays of shape ``(500, 500, 3)`` and dtype ``uint8``.

    Examples
    --------
    >>> frames = acrobot_frames(np.zeros((1, 4)))
    >>> frames[0].shape, frames[0].dtype
    ((500, 500, 3), dtype('uint8'))
    """
    size = 500
    bound = 2.2  # both links (1 m each) and a margin
    scale, centre = size / (2 * bound), size / 2
    frames = []
    for theta1, theta2, _, _ in np.asarray(states, dtype=np.float64).reshape(-1, 4):
        canvas = _Canvas(size, size)
        canvas.rect(centre, centre + scale, bound * scale, 0.5, _BLACK)  # the goal height
        x1 = centre + scale * math.sin(theta1)
        y1 = centre - scale * math.cos(theta1)
        x2 = x1 + scale * math.sin(theta1 + theta2)
        y2 = y1 - scale * math.cos(theta1 + theta2)
        for (ax, ay), (bx, by) in (((centre, centre), (x1, y1)), ((x1, y1), (x2, y2))):
            canvas.segment(ax, ay, bx, by, 0.1 * scale, _LINK)
            canvas.disc(ax, ay, 0.1 * scale, _JOINT)
        frames.append(canvas.image)
    return frames
