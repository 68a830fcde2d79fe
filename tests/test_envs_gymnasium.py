"""Our environments inside gymnasium: its vector wrappers, gymnasium.make forms, rendering."""

import subprocess
import sys

import gymnasium
import numpy as np
import pytest
import torch
from ffstream.envs import Acrobot, CartPole, TorchToNumpy, make, record_video
from ffstream.envs.gymnasium_registration import register_with_gymnasium
from gymnasium.wrappers import vector as vw

POLE = np.array([202, 152, 101], dtype=np.uint8)


# -- gymnasium's vector wrappers ---------------------------------------------------------------


def test_episode_statistics_count_every_episode():
    env = vw.RecordEpisodeStatistics(
        make("Acrobot-v1", num_envs=3, arrays="numpy", max_episode_steps=5)
    )
    env.reset(seed=0)
    ended = []
    for _ in range(12):  # two full episodes per env, plus the two autoreset steps
        *_, info = env.step(np.array([0, 1, 2]))
        if "episode" in info:
            ended.append(info["_episode"].copy())
            np.testing.assert_array_equal(info["episode"]["l"], np.where(info["_episode"], 5, 0))
            np.testing.assert_array_equal(info["episode"]["r"], np.where(info["_episode"], -5, 0))
    assert len(ended) == 2 and all(e.all() for e in ended)
    assert list(env.length_queue) == [5] * 6 and env.episode_count == 6


def test_episode_statistics_match_the_flags_of_the_torch_env():
    stats = vw.RecordEpisodeStatistics(make("CartPole-v1", num_envs=4, arrays="numpy"))
    plain = make("CartPole-v1", num_envs=4)
    stats.reset(seed=3)
    plain.reset(seed=3)
    lengths, steps, restart = [], torch.zeros(4, dtype=torch.int64), torch.zeros(4, dtype=bool)
    for _ in range(60):
        stats.step(np.ones(4, dtype=np.int64))
        _, reward, terminated, truncated, _ = plain.step(torch.ones(4, dtype=torch.int64))
        steps = torch.where(restart, 0, steps + 1)
        done = terminated | truncated
        lengths += steps[done].tolist()
        restart = done
    assert len(lengths) >= 4
    assert sorted(stats.length_queue) == sorted(lengths)
    assert sorted(stats.return_queue) == sorted(float(n) for n in lengths)


def test_torch_to_numpy_gives_the_same_numbers_as_numpy_arrays():
    ours, theirs = CartPole(num_envs=3), TorchToNumpy(CartPole(num_envs=3))
    obs_t, _ = ours.reset(seed=5)
    obs_n, info = theirs.reset(seed=5)
    assert isinstance(obs_n, np.ndarray) and info == {}
    np.testing.assert_array_equal(obs_n, obs_t.numpy())
    assert theirs.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.NEXT_STEP
    for actions in ([0, 1, 1], np.array([1, 0, 1]), torch.tensor([0, 0, 1])):
        a, b = ours.step(torch.as_tensor(actions)), theirs.step(actions)
        for x, y in zip(a[:4], b[:4]):
            assert isinstance(y, np.ndarray)
            np.testing.assert_array_equal(y, x.numpy())
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        theirs.step([0, 1, 5])


def _changed_reward(raw, wrapped):
    assert not np.allclose(wrapped[1], raw[1])


def _changed_obs(raw, wrapped):
    assert not np.allclose(wrapped[0], raw[0])


def _clipped_reward(raw, wrapped):
    np.testing.assert_array_equal(wrapped[1], np.minimum(raw[1], 0.5))


def _info_per_env(raw, wrapped):
    info = wrapped[4]
    assert isinstance(info, list) and len(info) == 2
    assert ["episode" in i for i in info] == (raw[2] | raw[3]).tolist()


@pytest.mark.parametrize(
    ("wrap", "check"),
    [
        (vw.NormalizeReward, _changed_reward),
        (vw.NormalizeObservation, _changed_obs),
        (lambda e: vw.ClipReward(e, min_reward=0.0, max_reward=0.5), _clipped_reward),
        (lambda e: vw.DictInfoToList(vw.RecordEpisodeStatistics(e)), _info_per_env),
    ],
    ids=["NormalizeReward", "NormalizeObservation", "ClipReward", "DictInfoToList"],
)
def test_numpy_wrappers_do_their_job_across_episode_ends(wrap, check):
    raw = make("CartPole-v1", num_envs=2, arrays="numpy", max_episode_steps=4)
    wrapped = wrap(make("CartPole-v1", num_envs=2, arrays="numpy", max_episode_steps=4))
    raw.reset(seed=0)
    wrapped.reset(seed=0)
    for _ in range(9):  # two episodes, an autoreset step between them
        actions = np.array([0, 1])
        a, b = raw.step(actions), wrapped.step(actions)
        assert b[0].shape == (2, 4) and b[1].shape == (2,) and np.isfinite(b[1]).all()
    assert (a[2] | a[3]).all()  # the last step ends an episode everywhere
    check(a, b)


def test_numpy_arrays_for_a_gymnasium_id_skip_torch():
    env = make("Pendulum-v1", num_envs=2, arrays="numpy")
    obs, _ = env.reset(seed=0)
    assert isinstance(obs, np.ndarray) and not isinstance(env, TorchToNumpy)
    with pytest.raises(ValueError, match="arrays must be one of"):
        make("CartPole-v1", arrays="jax")


