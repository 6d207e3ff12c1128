"""qenv: reinforcement-learning environments for allocating quantum resources.

``qenv.make(env_id, **kwargs)`` builds a PettingZoo environment and ``qenv.make_aec``
its turn-based form. Importing ``qenv`` stays light (no gymnasium, PettingZoo or
torch): the Gymnasium ids ``qenv/...`` are registered the moment gymnasium is
imported, before or after ``import qenv``, so ``gymnasium.make("qenv/...")`` just works.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

__version__ = "0.1.0"


def make(env_id: str, **kwargs: Any) -> Any:
    """Build the PettingZoo ParallelEnv ``env_id`` (see :mod:`qenv.envs`)."""
    from qenv.envs import make as _make

    return _make(env_id, **kwargs)


def make_aec(env_id: str, **kwargs: Any) -> Any:
    """The AEC form of :func:`make`'s environment."""
    from qenv.envs import make_aec as _make_aec

    return _make_aec(env_id, **kwargs)


#: Gymnasium environments (``qenv/`` namespace): id -> "module:Class".
GYMNASIUM_IDS: dict[str, str] = {
    "qenv/EntanglementAllocationCentral-v0": (
        "qenv.envs.entanglement.central:EntanglementAllocationCentralEnv"
    ),
}


def _register_gymnasium_ids() -> None:
    """Add the ``qenv/...`` ids to gymnasium's registry (entry points stay lazy strings)."""
    import gymnasium

    for env_id, entry_point in GYMNASIUM_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point)


class _LoaderHook(importlib.abc.Loader):
    """Runs gymnasium's own loader, then registers our ids."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _register_gymnasium_ids()


class _GymnasiumFinder(importlib.abc.MetaPathFinder):
    """Registers the ``qenv/`` ids when gymnasium is first imported (after ``import qenv``)."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _LoaderHook(spec.loader)
        return spec


if "gymnasium" in sys.modules:
    _register_gymnasium_ids()
elif not any(isinstance(f, _GymnasiumFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _GymnasiumFinder())

__all__ = ["__version__", "make", "make_aec"]
