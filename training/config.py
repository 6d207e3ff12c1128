"""Experiment files of ``qenv train``: YAML, validated on load (pydantic).

An experiment file (``configs/dpem_quick.yaml``, ``configs/dpem_100.yaml``,
``configs/ahmo_default.yaml``) describes one PPO run: the environment and its
arguments, how agents map to RLModules, the network, PPO's hyperparameters, the
resources, when to stop and checkpoint, the federated averaging (and DP) settings,
the final evaluation, and W&B. Every section and key is optional except ``name`` and
``env.id``; unknown keys are errors. A bad value raises ``ValueError`` naming the file
and the dotted key, e.g. ``configs/x.yaml: ppo.lr: Input should be greater than 0``.

Keys (defaults in brackets)::

    name: dpem_quick            # run name: default storage path runs/<name>, W&B run name
    description: ...            # free text
    seed: 0                     # seeds RLlib (module init, env runner env resets) and DP noise
    env:
      id: EntanglementAllocation-v0   # or QPUAllocation-v0
      scenario: mesh8           # the env's scenario argument (a name or a YAML path)
      kwargs: {horizon: 1000}   # any other keyword argument of the env
      forecast: null            # or a demand-forecaster model file (qenv forecast fit-eval):
                                # its predictions fill the observations' demand fields
    policies: per_agent         # per_agent | per_edge_cloud | shared (module mapping)
    edge_clouds: 4              # regions of per_edge_cloud when agents_per=node [10]
    model: {hidden: [64, 64], activation: tanh, vf_share_layers: false}
    ppo: {lr: 3.0e-4, gamma: 0.99, lambda: 0.95, train_batch_size: 4000, minibatch_size: 500,
          num_epochs: 5, entropy_coeff: 0.0, clip_param: 0.2, vf_loss_coeff: 1.0,
          vf_clip_param: 10.0, grad_clip: null, use_kl_loss: true, kl_coeff: 0.2}
    resources: {num_env_runners: 2, num_envs_per_env_runner: 1, rollout_fragment_length: auto,
                num_learners: 0, num_cpus: 2, num_gpus: 0}
    stop: {iters: 100, timesteps: null, reward: null, time_s: null}
    checkpoint: {freq: 5, at_end: true, keep: 3}
    federated: null             # or {every: 5, weighting: samples, dp: {...}} (training.federated)
    evaluation: {episodes: 10, baselines: all, seed: 1000}
    wandb: {project: qenv, mode: offline}
    metrics_smoothing: 20       # episodes averaged in the per-iteration env metrics

``ppo.train_batch_size`` counts env steps (slots) per iteration over all env runners;
``ppo.minibatch_size`` counts agent steps per module. The resolved experiment (the file
with command-line overrides applied) is written to ``<storage>/config.yaml``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

#: Module mappings of ``policies``.
POLICY_MODES = ("per_agent", "per_edge_cloud", "shared")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EnvSection(_Section):
    """Which environment, and its keyword arguments."""

    id: str
    scenario: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    forecast: str | None = None

    @field_validator("id")
    @classmethod
    def _known_env(cls, value: str) -> str:
        from qenv.envs import env_ids

        if value not in env_ids():
            raise ValueError(f"unknown environment {value!r}; known: {', '.join(env_ids())}")
        return value

    @model_validator(mode="after")
    def _scenario_once(self) -> EnvSection:
        if self.scenario is not None and "scenario" in self.kwargs:
            raise ValueError("give the scenario once: env.scenario or env.kwargs.scenario")
        return self

    @model_validator(mode="after")
    def _forecast_file(self) -> EnvSection:
        if self.forecast is None:
            return self
        if self.id != "EntanglementAllocation-v0":
            raise ValueError(
                f"env.forecast: a demand forecast fills EntanglementAllocation-v0's "
                f"observations; env.id is {self.id}"
            )
        if not Path(self.forecast).is_file():
            raise ValueError(
                f"env.forecast: no forecaster model file {self.forecast!r} (relative paths "
                "are from the working directory; `qenv forecast fit-eval --model-out` "
                "writes one)"
            )
        return self

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`qenv.envs.make` (scenario included)."""
        out = dict(self.kwargs)
        if self.scenario is not None:
            out["scenario"] = self.scenario
        return out


