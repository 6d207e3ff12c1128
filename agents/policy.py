"""One interface for every allocation policy: the baselines now, learned agents later.

A :class:`Policy` acts for *all* agents of a PettingZoo ``ParallelEnv`` at once:
``act`` receives the observations of one slot (agent -> ``{"observation",
"action_mask"}``) and returns one action per agent. ``reset`` is called after every
``env.reset`` with the env (a policy reads what it needs from ``env.unwrapped``) and
the episode's seed, so a policy with randomness is reproducible per episode.

Policies are built by name with :func:`make_policy`; :data:`POLICIES` lists the
names. Checkpoint directories of learned policies (RLlib) are reserved for the
training stack (#7): :func:`make_policy` routes an existing directory to
:func:`_load_checkpoint`, which raises until then.
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


#: Policy name -> "module:Class" (imported on first use).
_REGISTRY: dict[str, str] = {
    "random": "agents.baselines:RandomPolicy",
    "round_robin": "agents.baselines:RoundRobinPolicy",
    "greedy": "agents.baselines:GreedyPolicy",
    "centralized": "agents.baselines:CentralizedPolicy",
    "oracle": "agents.baselines:OraclePolicy",
}

#: Names :func:`make_policy` accepts.
POLICIES: tuple[str, ...] = tuple(_REGISTRY)


def _load_checkpoint(path: str) -> Policy:
    """Hook for learned policies: build a :class:`Policy` from a training checkpoint."""
    raise ValueError(
        f"policy: {path!r} is a directory; checkpoint policies arrive with the training "
        f"stack (#7). Built-in policies: {', '.join(POLICIES)}"
    )


def make_policy(name: str, **kwargs: Any) -> Policy:
    """The policy ``name`` (one of :data:`POLICIES`) built with ``kwargs``.

    Raises:
        ValueError: ``name`` is unknown (the message lists the valid names), or it is a
            checkpoint directory (not supported before the training stack, #7).
    """
    entry = _REGISTRY.get(name)
    if entry is None:
        if os.path.isdir(name):
            return _load_checkpoint(name)
        raise ValueError(f"policy: unknown policy {name!r}; valid: {', '.join(POLICIES)}")
    module, cls = entry.split(":")
    factory = getattr(importlib.import_module(module), cls)
    policy: Policy = factory(**kwargs)
    return policy


__all__ = ["POLICIES", "Policy", "make_policy"]
