"""qenv's PettingZoo environments as RLlib ``MultiAgentEnv`` s, and their episode metrics.

:class:`RLlibParallelEnv` adapts a ``ParallelEnv`` built by :func:`qenv.envs.make` to
RLlib's new API stack (``MultiAgentEnvRunner``): per-agent Dict spaces in
``observation_spaces``/``action_spaces`` (ordered as ``possible_agents``), the
``"__all__"`` flags of terminations and truncations, and the env's ``reset`` seed
passed through (RLlib seeds each env runner's envs from the config's seed, so a run
is reproducible). Unlike RLlib's ``ParallelPettingZooEnv`` it keeps the agent order,
does not reset the env on construction, and builds the env from a plain
``{"env_id", "env_kwargs", "forecast"}`` mapping, so it is registered once under
:data:`RLLIB_ENV_NAME` and works on remote env runners and Ray clusters. With a
``forecast`` model file (the experiment's ``env.forecast``) the env is wrapped in
:class:`agents.forecast.wrapper.DemandForecastWrapper`: the forecaster's predictions
fill the observations' ``demand`` fields (:func:`make_env` builds it so for training
and evaluation alike).

:class:`EnvMetricsCallback` reads the env's episode summary (``infos[agent]["episode"]``
on the last slot, the same numbers :mod:`qenv.evaluate` reports) and logs its headline
metrics through the env runner's ``MetricsLogger``: they appear in each training
result under ``env_runners/<metric>`` (e.g. ``env_runners/delivery_rate``), averaged
over the episodes that ended in the iteration's sampling window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from qenv.evaluate import TABLE_METRICS_BY_ENV

#: Name under which :func:`register` registers :func:`make_rllib_env` with Ray Tune.
RLLIB_ENV_NAME = "qenv_parallel_env"

#: Env metrics logged per episode, per environment (DESIGN.md §3, §4): the columns of
#: ``qenv evaluate``'s table.
LOGGED_METRICS: dict[str, tuple[str, ...]] = TABLE_METRICS_BY_ENV

#: The metric shown in the progress line, per environment.
HEADLINE_METRIC: dict[str, str] = {
    "EntanglementAllocation-v0": "delivery_rate",
    "QPUAllocation-v0": "throughput",
}


def make_env(
    env_id: str, env_kwargs: Mapping[str, Any] | None = None, forecast: str | None = None
) -> Any:
    """The PettingZoo env of :func:`qenv.envs.make`, wrapped in a
    :class:`~agents.forecast.wrapper.DemandForecastWrapper` when ``forecast`` (a model
    file) is given.

    Raises:
        ValueError: the model file is unreadable or does not fit the env (the message
            starts with ``env.forecast:`` and names the file).
    """
    from qenv.envs import make

    env = make(env_id, **dict(env_kwargs or {}))
    if forecast is None:
        return env
    from agents.forecast.wrapper import DemandForecastWrapper

    try:
        return DemandForecastWrapper(env, str(forecast))
    except ValueError as exc:
        env.close()
        raise ValueError(f"env.forecast: {forecast}: {exc}") from None


class RLlibParallelEnv(MultiAgentEnv):
    """A qenv PettingZoo ``ParallelEnv`` as an RLlib ``MultiAgentEnv``.

    Args:
        env_id: an id of :func:`qenv.envs.env_ids`.
        env_kwargs: keyword arguments of the env (``scenario``, ``agents_per``, ...).
        forecast: a demand-forecaster model file whose predictions fill the observations'
            ``demand`` fields, or None (the fields stay 0).
    """

    def __init__(
        self,
        env_id: str,
        env_kwargs: Mapping[str, Any] | None = None,
        forecast: str | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.env_id = env_id
        self.forecast = forecast
        self.par_env = make_env(env_id, env_kwargs, forecast)
        self.possible_agents = list(self.par_env.possible_agents)
        self.agents = []
        self.observation_spaces = {
            a: self.par_env.observation_space(a) for a in self.possible_agents
        }
        self.action_spaces = {a: self.par_env.action_space(a) for a in self.possible_agents}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[Any, Any], dict[Any, Any]]:
        obs, infos = self.par_env.reset(seed=seed, options=options)
        self.agents = list(self.par_env.agents)
        return obs, infos

    def step(  # type: ignore[override]  # MultiAgentEnv's own step differs from gymnasium's
        self, action_dict: dict[Any, Any]
    ) -> tuple[dict[Any, Any], dict[Any, Any], dict[Any, Any], dict[Any, Any], dict[Any, Any]]:
        obs, rewards, terms, truncs, infos = self.par_env.step(action_dict)
        self.agents = list(self.par_env.agents)
        terms = dict(terms)
        truncs = dict(truncs)
        terms["__all__"] = bool(terms) and all(terms.values())
        truncs["__all__"] = not self.agents and not terms["__all__"]
        return obs, rewards, terms, truncs, infos

    def metrics(self) -> dict[str, float]:
        """The wrapped env's metrics of the current episode."""
        out: dict[str, float] = self.par_env.unwrapped.metrics()
        return out

    def close(self) -> None:
        self.par_env.close()


