"""An RLlib ``PPOConfig`` (new API stack) from a validated :class:`~training.config.Experiment`.

Module mapping (``policies``), DESIGN.md §6:

* ``per_agent``: one module per agent (independent PPO): ``node_3`` → ``node_3``.
* ``per_edge_cloud``: one module per edge cloud (region). Per-node agents map to their
  Voronoi region (:func:`qenv.envs.entanglement.regions.voronoi_regions` with
  ``edge_clouds`` regions, default 10): ``node_3`` → ``cloud_1``. Edge-cloud agents
  (``agents_per: edge_cloud``) already are regions: ``cloud_1`` → ``cloud_1``.
* ``shared``: one module for every agent (parameter sharing): ``node_3`` → ``shared``.

Every module is a :class:`~training.module.MaskedPPOTorchRLModule` (masked logits) with
the experiment's ``model``. Federated averaging (``federated``) adds the callback of
:func:`training.federated.make_fedavg_callback`; :class:`training.env.EnvMetricsCallback`
always logs the env's episode metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.config import Experiment

if TYPE_CHECKING:
    from ray.rllib.algorithms.ppo import PPOConfig

#: Module id of ``policies: shared``.
SHARED_MODULE = "shared"

#: Regions of ``policies: per_edge_cloud`` for per-node agents when ``edge_clouds`` is unset.
DEFAULT_EDGE_CLOUDS = 10


def env_config(exp: Experiment) -> dict[str, Any]:
    """The ``env_config`` of :func:`training.env.make_rllib_env` for ``exp``: with
    ``env.forecast``, its model file as an absolute path (env runners may run elsewhere)."""
    config: dict[str, Any] = {"env_id": exp.env.id, "env_kwargs": exp.env.env_kwargs()}
    if exp.env.forecast is not None:
        config["forecast"] = str(Path(exp.env.forecast).resolve())
    return config


def make_env(exp: Experiment) -> Any:
    """The experiment's environment as an RLlib ``MultiAgentEnv`` (for spaces and mapping);
    with ``env.forecast`` it carries the forecaster, so a model that does not fit the env
    fails here, naming ``env.forecast``, before Ray starts."""
    from training.env import make_rllib_env

    try:
        return make_rllib_env(env_config(exp))
    except TypeError as exc:  # an unknown keyword argument of the env
        raise ValueError(f"env.kwargs: {exc}") from exc


def module_mapping(exp: Experiment, env: Any) -> dict[str, str]:
    """Agent id → module id for every agent of ``env`` (see the module docstring)."""
    agents = list(env.possible_agents)
    if exp.policies == "shared":
        return dict.fromkeys(agents, SHARED_MODULE)
    if exp.policies == "per_agent":
        return {a: a for a in agents}
    core_env = env.par_env.unwrapped if hasattr(env, "par_env") else env.unwrapped
    if core_env.agents_per == "edge_cloud":
        return {a: a for a in agents}
    from qenv.envs.entanglement.regions import voronoi_regions

    n = DEFAULT_EDGE_CLOUDS if exp.edge_clouds is None else exp.edge_clouds
    n_nodes = core_env.core.n_nodes
    if n > n_nodes:
        raise ValueError(f"edge_clouds: at most the {n_nodes} nodes of the network, got {n}")
    regions = voronoi_regions(core_env.core.graph, n)
    mapping = {}
    for c, members in enumerate(regions):
        for node in members:
            mapping[f"node_{node}"] = f"cloud_{c}"
    return {a: mapping[a] for a in agents}


class _MappingFn:
    """Picklable ``policy_mapping_fn``: a fixed agent → module table."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = dict(table)

    def __call__(self, agent_id: Any, *args: Any, **kwargs: Any) -> str:
        return self.table[agent_id]


def build_ppo_config(
    exp: Experiment, env: Any | None = None, callbacks: list[type] | None = None
) -> tuple[PPOConfig, dict[str, str]]:
    """``(PPOConfig, agent → module)`` for ``exp``; registers the env with Ray Tune.

    Args:
        exp: the experiment.
        env: the experiment's env (:func:`make_env`), built here if None.
        callbacks: more RLlib callback classes, run after the env metrics and FedAvg.
    """
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from training.env import EnvMetricsCallback, register
    from training.module import MaskedPPOTorchRLModule

    env = make_env(exp) if env is None else env
    table = module_mapping(exp, env)
    modules = sorted(set(table.values()))
    first_agent = {m: next(a for a, mm in table.items() if mm == m) for m in modules}
    model = DefaultModelConfig(
        fcnet_hiddens=list(exp.model.hidden),
        fcnet_activation=exp.model.activation,
        vf_share_layers=exp.model.vf_share_layers,
    )
    specs = {
        m: RLModuleSpec(
            module_class=MaskedPPOTorchRLModule,
            observation_space=env.observation_spaces[first_agent[m]],
            action_space=env.action_spaces[first_agent[m]],
            model_config=model,
        )
        for m in modules
    }
    all_callbacks: list[type] = [EnvMetricsCallback]
    fed = exp.fedavg()
    if fed is not None:
        from training.federated import make_fedavg_callback

        all_callbacks.append(make_fedavg_callback(fed))
    all_callbacks += list(callbacks or [])
    res, ppo = exp.resources, exp.ppo
    learners = max(1, res.num_learners)
    config = (
        PPOConfig()  # type: ignore[no-untyped-call]
        .environment(register(), env_config=env_config(exp))
        .env_runners(
            num_env_runners=res.num_env_runners,
            num_envs_per_env_runner=res.num_envs_per_env_runner,
            rollout_fragment_length=res.rollout_fragment_length,
        )
        .learners(
            num_learners=res.num_learners,
            num_gpus_per_learner=res.num_gpus / learners if res.num_gpus else 0,
        )
        .multi_agent(policies=set(modules), policy_mapping_fn=_MappingFn(table))
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs=specs))
        .training(
            lr=ppo.lr,
            gamma=ppo.gamma,
            lambda_=ppo.lambda_,
            train_batch_size_per_learner=max(1, ppo.train_batch_size // learners),
            minibatch_size=ppo.minibatch_size,
            num_epochs=ppo.num_epochs,
            entropy_coeff=ppo.entropy_coeff,
            clip_param=ppo.clip_param,
            vf_loss_coeff=ppo.vf_loss_coeff,
            vf_clip_param=ppo.vf_clip_param,
            grad_clip=ppo.grad_clip,
            use_kl_loss=ppo.use_kl_loss,
            kl_coeff=ppo.kl_coeff,
            kl_target=ppo.kl_target,
        )
        .callbacks(all_callbacks)
        .reporting(metrics_num_episodes_for_smoothing=exp.metrics_smoothing)
        .debugging(seed=exp.seed, log_level="ERROR")
    )
    return config, table


__all__ = [
    "DEFAULT_EDGE_CLOUDS",
    "SHARED_MODULE",
    "build_ppo_config",
    "env_config",
    "make_env",
    "module_mapping",
]
