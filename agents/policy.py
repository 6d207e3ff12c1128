"""One interface for every allocation policy: the baselines now, learned agents later.

A :class:`Policy` acts for *all* agents of a PettingZoo ``ParallelEnv`` at once:
``act`` receives the observations of one slot (agent -> ``{"observation",
"action_mask"}``) and returns one action per agent. ``reset`` is called after every
``env.reset`` with the env (a policy reads what it needs from ``env.unwrapped``) and
the episode's seed, so a policy with randomness is reproducible per episode.

Policies are built by name with :func:`make_policy`. Names are per environment: a
baseline reads the observations of one environment, so ``random`` of
``EntanglementAllocation-v0`` (:mod:`agents.baselines`) and ``random`` of
``QPUAllocation-v0`` (:mod:`agents.qpu_baselines`) are different classes.
:data:`POLICIES_BY_ENV` lists the names of each environment; ``env_id=None`` means
:data:`DEFAULT_ENV_ID` (the entanglement env), so :data:`POLICIES` and
``make_policy(name)`` keep their meaning. A learned policy is given by its directory:
:func:`make_policy` routes an existing directory (a ``qenv train`` run or one of its
checkpoints) to :func:`_load_checkpoint` (:class:`training.checkpoint.CheckpointPolicy`).
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    """Acts for every agent of a ParallelEnv; ``reset`` once per episode, after ``env.reset``."""

    name: str

    def reset(self, env: Any, seed: int | None = None) -> None:
        """Start an episode of ``env`` (already reset); ``seed`` seeds the policy's randomness."""
        ...

    def act(self, observations: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
        """One action per agent (agent -> action) from the agents' observations."""
        ...


#: Environment id -> policy name -> "module:Class" (imported on first use).
_REGISTRY: dict[str, dict[str, str]] = {
    "EntanglementAllocation-v0": {
        "random": "agents.baselines:RandomPolicy",
        "round_robin": "agents.baselines:RoundRobinPolicy",
        "greedy": "agents.baselines:GreedyPolicy",
        "centralized": "agents.baselines:CentralizedPolicy",
        "oracle": "agents.baselines:OraclePolicy",
    },
    "QPUAllocation-v0": {
        "random": "agents.qpu_baselines:QPURandomPolicy",
        "round_robin": "agents.qpu_baselines:QPURoundRobinPolicy",
        "least_loaded": "agents.qpu_baselines:LeastLoadedPolicy",
        "best_fidelity": "agents.qpu_baselines:BestFidelityPolicy",
        "hyperscore_greedy": "agents.qpu_baselines:HyperScoreGreedyPolicy",
    },
}

#: The environment of ``env_id=None``.
DEFAULT_ENV_ID = "EntanglementAllocation-v0"

#: Environment id -> the policy names :func:`make_policy` accepts for it.
POLICIES_BY_ENV: dict[str, tuple[str, ...]] = {env: tuple(r) for env, r in _REGISTRY.items()}

#: Names :func:`make_policy` accepts without ``env_id`` (the default environment's).
POLICIES: tuple[str, ...] = POLICIES_BY_ENV[DEFAULT_ENV_ID]


def policy_names(env_id: str | None = None) -> tuple[str, ...]:
    """The policy names of ``env_id`` (``None``: :data:`DEFAULT_ENV_ID`).

    Raises:
        ValueError: no policies are registered for ``env_id`` (the message lists the
            environments that have some).
    """
    key = DEFAULT_ENV_ID if env_id is None else env_id
    names = POLICIES_BY_ENV.get(key)
    if names is None:
        raise ValueError(
            f"env_id: unknown environment {env_id!r} for policies; environments with "
            f"policies: {', '.join(POLICIES_BY_ENV)}"
        )
    return names


def _load_checkpoint(path: str, env_id: str | None = None) -> Policy:
    """A ``qenv train`` checkpoint (or run) directory as a :class:`Policy`
    (:class:`training.checkpoint.CheckpointPolicy`, greedy in its masked logits)."""
    from training.checkpoint import CheckpointPolicy, env_spec

    try:
        trained_on, _ = env_spec(path)
    except ValueError as exc:
        raise ValueError(
            f"policy: {exc}. Built-in policies: {', '.join(policy_names(env_id))}"
        ) from None
    if env_id is not None and trained_on != env_id:
        raise ValueError(
            f"policy: the checkpoint {path!r} was trained on {trained_on}, not {env_id}"
        )
    policy: Policy = CheckpointPolicy(path)
    return policy


def make_policy(name: str, env_id: str | None = None, **kwargs: Any) -> Policy:
    """The policy ``name`` of environment ``env_id`` built with ``kwargs``.

    Args:
        name: one of ``POLICIES_BY_ENV[env_id]``, or a checkpoint directory.
        env_id: the environment the policy will act in; ``None``: :data:`DEFAULT_ENV_ID`
            (``EntanglementAllocation-v0``).
        kwargs: arguments of the policy's class.

    Raises:
        ValueError: ``env_id`` has no policies, ``name`` is unknown for it (the message
            lists that environment's valid names), or ``name`` is a directory that is
            not a ``qenv train`` checkpoint or was trained on another environment.
    """
    names = policy_names(env_id)
    entry = _REGISTRY[DEFAULT_ENV_ID if env_id is None else env_id].get(name)
    if entry is None:
        if os.path.isdir(name):
            return _load_checkpoint(name, env_id)
        where = "" if env_id is None else f" for {env_id}"
        raise ValueError(f"policy: unknown policy {name!r}{where}; valid: {', '.join(names)}")
    module, cls = entry.split(":")
    factory = getattr(importlib.import_module(module), cls)
    policy: Policy = factory(**kwargs)
    return policy


__all__ = [
    "DEFAULT_ENV_ID",
    "POLICIES",
    "POLICIES_BY_ENV",
    "Policy",
    "make_policy",
    "policy_names",
]