class ModelSection(_Section):
    """Fully connected encoder of each RLModule (RLlib's DefaultModelConfig)."""

    hidden: list[PositiveInt] = Field(default_factory=lambda: [64, 64], min_length=1)
    activation: Literal["tanh", "relu", "swish", "linear"] = "tanh"
    vf_share_layers: bool = False


class PPOSection(_Section):
    """PPO hyperparameters (RLlib's names; ``lambda`` is GAE's λ)."""

    lr: PositiveFloat = 3e-4
    gamma: float = Field(0.99, gt=0.0, le=1.0)
    lambda_: float = Field(0.95, ge=0.0, le=1.0, alias="lambda")
    train_batch_size: PositiveInt = 4000
    minibatch_size: PositiveInt = 500
    num_epochs: PositiveInt = 5
    entropy_coeff: NonNegativeFloat = 0.0
    clip_param: PositiveFloat = 0.2
    vf_loss_coeff: NonNegativeFloat = 1.0
    vf_clip_param: PositiveFloat = 10.0
    grad_clip: PositiveFloat | None = None
    use_kl_loss: bool = True
    kl_coeff: NonNegativeFloat = 0.2
    kl_target: PositiveFloat = 0.01


class ResourcesSection(_Section):
    """Ray and RLlib resources (command-line flags of the same names override them)."""

    num_env_runners: NonNegativeInt = 2
    num_envs_per_env_runner: PositiveInt = 1
    rollout_fragment_length: PositiveInt | Literal["auto"] = "auto"
    num_learners: NonNegativeInt = 0
    num_cpus: PositiveInt | None = 2
    num_gpus: NonNegativeInt = 0


class StopSection(_Section):
    """Stop when any criterion is met (``null``: not used)."""

    iters: PositiveInt | None = 100
    timesteps: PositiveInt | None = None
    reward: float | None = None
    time_s: PositiveFloat | None = None

    @model_validator(mode="after")
    def _some_criterion(self) -> StopSection:
        if self.iters is None and self.timesteps is None and self.time_s is None:
            raise ValueError("give at least one of iters, timesteps, time_s (else it never stops)")
        return self


class CheckpointSection(_Section):
    """Checkpoint every ``freq`` iterations (0: never) and/or at the end; keep the last
    ``keep`` checkpoints (``null``: all, e.g. to evaluate a learning curve afterwards)."""

    freq: NonNegativeInt = 5
    at_end: bool = True
    keep: PositiveInt | None = 3


class EvaluationSection(_Section):
    """The evaluation after training: the checkpoint against baselines, seeded episodes."""

    episodes: NonNegativeInt = 10
    baselines: str | list[str] = "all"
    seed: NonNegativeInt = 1000


class WandbSection(_Section):
    """Weights & Biases: offline unless a key is given (``--wandb-key``)."""

    project: str = "qenv"
    run_name: str | None = None
    mode: Literal["offline", "online", "disabled"] = "offline"


