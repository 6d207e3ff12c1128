"""Environment registry: ``qenv.make(env_id, **kwargs)`` and the Gymnasium registrations.

| id | kind | class |
| --- | --- | --- |
| ``EntanglementAllocation-v0`` | PettingZoo ParallelEnv (DPEM) | :class:`~qenv.envs.entanglement.env.EntanglementAllocationEnv` |
| ``QPUAllocation-v0`` | PettingZoo ParallelEnv (AHMO) | :class:`~qenv.envs.qpu.env.QPUAllocationEnv` |
| ``qenv/EntanglementAllocationCentral-v0`` | Gymnasium Env, one centralized agent | :class:`~qenv.envs.entanglement.central.EntanglementAllocationCentralEnv` |

``import qenv`` registers the Gymnasium ids as soon as gymnasium itself is imported
(see ``qenv/__init__.py``), so ``gymnasium.make("qenv/EntanglementAllocationCentral-v0")``
works after ``import qenv``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from pettingzoo import AECEnv, ParallelEnv

from qenv import GYMNASIUM_IDS

#: PettingZoo environments: id -> "module:Class".
PARALLEL_ENVS: dict[str, str] = {
    "EntanglementAllocation-v0": "qenv.envs.entanglement.env:EntanglementAllocationEnv",
    "QPUAllocation-v0": "qenv.envs.qpu.env:QPUAllocationEnv",
}


def _load(entry_point: str) -> Callable[..., Any]:
    import importlib

    module, name = entry_point.split(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return factory


def env_ids() -> list[str]:
    """Every id :func:`make` accepts."""
    return sorted(PARALLEL_ENVS)


def make(env_id: str, **kwargs: Any) -> ParallelEnv[Any, Any, Any]:
    """Build the PettingZoo ParallelEnv ``env_id`` with keyword arguments ``kwargs``."""
    if env_id not in PARALLEL_ENVS:
        hint = difflib.get_close_matches(env_id, [*PARALLEL_ENVS, *GYMNASIUM_IDS], n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        gym = f"; Gymnasium ids {sorted(GYMNASIUM_IDS)} go through gymnasium.make"
        raise ValueError(f"env_id: unknown environment {env_id!r}{extra}; known: {env_ids()}{gym}")
    env: ParallelEnv[Any, Any, Any] = _load(PARALLEL_ENVS[env_id])(**kwargs)
    return env


def make_aec(env_id: str, **kwargs: Any) -> AECEnv[Any, Any, Any]:
    """The AEC (turn-by-turn) form of :func:`make`'s environment (``parallel_to_aec``)."""
    from pettingzoo.utils.conversions import parallel_to_aec

    return parallel_to_aec(make(env_id, **kwargs))


__all__ = ["GYMNASIUM_IDS", "PARALLEL_ENVS", "env_ids", "make", "make_aec"]
