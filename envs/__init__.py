"""Stream sources for ffstream, installed as ``ffstream.envs``.

Interactive sources are vector environments that speak torch (see :mod:`ffstream.envs.protocol`):
build one with :func:`make` from an id listed by :func:`list_envs`, any gymnasium id, or a
``"package.module:attr"`` plugin. Importing this package also registers our environments with
gymnasium as ``ffstream/CartPole-v1`` and ``ffstream/Acrobot-v1``; without that import, use
``gymnasium.make("ffstream.envs:ffstream/CartPole-v1")``, which imports it.

Under gymnasium's vector wrappers: ``RecordVideo`` takes our environments as they are (made with
``render_mode="rgb_array"``, see :func:`record_video`), and :class:`ShowFrames` shows those
pictures in a pygame window; the ones that compute with numpy
(``RecordEpisodeStatistics``, ...) take ``make(..., arrays="numpy")`` (see :class:`TorchToNumpy`).

Examples
--------
>>> from ffstream.envs import make
>>> env = make("CartPole-v1", num_envs=8)
>>> obs, info = env.reset(seed=0)
>>> obs.shape
torch.Size([8, 4])
"""

from ffstream.envs.acrobot import Acrobot
from ffstream.envs.cartpole import CartPole
from ffstream.envs.gymnasium_registration import register_with_gymnasium
from ffstream.envs.gymnasium_vector import GymnasiumVectorEnv
from ffstream.envs.protocol import FrameStream, VectorSource
from ffstream.envs.registry import UnknownEnvError, list_envs, make, register
from ffstream.envs.torch_vector_env import TorchVectorEnv
from ffstream.envs.viewer import ShowFrames, WindowClosed
from ffstream.envs.wrappers import TorchToNumpy, record_video

__all__ = [
    "Acrobot",
    "CartPole",
    "FrameStream",
    "GymnasiumVectorEnv",
    "ShowFrames",
    "TorchToNumpy",
    "TorchVectorEnv",
    "UnknownEnvError",
    "VectorSource",
    "WindowClosed",
    "list_envs",
    "make",
    "record_video",
    "register",
]

# gymnasium 1.x loads no plugins from entry points: registering on import is the supported way
# (and "ffstream.envs:ffstream/CartPole-v1" makes gymnasium do that import).
register_with_gymnasium()
