"""Checkpoints of ``qenv train`` runs, and a trained checkpoint as an :class:`agents.policy.Policy`.

A run directory (``--storage-path``) holds::

    config.yaml                  the resolved experiment
    checkpoints/iter_000010/     RLlib's Algorithm.save_to_path(), plus qenv_checkpoint.json
    progress.jsonl               one JSON line of metrics per iteration
    summary.json                 final metrics (and epsilon/delta with DP)
    evaluation.json              the final evaluation table (checkpoint vs. baselines)
    wandb/                       the W&B run (offline unless a key was given)

``qenv_checkpoint.json`` (written last, so its presence marks a complete checkpoint)
records the env id and keyword arguments, the agent → module table and the
iteration: a checkpoint directory is self-contained for evaluation. A run with a demand
forecast (``env.forecast``) copies the model file into each checkpoint
(:data:`FORECAST_FILE`, named by the ``"forecast"`` key of the metadata).

:class:`CheckpointPolicy` loads the trained RLModules from
``<checkpoint>/learner_group/learner/rl_module`` (no Ray needed) and acts for every
agent: each module's masked logits on its agents' observations, then the most likely
action (``deterministic=True``, the default) or a sample drawn with a
``torch.Generator`` seeded by ``reset(env, seed)``. A checkpoint trained with a demand
forecast fills the observations' ``demand`` fields itself, exactly as the training env's
:class:`~agents.forecast.wrapper.DemandForecastWrapper` did (unless the env it acts in
already has that wrapper), so ``qenv evaluate`` and the run's final evaluation see the
observations the policy was trained on, while the baselines play the same env.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: Metadata file of a complete checkpoint.
CHECKPOINT_META = "qenv_checkpoint.json"
#: Sub-directory of a run with its checkpoints.
CHECKPOINTS_DIR = "checkpoints"
#: Resolved experiment of a run.
RUN_CONFIG = "config.yaml"
#: The demand-forecaster model inside a checkpoint of a run with ``env.forecast``.
FORECAST_FILE = "forecast.pt"
_ITER_DIR = re.compile(r"^iter_(\d+)$")


def checkpoint_name(iteration: int) -> str:
    """Directory name of the checkpoint after ``iteration``."""
    return f"iter_{iteration:06d}"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (by iteration)."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _ITER_DIR.match(p.name)
        if m and (p / CHECKPOINT_META).is_file():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The last complete checkpoint of a run, or None."""
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint directory from a checkpoint or a run directory (its latest checkpoint).

    Raises:
        ValueError: ``path`` is neither (the message says what is missing).
    """
    p = Path(path)
    if (p / CHECKPOINT_META).is_file():
        return p
    latest = latest_checkpoint(p)
    if latest is not None:
        return latest
    raise ValueError(
        f"{str(p)!r} is not a qenv checkpoint: no {CHECKPOINT_META} in it and no complete "
        f"checkpoint under {p / CHECKPOINTS_DIR} (give a run's --storage-path or one of its "
        "checkpoints/iter_* directories)"
    )


def read_meta(checkpoint: str | Path) -> dict[str, Any]:
    """The ``qenv_checkpoint.json`` of a checkpoint (or of a run's latest checkpoint)."""
    ckpt = resolve_checkpoint(checkpoint)
    meta: dict[str, Any] = json.loads((ckpt / CHECKPOINT_META).read_text())
    return meta


def env_spec(checkpoint: str | Path) -> tuple[str, dict[str, Any]]:
    """``(env_id, env_kwargs)`` the checkpoint was trained on."""
    meta = read_meta(checkpoint)
    return str(meta["env_id"]), dict(meta["env_kwargs"])


def write_meta(checkpoint: str | Path, meta: Mapping[str, Any]) -> None:
    """Write ``qenv_checkpoint.json`` (last step of saving a checkpoint)."""
    (Path(checkpoint) / CHECKPOINT_META).write_text(json.dumps(dict(meta), indent=2) + "\n")


def forecast_model(checkpoint: str | Path) -> Path | None:
    """The demand-forecaster model file of a checkpoint, or None (trained without one)."""
    ckpt = resolve_checkpoint(checkpoint)
    name = read_meta(ckpt).get("forecast")
    if not name:
        return None
    path = ckpt / str(name)
    if not path.is_file():
        raise ValueError(f"{str(ckpt)!r}: the forecaster model {name!r} is missing")
    return path


def has_forecast_wrapper(env: Any) -> bool:
    """Whether ``env`` is, or wraps, a :class:`~agents.forecast.wrapper.DemandForecastWrapper`."""
    from agents.forecast.wrapper import DemandForecastWrapper

    seen = 0
    while env is not None and seen < 32:
        if isinstance(env, DemandForecastWrapper):
            return True
        env = getattr(env, "env", None)
        seen += 1
    return False


class PolicyForecast:
    """The demand forecast of a :class:`DemandForecastWrapper`, applied on the policy side.

    For a checkpoint trained with ``env.forecast`` acting in an env without the wrapper:
    :meth:`start` after the env's ``reset`` and :meth:`patch` on every observation dict
    give the observations the wrapped env would have produced (same model, same windows,
    the recurrent state advanced on the slots the env enters).
    """

    def __init__(self, model_path: str | Path) -> None:
        from agents.forecast.train import load_model

        self.model = load_model(model_path)
        self._wrapper: Any = None
        self._base: Any = None
        self._slot = 0

    def start(self, env: Any) -> None:
        from agents.forecast.wrapper import DemandForecastWrapper

        base = env.unwrapped
        if self._base is not base:
            self._wrapper = DemandForecastWrapper(base, self.model)
            self._base = base
        self._wrapper.begin_episode()
        self._slot = int(base.core.t)

    def patch(self, observations: dict[str, dict[str, np.ndarray]]) -> None:
        w = self._wrapper
        if w is None:
            return
        t = int(self._base.core.t)
        for slot in range(self._slot + 1, t + 1):
            w.advance(slot)
        self._slot = max(self._slot, t)
        w.patch(observations)


def load_modules(checkpoint: str | Path) -> Any:
    """The trained ``MultiRLModule`` of a checkpoint (learner side, with value heads)."""
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModule

    ckpt = resolve_checkpoint(checkpoint)
    path = ckpt / "learner_group" / "learner" / "rl_module"
    if not path.is_dir():
        raise ValueError(f"{str(ckpt)!r}: no RLModule state under {path}")
    # RLlib logs a deprecation warning of its own constructor path on every load.
    rl_logger = logging.getLogger("ray")
    level = rl_logger.level
    rl_logger.setLevel(logging.ERROR)
    try:
        return MultiRLModule.from_checkpoint(path.resolve().as_posix())
    finally:
        rl_logger.setLevel(level)


class CheckpointPolicy:
    """A trained ``qenv train`` checkpoint acting through the shared policy interface.

    Args:
        path: a checkpoint directory, or a run directory (its latest checkpoint).
        deterministic: act with the most likely allowed action (True), or sample from
            the masked distribution with a generator seeded by :meth:`reset`.
    """

    def __init__(self, path: str | Path, deterministic: bool = True) -> None:
        import torch

        self.path = resolve_checkpoint(path)
        self.meta = read_meta(self.path)
        self.table: dict[str, str] = dict(self.meta["agent_to_module"])
        self.deterministic = bool(deterministic)
        self.modules = load_modules(self.path)
        for module in self.modules.values():
            module.eval()
        self.name = f"ppo:{self.meta.get('experiment', self.path.parent.parent.name)}"
        self._gen = torch.Generator()
        self._nvec: dict[str, Any] = {}
        model = forecast_model(self.path)
        self.forecast: PolicyForecast | None = None if model is None else PolicyForecast(model)
        self._forecasting = False

    def __repr__(self) -> str:
        return f"CheckpointPolicy({str(self.path)!r}, deterministic={self.deterministic})"

    def reset(self, env: Any, seed: int | None = None) -> None:
        from gymnasium import spaces

        missing = [a for a in env.possible_agents if a not in self.table]
        if missing:
            raise ValueError(
                f"policy: the checkpoint {str(self.path)!r} has no module for agent(s) "
                f"{missing[:5]} of this env (trained on {self.meta['env_id']} "
                f"{self.meta['env_kwargs']})"
            )
        self._nvec = {}
        for agent in env.possible_agents:
            space = env.action_space(agent)
            if isinstance(space, spaces.MultiDiscrete):
                self._nvec[agent] = np.asarray(space.nvec).reshape(-1)
        self._gen.manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
        # The env's reset came first (the shared evaluation loop): start the forecast of
        # this episode unless the env already fills the demand fields itself.
        self._forecasting = self.forecast is not None and not has_forecast_wrapper(env)
        if self.forecast is not None and self._forecasting:
            self.forecast.start(env)

    def act(self, observations: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
        import torch
        from ray.rllib.core.columns import Columns

        if self.forecast is not None and self._forecasting:
            self.forecast.patch(observations)
        by_module: dict[str, list[str]] = {}
        for agent in observations:
            by_module.setdefault(self.table[agent], []).append(agent)
        actions: dict[str, Any] = {}
        with torch.no_grad():
            for module_id, agents in by_module.items():
                obs = np.stack([observations[a]["observation"] for a in agents])
                mask = np.stack([observations[a]["action_mask"] for a in agents])
                batch = {
                    Columns.OBS: {
                        "observation": torch.from_numpy(obs.astype(np.float32, copy=False)),
                        "action_mask": torch.from_numpy(mask.astype(np.float32)),
                    }
                }
                out = self.modules[module_id].forward_inference(batch)
                logits = out[Columns.ACTION_DIST_INPUTS]
                nvec = self._nvec.get(agents[0])
                chosen = self._choose(logits, nvec)
                for i, agent in enumerate(agents):
                    actions[agent] = chosen[i] if nvec is not None else int(chosen[i])
        return actions

    def _choose(self, logits: Any, nvec: Any) -> np.ndarray:
        import torch

        parts = [logits] if nvec is None else torch.split(logits, [int(n) for n in nvec], dim=-1)
        picks = []
        for part in parts:
            if self.deterministic:
                picks.append(torch.argmax(part, dim=-1))
            else:
                probs = torch.softmax(part, dim=-1)
                picks.append(torch.multinomial(probs, 1, generator=self._gen).squeeze(-1))
        out = torch.stack(picks, dim=-1).numpy().astype(np.int64)
        return out if nvec is not None else out[:, 0]


def evaluation_env(
    policy: str | None, env: str | None, config: str | None, default: str
) -> tuple[str, dict[str, Any]]:
    """Environment of ``qenv evaluate``: ``(env_id, base env kwargs)``.

    ``--config`` (an experiment file) gives its env and kwargs; else ``--env`` (no
    kwargs); else, when ``--policy`` is a checkpoint, the env the checkpoint was trained
    on with its kwargs (the run's resolved config); else ``default``. ``--env-arg`` and
    ``--scenario`` then override single kwargs.
    """
    if config is not None:
        from training.config import load_experiment

        exp = load_experiment(config)
        if env is not None and env != exp.env.id:
            raise ValueError(f"--env {env} contradicts --config {config} (env.id {exp.env.id})")
        return exp.env.id, exp.env.env_kwargs()
    if env is not None:
        return env, {}
    if policy is not None and Path(policy).is_dir():
        try:
            return env_spec(policy)
        except ValueError:
            pass  # not a checkpoint: make_policy reports it
    return default, {}


__all__ = [
    "CHECKPOINTS_DIR",
    "CHECKPOINT_META",
    "FORECAST_FILE",
    "RUN_CONFIG",
    "CheckpointPolicy",
    "PolicyForecast",
    "checkpoint_name",
    "env_spec",
    "evaluation_env",
    "forecast_model",
    "has_forecast_wrapper",
    "latest_checkpoint",
    "list_checkpoints",
    "load_modules",
    "read_meta",
    "resolve_checkpoint",
    "write_meta",
]