def make_rllib_env(config: Mapping[str, Any]) -> RLlibParallelEnv:
    """Env creator for Ray Tune's registry: ``config = {"env_id", "env_kwargs"}`` and
    optionally ``"forecast"`` (a model file)."""
    if "env_id" not in config:
        raise ValueError("env_config: missing key 'env_id'")
    forecast = config.get("forecast")
    return RLlibParallelEnv(
        str(config["env_id"]),
        config.get("env_kwargs") or {},
        None if forecast is None else str(forecast),
    )


def register() -> str:
    """Register :func:`make_rllib_env` with Ray Tune as :data:`RLLIB_ENV_NAME`."""
    from ray.tune.registry import register_env

    register_env(RLLIB_ENV_NAME, make_rllib_env)
    return RLLIB_ENV_NAME


def episode_summary(episode: Any) -> dict[str, Any] | None:
    """The env's episode summary in the last infos of ``episode`` (a MultiAgentEpisode)."""
    try:
        last = episode.get_infos(-1)
    except (IndexError, KeyError, ValueError):
        return None
    if isinstance(last, Mapping):
        for info in last.values():
            if isinstance(info, Mapping) and isinstance(info.get("episode"), Mapping):
                return dict(info["episode"])
    return None


class EnvMetricsCallback(RLlibCallback):
    """Logs the env's episode metrics (:data:`LOGGED_METRICS`) under ``env_runners/``."""

    def on_episode_end(
        self,
        *,
        episode: Any,
        env_runner: Any = None,
        metrics_logger: Any = None,
        **kwargs: Any,
    ) -> None:
        if metrics_logger is None:
            return
        summary = episode_summary(episode)
        if summary is None:
            return
        # The window of RLlib's own episode metrics (episode_return_mean): the last
        # metrics_num_episodes_for_smoothing episodes over all env runners.
        window = 100
        config = getattr(env_runner, "config", None)
        if config is not None:
            runners = max(1, int(config.num_env_runners or 1))
            window = max(1, math.ceil(config.metrics_num_episodes_for_smoothing / runners))
        names = {m for ms in LOGGED_METRICS.values() for m in ms}
        for name in sorted(names & set(summary)):
            value = summary[name]
            if isinstance(value, int | float) and math.isfinite(float(value)):
                metrics_logger.log_value(name, float(value), reduce="mean", window=window)


__all__ = [
    "HEADLINE_METRIC",
    "LOGGED_METRICS",
    "RLLIB_ENV_NAME",
    "EnvMetricsCallback",
    "RLlibParallelEnv",
    "episode_summary",
    "make_env",
    "make_rllib_env",
    "register",
]
