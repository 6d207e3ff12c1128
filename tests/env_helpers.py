"""Builders, policies and recorders shared by the entanglement-allocation env tests.

Environments are built from objects (graph, traffic, engine config), so the tests do
not depend on the YAML scenarios. ``busy_*`` networks generate pairs fast and carry
heavy traffic, so an episode of a hundred slots has deliveries, contention, expiries
and full memories to check invariants on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qenv.envs.entanglement.env import EntanglementAllocationEnv
from qenv.network.engine import EngineConfig, ServeResult
from qenv.network.topology import chain, random_mesh
from qenv.network.traffic import Poisson, RequestBatch, TrafficModel


def mesh_kwargs(graph_seed: int = 0, *, horizon: int = 100) -> dict[str, Any]:
    """The 8-node mesh of the ``mesh8`` scenario, as keyword arguments of the env
    (for ``qenv.make`` and ``gymnasium.make`` too)."""
    graph = random_mesh(8, rng=np.random.default_rng(graph_seed), area_km=60.0, t_coh=10.0)
    return {
        "graph": graph,
        "traffic": TrafficModel(Poisson(1.0), f_min=(0.5, 0.8), deadline_slots=200),
        "engine_config": EngineConfig(),
        "horizon": horizon,
    }


def mesh_env(
    graph_seed: int = 0, *, horizon: int = 100, **kwargs: Any
) -> EntanglementAllocationEnv:
    return EntanglementAllocationEnv(**mesh_kwargs(graph_seed, horizon=horizon), **kwargs)


_BUSY_ATTRS: dict[str, Any] = {
    "gen_rate": (100.0, 800.0),
    "swap_capacity": (5.0, 50.0),
    "memory": (1, 3),
    "t_coh": (0.5, 10.0),
    "f0": (0.85, 0.99),
}
_BUSY_TRAFFIC: dict[str, Any] = {
    "f_min": (0.5, 0.95),
    "n_pairs": (1, 3),
    "deadline_slots": (0, 30),
}


def busy_env(
    topology: str = "mesh", graph_seed: int = 0, *, horizon: int = 150, **kwargs: Any
) -> EntanglementAllocationEnv:
    """A small network under heavy load: an 8-node mesh or a 5-node chain."""
    rng = np.random.default_rng(graph_seed)
    if topology == "mesh":
        graph = random_mesh(8, rng=rng, area_km=30.0, **_BUSY_ATTRS)
    elif topology == "chain":
        graph = chain(5, rng=rng, spacing_km=5.0, **_BUSY_ATTRS)
    else:
        raise ValueError(f"topology: unknown {topology!r}")
    traffic = TrafficModel(Poisson(15.0), **_BUSY_TRAFFIC)
    config = EngineConfig(cutoff_slots=10, swap_prob=0.8)
    return EntanglementAllocationEnv(
        graph=graph, traffic=traffic, engine_config=config, horizon=horizon, **kwargs
    )


# --------------------------------------------------------------------------- policies


def node_policy(
    env: EntanglementAllocationEnv, observations: dict[str, Any], rng: np.random.Generator
) -> np.ndarray:
    """One action per node, derived only from the observations and ``rng``.

    Mostly claims the best-scored path where one looks feasible (so claims collide
    and deliver), otherwise a uniformly random action allowed by the mask.
    """
    rows, masks = env.stack_observations(observations)
    score = rows[:, env.layout.fields["path_score"]]
    n = masks.shape[0]
    draw = rng.random(n)
    pick = rng.random((n, masks.shape[1]))
    random_choice = np.argmax(np.where(masks == 1, pick, -1.0), axis=1)
    best = 1 + np.argmax(np.where(masks[:, 1:] == 1, score, -1.0), axis=1)
    greedy_ok = (np.take_along_axis(score, best[:, None] - 1, axis=1)[:, 0] > 0) & (
        masks[np.arange(n), best] == 1
    )
    return np.where(greedy_ok & (draw < 0.7), best, random_choice).astype(np.int64)


def policy_actions(
    env: EntanglementAllocationEnv, observations: dict[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    """:func:`node_policy` as the agents' actions (node mode or edge clouds)."""
    return env.node_actions_to_agents(node_policy(env, observations, rng))


