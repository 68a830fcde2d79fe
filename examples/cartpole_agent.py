"""Train the forward-only agent on CartPole-v1 and watch it learn, in ~40 lines.

Every layer of the agent learns from its own signal only (its TD error on its own Q readout,
plus a Forward-Forward goodness term); asleep, it lowers goodness on dreamed states.

    python examples/cartpole_agent.py [ENV_STEPS]

The same run with a dashboard, a log and checkpoints: ``ffstream run --env CartPole-v1``.
"""

import sys

import torch

from ffstream import envs
from ffstream.agents import AgentConfig, AgentLoop, FFQAgent, evaluate

torch.set_num_threads(1)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000

env = envs.make("CartPole-v1", num_envs=4)  # 4 CartPoles stepped as one torch batch
config = AgentConfig()  # every hyper-parameter in one place
agent = FFQAgent(env.single_observation_space, env.single_action_space, config, seed=0)
loop = AgentLoop(env, agent, seed=0, threshold=475.0)

while agent.env_steps < steps and loop.solved_at is None:
    for episode in loop.step():  # act -> env.step -> remember -> local updates -> sleep
        if episode.episode % 25 == 0:
            print(
                f"episode {episode.episode:5d}  env steps {episode.steps:7,d}  "
                f"return {episode.ret:5.0f}  100-episode mean {loop.mean_return:6.1f}  "
                f"goodness real {agent.real_goodness:.2f} / dreamed {agent.dream_goodness:.2f}"
            )

greedy = evaluate(agent, envs.make("CartPole-v1", num_envs=100))
print(f"solved at: {loop.solved_at}; greedy mean return over 100 episodes: {sum(greedy) / 100:.1f}")