class Experiment(_Section):
    """A validated experiment file (see the module docstring)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: NonNegativeInt = 0
    env: EnvSection
    policies: Literal["per_agent", "per_edge_cloud", "shared"] = "per_agent"
    edge_clouds: PositiveInt | None = None
    model: ModelSection = Field(default_factory=ModelSection)
    ppo: PPOSection = Field(default_factory=lambda: PPOSection.model_validate({}))
    resources: ResourcesSection = Field(default_factory=ResourcesSection)
    stop: StopSection = Field(default_factory=StopSection)
    checkpoint: CheckpointSection = Field(default_factory=CheckpointSection)
    federated: dict[str, Any] | None = None
    evaluation: EvaluationSection = Field(default_factory=EvaluationSection)
    wandb: WandbSection = Field(default_factory=WandbSection)
    metrics_smoothing: PositiveInt = 20

    @field_validator("federated")
    @classmethod
    def _federated(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            from training.federated import FedAvgConfig

            FedAvgConfig.from_mapping(value, where="federated")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        if self.edge_clouds is not None and self.policies != "per_edge_cloud":
            raise ValueError("edge_clouds is only used with policies: per_edge_cloud")
        if self.policies == "per_edge_cloud" and self.env.id != "EntanglementAllocation-v0":
            raise ValueError(
                "policies: per_edge_cloud needs env.id EntanglementAllocation-v0 "
                "(edge clouds are regions of the quantum network)"
            )
        return self

    def fedavg(self) -> Any:
        """The :class:`training.federated.FedAvgConfig` of ``federated`` (None: off).

        The DP noise seed defaults to the experiment's ``seed``.
        """
        if self.federated is None:
            return None
        from training.federated import FedAvgConfig

        m = dict(self.federated)
        m.setdefault("seed", self.seed)
        return FedAvgConfig.from_mapping(m, where="federated")

    def to_yaml_dict(self) -> dict[str, Any]:
        """Plain data (YAML keys, ``lambda`` not ``lambda_``) that validates back."""
        out: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return out


def _format_error(exc: ValidationError, where: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
        msg = str(err["msg"]).removeprefix("Value error, ")
        if loc and (msg.startswith(loc + ".") or msg.startswith(loc + ":")):
            loc = ""  # the message already names the key (nested from_mapping checks)
        lines.append(f"{where}: {loc + ': ' if loc else ''}{msg}")
    return "; ".join(lines)


def parse_experiment(data: Any, where: str = "<experiment>") -> Experiment:
    """Validate experiment data (a mapping); ValueError naming ``where`` and the key."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: an experiment is a YAML mapping, got {type(data).__name__}")
    try:
        return Experiment.model_validate(dict(data))
    except ValidationError as exc:
        raise ValueError(_format_error(exc, where)) from None
    except ValueError as exc:  # raised by a nested from_mapping outside pydantic's wrapping
        raise ValueError(f"{where}: {exc}") from None


def load_experiment(path: str | os.PathLike[str]) -> Experiment:
    """Read and validate the experiment file ``path`` (YAML).

    Raises:
        ValueError: the file is missing or not valid YAML (with the line), or a key is
            unknown or has a bad value (the message names the file and the dotted key).
    """
    p = Path(path)
    if not p.is_file():
        hint = ""
        configs = Path("configs")
        if not p.suffix and (configs / f"{p}.yaml").is_file():
            hint = f" (did you mean {configs / (str(p) + '.yaml')}?)"
        raise ValueError(f"--config: no experiment file {str(p)!r}{hint}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{p}:{line} not valid YAML: {exc}") from None
    return parse_experiment(data, str(p))


def apply_overrides(exp: Experiment, overrides: Mapping[str, Any], where: str) -> Experiment:
    """``exp`` with dotted-key overrides (``{"stop.iters": 2}``) applied and revalidated."""
    data = exp.to_yaml_dict()
    for dotted, value in overrides.items():
        node = data
        *head, last = dotted.split(".")
        for key in head:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[last] = value
    return parse_experiment(data, where)


def write_experiment(exp: Experiment, path: str | os.PathLike[str], header: str = "") -> None:
    """Write ``exp`` as YAML (the resolved config of a run), with an optional comment."""
    text = yaml.safe_dump(exp.to_yaml_dict(), sort_keys=False)
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    Path(path).write_text(text)


__all__ = [
    "POLICY_MODES",
    "Experiment",
    "apply_overrides",
    "load_experiment",
    "parse_experiment",
    "write_experiment",
]