def test_record_video_records_the_torch_env_episode_by_episode(fake_moviepy, tmp_path):
    clips = fake_moviepy
    env = make("CartPole-v1", num_envs=2, render_mode="rgb_array", max_episode_steps=6)
    env = record_video(env, str(tmp_path / "videos"), episode_trigger=lambda i: True)
    obs, _ = env.reset(seed=0)
    for _ in range(7):  # one 6-step episode of env 0, then the step that restarts it
        obs, reward, *_ = env.step(torch.tensor([0, 1]))
    env.close()
    assert torch.is_tensor(obs) and torch.is_tensor(reward)  # nothing converted on the way
    first = clips[0]
    assert first.path == str(tmp_path / "videos" / "rl-video-episode-0.mp4") and first.fps == 50
    assert len(first.frames) == 7  # the reset picture and one per step
    assert first.frames[0].shape == (400, 1200, 3) and first.frames[0].dtype == np.uint8
    assert not np.array_equal(first.frames[0], first.frames[-1])


def test_record_video_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "moviepy", None)  # as if not installed
    env = make("CartPole-v1", num_envs=1, render_mode="rgb_array")
    with pytest.raises(gymnasium.error.DependencyNotInstalled, match="pip install moviepy"):
        record_video(env, str(tmp_path))
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        record_video(make("CartPole-v1", num_envs=1), str(tmp_path))


# -- gymnasium.make ----------------------------------------------------------------------------


def test_module_prefix_form_works_in_a_fresh_interpreter():
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'ffstream.envs' not in sys.modules\n"
        "env = gym.make('ffstream.envs:ffstream/CartPole-v1', render_mode='rgb_array')\n"
        "obs, _ = env.reset(seed=0)\n"
        "print(obs.shape, env.render().shape, env.spec.max_episode_steps)\n"
        "vec = gym.make_vec('ffstream.envs:ffstream/Acrobot-v1', num_envs=2,\n"
        "                   vectorization_mode='vector_entry_point')\n"
        "print(vec.reset(seed=0)[0].shape)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split("\n")
    assert out[:2] == ["(4,) (400, 600, 3) 500", "(2, 6)"]


def test_registration_adds_our_ids_when_they_are_missing(monkeypatch):
    for name in ("ffstream/CartPole-v1", "ffstream/Acrobot-v1"):
        monkeypatch.delitem(gymnasium.registry, name)
    with pytest.raises(gymnasium.error.Error):
        gymnasium.make("ffstream/CartPole-v1")
    assert register_with_gymnasium() == ["ffstream/CartPole-v1", "ffstream/Acrobot-v1"]
    assert gymnasium.make("ffstream/Acrobot-v1").reset(seed=0)[0].shape == (6,)
    assert register_with_gymnasium() == []


@pytest.mark.parametrize(
    ("env_id", "shape"), [("CartPole-v1", (400, 600, 3)), ("Acrobot-v1", (500, 500, 3))]
)
def test_gymnasium_make_renders(env_id, shape):
    env = gymnasium.make(f"ffstream/{env_id}", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == shape and frame.dtype == np.uint8
    vec = gymnasium.make_vec(
        f"ffstream/{env_id}", 3, vectorization_mode="vector_entry_point", render_mode="rgb_array"
    )
    vec.reset(seed=0)
    frames = vec.render()
    assert len(frames) == 3 and all(f.shape == shape for f in frames)
    plain = gymnasium.make(f"ffstream/{env_id}")
    plain.reset(seed=0)
    assert plain.render() is None


# -- rendering -----------------------------------------------------------------------------------


def _cartpole_picture(x, theta):
    env = CartPole(num_envs=1, render_mode="rgb_array")
    env.set_state(torch.tensor([[x, 0.0, theta, 0.0]], dtype=torch.float64))
    (frame,) = env.render()
    return frame


def _centroid(frame, color):
    rows, cols = np.nonzero((frame == color).all(axis=-1))
    assert rows.size > 0
    return rows.mean(), cols.mean()


def test_cartpole_picture_follows_the_pole_and_the_cart():
    upright, right, left = (_cartpole_picture(0.0, t) for t in (0.0, 0.2, -0.2))
    assert upright.shape == (400, 600, 3) and upright.dtype == np.uint8
    assert not np.array_equal(upright, right)
    # The pole leans the way theta says (positive: right), and the pictures mirror each other.
    assert _centroid(right, POLE)[1] > _centroid(upright, POLE)[1] + 10
    np.testing.assert_array_equal(left, right[:, ::-1])
    # The pole stands above the cart (rows count down from the top).
    black = np.array([0, 0, 0], dtype=np.uint8)
    assert _centroid(upright, POLE)[0] < _centroid(upright[:, 250:350], black)[0]
    # Moving the cart by 1 moves the whole picture of it by 125 pixels (600 px span 4.8).
    moved = _cartpole_picture(1.0, 0.0)
    assert _centroid(moved, POLE)[1] == pytest.approx(_centroid(upright, POLE)[1] + 125, abs=1)


def test_acrobot_picture_changes_with_the_angles():
    env = Acrobot(num_envs=2, render_mode="rgb_array")
    env.set_state(torch.tensor([[0.0, 0.0, 0, 0], [np.pi, 0.0, 0, 0]], dtype=torch.float64))
    down, up = env.render()
    link = np.array([0, 204, 204], dtype=np.uint8)
    assert _centroid(down, link)[0] > 250 > _centroid(up, link)[0]  # below / above the pivot


def test_render_mode_is_checked_and_needed():
    with pytest.raises(ValueError, match="rgb_array"):
        CartPole(num_envs=1, render_mode="human")
    env = make("CartPole-v1", num_envs=2, render_mode="rgb_array")
    with pytest.raises(RuntimeError, match="reset"):
        env.render()
    env.reset(seed=0)
    assert len(env.render()) == 2 and env.metadata["render_fps"] == 50
    assert make("CartPole-v1", num_envs=2).render() is None