# --------------------------------------------------------------------------- trajectories


def hash_step(digest: Any, observations: dict[str, Any], rewards: Any, infos: Any) -> None:
    """Feed one step's observations, rewards and infos into a hashlib digest."""
    for agent in sorted(observations):
        o = observations[agent]
        digest.update(agent.encode())
        digest.update(np.ascontiguousarray(o["observation"]).tobytes())
        digest.update(np.ascontiguousarray(o["action_mask"]).tobytes())
    digest.update(repr(sorted(rewards.items())).encode())
    digest.update(repr(sorted((a, sorted(i.items())) for a, i in infos.items())).encode())


def play_hash(env: EntanglementAllocationEnv, seed: int, policy_seed: int, steps: int) -> str:
    """sha256 of a whole trajectory: reset(seed), then ``steps`` policy steps."""
    digest = hashlib.sha256()
    obs, infos = env.reset(seed=seed)
    hash_step(digest, obs, {}, infos)
    rng = np.random.default_rng(policy_seed)
    for _ in range(steps):
        obs, rewards, _, _, infos = env.step(policy_actions(env, obs, rng))
        hash_step(digest, obs, rewards, infos)
    return digest.hexdigest()


# --------------------------------------------------------------------------- recorders


@dataclass
class ServeCall:
    links: np.ndarray
    inner: np.ndarray
    f_min: np.ndarray
    result: ServeResult


@dataclass
class EngineRecorder:
    """Wraps ``engine.serve`` and ``engine.links.take_freshest`` of the current episode.

    Install after every ``reset`` (the engine is rebuilt there). An env carrying a
    recorder cannot be pickled (the wrappers are closures).
    """

    calls: list[ServeCall] = field(default_factory=list)
    taken: list[tuple[int, int]] = field(default_factory=list)

    def install(self, env: EntanglementAllocationEnv) -> None:
        engine = env.core.engine
        serve = engine.serve
        take = engine.links.take_freshest

        def recording_serve(
            links: np.ndarray, inner: np.ndarray, f_min: np.ndarray, rng: np.random.Generator
        ) -> ServeResult:
            result = serve(links, inner, f_min, rng)
            self.calls.append(ServeCall(links.copy(), inner.copy(), f_min.copy(), result))
            return result

        def recording_take(links: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            w, birth = take(links)
            self.taken.extend(zip(links.tolist(), birth.tolist(), strict=True))
            return w, birth

        engine.serve = recording_serve  # type: ignore[method-assign]
        engine.links.take_freshest = recording_take  # type: ignore[method-assign]


# --------------------------------------------------------------------------- toy traffic


class FixedRequests:
    """A request generator that returns the same hand-made batch every episode."""

    def __init__(self, batch: RequestBatch, deadline_slots: tuple[int, int] = (0, 0)) -> None:
        self.batch = batch
        self.deadline_slots = deadline_slots  # read by the env for the deadline scale

    def generate(self, n_nodes: int, n_slots: int, rng: np.random.Generator) -> RequestBatch:
        return self.batch


def every_slot(
    pairs: list[tuple[int, int]], horizon: int, f_min: float = 0.5, slack: int = 0
) -> RequestBatch:
    """One request per (source, destination) in ``pairs`` arriving in every slot 1..horizon,
    each for one pair, deadline ``arrival + slack``."""
    rows = sorted((t, s, d) for t in range(1, horizon + 1) for s, d in pairs)
    arrival = np.array([r[0] for r in rows], dtype=np.int64)
    return RequestBatch(
        id=np.arange(len(rows), dtype=np.int64),
        source=np.array([r[1] for r in rows], dtype=np.int64),
        destination=np.array([r[2] for r in rows], dtype=np.int64),
        f_min=np.full(len(rows), f_min),
        n_pairs=np.ones(len(rows), dtype=np.int64),
        arrival=arrival,
        deadline=arrival + slack,
    )
