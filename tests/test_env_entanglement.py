"""EntanglementAllocation-v0 and its Gymnasium variant: API conformance, determinism,
pickling, spaces, episode rules, invariants of random episodes, invalid actions, bad
input, rewards and edge clouds.

Environments are built from objects (:mod:`env_helpers`), not from YAML scenarios.
"""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from env_helpers import (
    EngineRecorder,
    busy_env,
    mesh_env,
    mesh_kwargs,
    node_policy,
    play_hash,
    policy_actions,
)
from gymnasium.utils.env_checker import check_env
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test

import qenv
from qenv.envs.entanglement.central import EntanglementAllocationCentralEnv
from qenv.envs.entanglement.dynamics import RewardConfig
from qenv.envs.entanglement.env import EntanglementAllocationEnv
from qenv.envs.entanglement.observation import ObservationLayout
from qenv.network.links import DISABLED

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
CENTRAL_ID = "qenv/EntanglementAllocationCentral-v0"
EPISODE_KEYS = {
    "delivery_rate",
    "contention_rate",
    "mean_latency",
    "mean_fidelity",
    "utilisation",
    "invalid_actions",
}


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (tests/ on the path); return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(TESTS_DIR)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def waits(env: EntanglementAllocationEnv) -> dict[str, Any]:
    return env.node_actions_to_agents(np.zeros(env.n_nodes, dtype=np.int64))


# --------------------------------------------------------------------------- API conformance


def test_parallel_api_node_agents() -> None:
    parallel_api_test(qenv.make("EntanglementAllocation-v0", **mesh_kwargs()), num_cycles=150)


def test_parallel_api_edge_clouds() -> None:
    # PettingZoo's sampler passes the flat mask to MultiDiscrete.sample; the env's
    # FlatMaskMultiDiscrete splits it per member node.
    env = qenv.make(
        "EntanglementAllocation-v0", agents_per="edge_cloud", n_edge_clouds=3, **mesh_kwargs()
    )
    parallel_api_test(env, num_cycles=150)


def test_aec_api() -> None:
    api_test(qenv.make_aec("EntanglementAllocation-v0", **mesh_kwargs(horizon=40)), num_cycles=60)


def test_gymnasium_central_env_checker() -> None:
    env = gymnasium.make(CENTRAL_ID, **mesh_kwargs(horizon=50))
    assert isinstance(env.unwrapped, EntanglementAllocationCentralEnv)
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    done = False
    steps = 0
    while not done:
        obs, _, terminated, truncated, info = env.step(np.zeros_like(env.action_space.nvec))
        assert terminated is False
        assert obs in env.observation_space
        done = truncated
        steps += 1
    assert steps == 50
    assert set(info["episode"]) >= EPISODE_KEYS


@pytest.mark.parametrize(
    "imports",
    ["import qenv; import gymnasium", "import gymnasium; import qenv"],
)
def test_gymnasium_make_in_either_import_order(imports: str) -> None:
    out = run_python(
        f"""
        {imports}
        from env_helpers import mesh_kwargs
        env = gymnasium.make("{CENTRAL_ID}", **mesh_kwargs(horizon=5))
        obs, _ = env.reset(seed=0)
        print(type(env.unwrapped).__name__, obs in env.observation_space)
        """
    )
    assert out.split() == ["EntanglementAllocationCentralEnv", "True"]


def test_physics_and_qenv_do_not_import_rl_libraries() -> None:
    out = run_python(
        """
        import sys
        import qenv.physics
        import qenv.network.engine
        print(sorted(m for m in ("gymnasium", "pettingzoo", "torch", "ray") if m in sys.modules))
        import qenv
        print(sorted(m for m in ("gymnasium", "pettingzoo", "torch", "ray") if m in sys.modules))
        """
    )
    assert out.split("\n")[:2] == ["[]", "[]"]


# --------------------------------------------------------------------------- determinism


def _trajectory(env: EntanglementAllocationEnv, seed: int, policy_seed: int, steps: int) -> list:
    obs, infos = env.reset(seed=seed)
    out: list[Any] = [(obs, infos)]
    rng = np.random.default_rng(policy_seed)
    for _ in range(steps):
        step = env.step(policy_actions(env, obs, rng))
        obs = step[0]
        out.append(step)
    return out


def _same(a: Any, b: Any) -> bool:
    """Deep equality of nested dicts/tuples/lists of arrays and floats (NaN == NaN)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bool(a == b) and type(a) is type(b)


def test_same_seed_same_actions_same_500_steps() -> None:
    first = _trajectory(busy_env("mesh", 3, horizon=500), seed=7, policy_seed=11, steps=500)
    again = _trajectory(busy_env("mesh", 3, horizon=500), seed=7, policy_seed=11, steps=500)
    assert _same(first, again)
    # ...and the episode is not trivial: something was delivered and contended.
    summary = first[-1][4]["node_0"]["episode"]
    assert summary["pairs_delivered"] > 0 and summary["contention_rate"] > 0
    other = _trajectory(busy_env("mesh", 3, horizon=500), seed=8, policy_seed=11, steps=500)
    assert not _same(first, other)


def test_reset_with_the_same_seed_replays_the_episode() -> None:
    env = busy_env("chain", 1, horizon=120)
    first = _trajectory(env, seed=5, policy_seed=2, steps=120)
    again = _trajectory(env, seed=5, policy_seed=2, steps=120)
    assert _same(first, again)


def test_trajectory_hash_matches_a_fresh_process() -> None:
    here = play_hash(busy_env("mesh", 3, horizon=500), seed=7, policy_seed=11, steps=500)
    there = run_python(
        """
        from env_helpers import busy_env, play_hash
        print(play_hash(busy_env("mesh", 3, horizon=500), seed=7, policy_seed=11, steps=500))
        """
    ).strip()
    assert here == there


@pytest.mark.parametrize("agents_per", ["node", "edge_cloud"])
def test_pickled_env_continues_identically(agents_per: str) -> None:
    extra = {"n_edge_clouds": 3} if agents_per == "edge_cloud" else {}
    env = busy_env("mesh", 2, horizon=200, agents_per=agents_per, **extra)
    obs, _ = env.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(50):
        obs, *_ = env.step(policy_actions(env, obs, rng))
    clone = pickle.loads(pickle.dumps(env))
    obs_clone = obs
    for _ in range(100):
        actions = policy_actions(env, obs, rng)
        step = env.step(actions)
        step_clone = clone.step(actions)
        assert _same(step, step_clone)
        obs, obs_clone = step[0], step_clone[0]
    assert _same(env.metrics(), clone.metrics())
    assert _same(obs, obs_clone)


def test_edge_clouds_play_the_same_game_as_nodes() -> None:
    """Same node actions → same node rows, masks and total reward in both agent modes."""
    nodes = busy_env("mesh", 5, horizon=80)
    clouds = busy_env("mesh", 5, horizon=80, agents_per="edge_cloud", n_edge_clouds=3)
    obs_n, _ = nodes.reset(seed=1)
    obs_c, _ = clouds.reset(seed=1)
    rng = np.random.default_rng(3)
    while nodes.agents:
        rows_n, masks_n = nodes.stack_observations(obs_n)
        rows_c, masks_c = clouds.stack_observations(obs_c)
        assert np.array_equal(rows_n, rows_c) and np.array_equal(masks_n, masks_c)
        acts = node_policy(nodes, obs_n, rng)
        obs_n, r_n, *_ = nodes.step(nodes.node_actions_to_agents(acts))
        obs_c, r_c, *_ = clouds.step(clouds.node_actions_to_agents(acts))
        assert sum(r_c.values()) == pytest.approx(sum(r_n.values()), abs=1e-9)
    assert not clouds.agents
    assert _same(nodes.metrics(), clouds.metrics())


# --------------------------------------------------------------------------- spaces


@pytest.mark.parametrize("agents_per", ["node", "edge_cloud"])
def test_observations_lie_in_their_spaces(agents_per: str) -> None:
    extra = {"n_edge_clouds": 3} if agents_per == "edge_cloud" else {}
    env = busy_env("mesh", 1, horizon=120, agents_per=agents_per, **extra)
    k, d = env.k_paths, env.core.layout.size
    width = env.members.shape[1]
    for a in env.possible_agents:
        assert env.observation_space(a) is env.observation_space(a)
        assert env.action_space(a) is env.action_space(a)
        space = env.observation_space(a)
        assert space["observation"].shape == (width * d,)
        assert space["action_mask"].shape == (width * (1 + k),)
    obs, _ = env.reset(seed=2)
    rng = np.random.default_rng(2)
    acting = list(env.agents)
    while True:
        assert set(obs) == set(acting)
        for a, o in obs.items():
            assert o in env.observation_space(a), a
            assert o["observation"].dtype == np.float32
            mask = o["action_mask"]
            assert mask.dtype == np.int8
            assert (mask.reshape(width, 1 + k)[:, 0] == 1).all()  # wait is always allowed
        state = env.state()
        assert state.shape == env.state_space.shape
        assert state in env.state_space
        if not env.agents:
            break
        acting = list(env.agents)
        obs, *_ = env.step(policy_actions(env, obs, rng))


def test_node_observation_has_the_layout_size() -> None:
    env = mesh_env()
    obs, _ = env.reset(seed=0)
    assert env.layout is env.core.layout
    for o in obs.values():
        assert o["observation"].shape == (env.core.layout.size,)
        assert o["action_mask"].shape == (1 + env.k_paths,)
    assert env.state_space.shape == (env.n_nodes * env.core.layout.size,)


def test_docstring_lists_every_observation_field() -> None:
    doc = EntanglementAllocationEnv.__doc__ or ""
    layout = ObservationLayout(max_degree=3, k=2, demand_horizon=4)
    for name in layout.fields:
        assert f"| `{name}` |" in doc, name
    assert "{fields}" not in doc


def test_padding_of_edge_clouds_is_zero_and_allows_only_wait() -> None:
    env = mesh_env(agents_per="edge_cloud", n_edge_clouds=3)
    obs, _ = env.reset(seed=0)
    k, d = env.k_paths, env.core.layout.size
    padded = [(i, a) for i, a in enumerate(env.possible_agents) if (env.members[i] < 0).any()]
    assert padded, "the 8-node mesh in 3 clouds should give clouds of unequal size"
    for i, a in padded:
        pad = np.flatnonzero(env.members[i] < 0)
        rows = obs[a]["observation"].reshape(-1, d)
        masks = obs[a]["action_mask"].reshape(-1, 1 + k)
        assert (rows[pad] == 0).all()
        assert (masks[pad] == np.eye(1, 1 + k, dtype=np.int8)).all()


# --------------------------------------------------------------------------- episode rules


@pytest.mark.parametrize("agents_per", ["node", "edge_cloud"])
def test_truncation_after_exactly_horizon_steps(agents_per: str) -> None:
    extra = {"n_edge_clouds": 3} if agents_per == "edge_cloud" else {}
    horizon = 17
    env = mesh_env(horizon=horizon, agents_per=agents_per, **extra)
    obs, infos = env.reset(seed=0)
    assert env.agents == env.possible_agents
    assert all(i == {} for i in infos.values())
    rng = np.random.default_rng(0)
    for t in range(1, horizon + 1):
        agents = list(env.agents)
        obs, rewards, terms, truncs, infos = env.step(policy_actions(env, obs, rng))
        for d in (obs, rewards, terms, truncs, infos):
            assert set(d) == set(agents)
        assert not any(terms.values())
        assert all(v == (t == horizon) for v in truncs.values())
        assert all(("episode" in i) == (t == horizon) for i in infos.values())
    assert env.agents == []
    summaries = [i["episode"] for i in infos.values()]
    assert set(summaries[0]) >= EPISODE_KEYS
    assert all(_same(s, summaries[0]) for s in summaries)
    assert _same(summaries[0], env.metrics())
    with pytest.raises(RuntimeError, match="reset"):
        env.step({a: env.action_space(a).sample() for a in env.possible_agents})
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})
    env.reset(seed=1)
    assert env.agents == env.possible_agents


# --------------------------------------------------------------------------- invariants


def check_episode_invariants(env: EntanglementAllocationEnv, seed: int, policy_seed: int) -> dict:
    """Play one episode with :func:`policy_actions`, asserting invariants every slot."""
    obs, _ = env.reset(seed=seed)
    recorder = EngineRecorder()
    recorder.install(env)
    core = env.core
    batch = core.batch
    links = core.engine.links
    got = np.zeros(len(batch), dtype=np.int64)
    stats = {"delivered": 0, "contention": 0, "full_memory": 0, "claims": 0}
    rng = np.random.default_rng(policy_seed)
    infos: dict[str, Any] = {}
    while env.agents:
        head, t, n_calls = core.head.copy(), core.t, len(recorder.calls)
        obs, _, _, _, infos = env.step(policy_actions(env, obs, rng))
        out = core.last_outcome
        assert out is not None
        new_calls = recorder.calls[n_calls:]
        assert len(new_calls) <= 1  # one serve per slot, with every feasible claim of the slot
        served = 0
        for call in new_calls:
            r = call.result
            # every claim ends in exactly one of: accepted, contention, infeasible
            assert np.array_equal(
                r.accepted.astype(int) + r.contention + r.infeasible, np.ones(len(r.accepted))
            )
            assert not (r.delivered & ~r.accepted).any()
            assert (r.fidelity[r.delivered] >= call.f_min[r.delivered]).all()
            # infeasible claims are ruled out before the engine is called
            assert not r.infeasible.any()
            served += int(r.delivered.sum())
            stats["claims"] += len(r.accepted)
        stats["claims"] += int(out.infeasible.sum())
        assert int(out.delivered.sum()) == served
        assert out.delivered.max(initial=0) <= 1  # one claim per node delivers at most one pair
        nodes = np.flatnonzero(out.delivered)
        req = head[nodes]
        assert (req < len(batch)).all()
        assert (batch.source[req] == nodes).all()
        assert ((batch.arrival[req] <= t) & (t <= batch.deadline[req])).all()  # in time
        np.add.at(got, req, out.delivered[nodes])
        assert (got <= batch.n_pairs).all()
        assert np.array_equal(core.remaining[: len(batch)], batch.n_pairs - got)
        assert (links.node_used <= links.node_memory).all()
        assert (links.count <= links.capacity).all()
        assert np.array_equal(links.count, (links.birth > DISABLED).sum(axis=1))
        stats["delivered"] += int(out.delivered.sum())
        stats["contention"] += int(out.contention.sum())
        stats["full_memory"] += int((links.node_used == links.node_memory).sum())
        m = env.metrics()
        assert 0.0 <= m["contention_rate"] <= 1.0
        assert math.isnan(m["delivery_rate"]) or 0.0 <= m["delivery_rate"] <= 1.0
    assert len(set(recorder.taken)) == len(recorder.taken), "a stored pair was used twice"
    summary = next(iter(infos.values()))["episode"]
    assert summary["pairs_delivered"] == stats["delivered"]
    assert summary["claims"] == stats["claims"]
    assert 0.0 <= summary["contention_rate"] <= 1.0
    assert math.isnan(summary["delivery_rate"]) or 0.0 <= summary["delivery_rate"] <= 1.0
    assert 0.0 <= summary["utilisation"] <= 1.0
    assert math.isnan(summary["mean_fidelity"]) or 0.25 <= summary["mean_fidelity"] <= 1.0
    assert summary["invalid_actions"] == 0
    return stats


@pytest.mark.parametrize("topology", ["mesh", "chain"])
def test_invariants_of_busy_episodes(topology: str) -> None:
    totals = {"delivered": 0, "contention": 0, "full_memory": 0, "claims": 0}
    for seed in range(3):
        stats = check_episode_invariants(busy_env(topology, seed), seed=seed, policy_seed=seed)
        for key in totals:
            totals[key] += stats[key]
    # The episodes exercise what the invariants are about.
    assert totals["delivered"] > 20
    assert totals["contention"] > 0
    assert totals["full_memory"] > 0


@settings(max_examples=6, deadline=None)
@given(
    graph_seed=st.integers(0, 10_000),
    seed=st.integers(0, 10_000),
    topology=st.sampled_from(["mesh", "chain"]),
    agents_per=st.sampled_from(["node", "edge_cloud"]),
)
@example(graph_seed=0, seed=0, topology="chain", agents_per="edge_cloud")
def test_invariants_hold_for_any_seed(
    graph_seed: int, seed: int, topology: str, agents_per: str
) -> None:
    extra = {"n_edge_clouds": 2} if agents_per == "edge_cloud" else {}
    env = busy_env(topology, graph_seed, horizon=80, agents_per=agents_per, **extra)
    check_episode_invariants(env, seed=seed, policy_seed=seed + 1)


# --------------------------------------------------------------------------- invalid actions


def _engine_state(env: EntanglementAllocationEnv) -> tuple:
    core = env.core
    c = core.counters
    return (
        core.engine.links.birth.copy(),
        core.engine.credit.copy(),
        core.remaining.copy(),
        core.head.copy(),
        core.t,
        core.rng.bit_generator.state,
        (c.claims, c.contention, c.pairs_delivered, c.infeasible, c.expired, c.completed),
    )


def _ready_env(topology: str, need_request: bool | None) -> tuple[EntanglementAllocationEnv, Any]:
    """A busy env in a slot where some node has (or has no) head request."""
    env = busy_env(topology, 0, horizon=200)
    obs, _ = env.reset(seed=0)
    f = env.layout.fields["has_request"]
    for _ in range(60):
        has = {a: bool(obs[a]["observation"][f][0]) for a in env.agents}
        if any(has.values()) and not all(has.values()):
            agent = next(a for a, h in has.items() if need_request is None or h == need_request)
            return env, agent
        obs, *_ = env.step(waits(env))
    raise AssertionError("no slot with both idle and busy nodes")


BAD_ACTIONS: list[tuple[str, str, bool | None, Any]] = [
    ("claim_without_request", "mesh", False, 1),
    ("index_above_k", "mesh", True, 4),
    ("minus_one", "mesh", True, -1),
    ("fraction", "mesh", True, 2.5),
    ("string", "mesh", True, "1"),
    ("none", "mesh", None, None),
    ("nan", "mesh", True, float("nan")),
    ("missing_path", "chain", True, 2),  # a chain has one path: candidates 2, 3 are masked
]


@pytest.mark.parametrize(
    ("topology", "need_request", "bad"),
    [b[1:] for b in BAD_ACTIONS],
    ids=[b[0] for b in BAD_ACTIONS],
)
def test_invalid_action_is_refused_counted_and_penalised(
    topology: str, need_request: bool | None, bad: Any
) -> None:
    env, agent = _ready_env(topology, need_request)
    i = env.possible_agents.index(agent)
    mask = env._mask[i]
    if isinstance(bad, int) and 0 <= bad < mask.size:
        assert mask[bad] == 0  # the premise: this action is outside the mask
    twin = pickle.loads(pickle.dumps(env))
    actions = waits(env)
    actions[agent] = bad
    obs, rewards, _, _, infos = env.step(actions)
    obs_w, rewards_w, _, _, infos_w = twin.step(waits(twin))
    # Not executed: the slot went exactly as if the agent had waited.
    assert _same(_engine_state(env), _engine_state(twin))
    assert _same(obs, obs_w)
    # Counted and penalised.
    assert infos[agent] == {"invalid_action": True} and infos_w[agent] == {}
    assert all(infos[a] == infos_w[a] for a in env.agents if a != agent)
    assert env.metrics()["invalid_actions"] == 1 and twin.metrics()["invalid_actions"] == 0
    penalty = env.core.reward_config.invalid_penalty
    assert rewards[agent] == pytest.approx(rewards_w[agent] - penalty)
    assert all(rewards[a] == rewards_w[a] for a in env.agents if a != agent)
    assert bool(env.core.last_outcome.invalid[i])


@pytest.mark.parametrize("bad", [[1, 2], 2**70], ids=["list", "huge_int"])
def test_invalid_action_never_raises(bad: Any) -> None:
    env, agent = _ready_env("mesh", True)
    actions = waits(env)
    actions[agent] = bad
    _, _, _, _, infos = env.step(actions)
    assert infos[agent] == {"invalid_action": True}


def test_one_element_array_action_is_read_as_its_value() -> None:
    env, agent = _ready_env("mesh", True)
    twin = pickle.loads(pickle.dumps(env))
    actions = waits(env)
    actions[agent] = np.array([1])
    twin_actions = dict(actions, **{agent: 1})
    assert _same(env.step(actions), twin.step(twin_actions))


def test_invalid_action_on_an_edge_cloud_padding_slot() -> None:
    env = mesh_env(agents_per="edge_cloud", n_edge_clouds=3)
    env.reset(seed=0)
    i = next(i for i in range(len(env.possible_agents)) if (env.members[i] < 0).any())
    agent = env.possible_agents[i]
    pad = int(np.flatnonzero(env.members[i] < 0)[0])
    twin = pickle.loads(pickle.dumps(env))
    actions = waits(env)
    vec = np.zeros(env.members.shape[1], dtype=np.int64)
    vec[pad] = 1
    actions[agent] = vec
    obs, rewards, _, _, infos = env.step(actions)
    obs_w, rewards_w, _, _, _ = twin.step(waits(twin))
    assert _same(_engine_state(env), _engine_state(twin))
    assert _same(obs, obs_w)
    assert infos[agent] == {"invalid_action": True}
    assert env.metrics()["invalid_actions"] == 1
    penalty = env.core.reward_config.invalid_penalty
    assert rewards[agent] == pytest.approx(rewards_w[agent] - penalty)


@pytest.mark.parametrize("bad", ["abc", [1, 2], np.array([0.5, 0, 0, 0])], ids=str)
def test_malformed_edge_cloud_action_is_invalid_not_an_error(bad: Any) -> None:
    env = mesh_env(agents_per="edge_cloud", n_edge_clouds=3)
    env.reset(seed=0)
    actions = waits(env)
    actions["cloud_0"] = bad
    _, rewards, _, _, infos = env.step(actions)
    assert infos["cloud_0"] == {"invalid_action": True}
    assert env.metrics()["invalid_actions"] >= 1
    assert rewards["cloud_0"] < 0


def test_unknown_agent_in_actions_is_an_error() -> None:
    env = mesh_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="unknown agent"):
        env.step({"node_99": 0})


# --------------------------------------------------------------------------- bad input


BAD_KWARGS: list[tuple[dict[str, Any], str]] = [
    ({"k_paths": 0}, "k_paths"),
    ({"horizon": 0}, "horizon"),
    ({"horizon": -5}, "horizon"),
    ({"horizon": 2.5}, "horizon"),
    ({"horizon": True}, "horizon"),
    ({"demand_horizon": -1}, "demand_horizon"),
    ({"agents_per": "x"}, "agents_per"),
    ({"agents_per": "edge_cloud", "n_edge_clouds": 0}, "n_edge_clouds"),
    ({"agents_per": "edge_cloud", "n_edge_clouds": 9}, "n_edge_clouds"),
    ({"n_edge_clouds": 2}, "n_edge_clouds"),
    ({"agents_per": "edge_cloud", "regions": [[0, 1], [2, 3]]}, "regions"),
    ({"agents_per": "edge_cloud", "regions": [[0, 1, 2, 3], [3, 4, 5, 6, 7]]}, "regions"),
    ({"reward": {"unknown": 1}}, "reward"),
    ({"reward": {"delivery": -1.0}}, "delivery"),
    ({"reward": 3}, "reward"),
    ({"render_mode": "human"}, "render_mode"),
]


@pytest.mark.parametrize(("kwargs", "name"), BAD_KWARGS, ids=[b[1] for b in BAD_KWARGS])
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict[str, Any], name: str) -> None:
    base = mesh_kwargs()
    with pytest.raises(ValueError, match=name):
        qenv.make("EntanglementAllocation-v0", **{**base, **kwargs})


def test_graph_without_traffic_and_traffic_without_graph() -> None:
    base = mesh_kwargs()
    with pytest.raises(ValueError, match="traffic"):
        EntanglementAllocationEnv(graph=base["graph"])
    with pytest.raises(ValueError, match="graph"):
        EntanglementAllocationEnv(traffic=base["traffic"])


def test_unknown_env_id_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="env_id") as err:
        qenv.make("Nope-v0")
    assert "EntanglementAllocation-v0" in str(err.value)
    with pytest.raises(ValueError, match="env_id"):
        qenv.make_aec("Nope-v0")


def test_central_env_refuses_edge_cloud_arguments() -> None:
    with pytest.raises(ValueError, match="agents_per"):
        EntanglementAllocationCentralEnv(agents_per="node", **mesh_kwargs())


def test_unknown_scenario_name() -> None:
    scenarios = pytest.importorskip("qenv.scenarios")
    if not hasattr(scenarios, "load_scenario"):
        pytest.skip("qenv.scenarios.load_scenario does not exist yet")
    with pytest.raises(ValueError, match="no_such_scenario"):
        qenv.make("EntanglementAllocation-v0", scenario="no_such_scenario")


# --------------------------------------------------------------------------- rewards


def _team_env(agents_per: str) -> EntanglementAllocationEnv:
    extra = {"n_edge_clouds": 3} if agents_per == "edge_cloud" else {}
    return busy_env("mesh", 0, horizon=60, agents_per=agents_per, reward={"team": True}, **extra)


def _check_team_rewards(env: EntanglementAllocationEnv) -> None:
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    nonzero = 0
    while env.agents:
        obs, rewards, *_ = env.step(policy_actions(env, obs, rng))
        values = np.array(list(rewards.values()))
        nonzero += bool(values.any())
        assert np.allclose(values, values[0]), rewards
        # the team reward is the mean of the node rewards
        assert values[0] == pytest.approx(env.core.last_outcome.reward.mean())
    assert nonzero > 0


def test_team_reward_is_shared_by_all_node_agents() -> None:
    _check_team_rewards(_team_env("node"))


def test_team_reward_is_shared_by_all_edge_clouds() -> None:
    _check_team_rewards(_team_env("edge_cloud"))


def test_central_team_reward_is_the_mean() -> None:
    env = EntanglementAllocationCentralEnv(**busy_env_kwargs(), reward={"team": True})
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(30):
        _, reward, *_ = env.step(env.action_space.sample())
        assert reward == pytest.approx(env.core.last_outcome.reward.mean())


def busy_env_kwargs() -> dict[str, Any]:
    env = busy_env("mesh", 0, horizon=60)
    core = env.core
    return {
        "graph": core.graph,
        "traffic": core.traffic,
        "engine_config": core.engine_config,
        "horizon": core.horizon,
    }


def test_central_reward_is_the_sum_of_node_rewards() -> None:
    env = EntanglementAllocationCentralEnv(**busy_env_kwargs())
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(30):
        _, reward, _, _, info = env.step(env.action_space.sample())
        assert reward == pytest.approx(env.core.last_outcome.reward.sum())
        assert info["invalid_actions"] == int(env.core.last_outcome.invalid.sum())


def test_fidelity_weighted_reward_is_the_delivered_fidelity() -> None:
    zero = {"contention_penalty": 0.0, "expiry_penalty": 0.0, "invalid_penalty": 0.0}
    env = busy_env("mesh", 1, horizon=120, reward={"fidelity_weighted": True, **zero})
    obs, _ = env.reset(seed=3)
    recorder = EngineRecorder()
    recorder.install(env)
    rng = np.random.default_rng(3)
    fidelities: list[float] = []
    while env.agents:
        n_calls = len(recorder.calls)
        obs, rewards, *_ = env.step(policy_actions(env, obs, rng))
        got = [c.result.fidelity[c.result.delivered] for c in recorder.calls[n_calls:]]
        delivered = np.sort(np.concatenate([np.zeros(0), *got]))
        values = np.array(list(rewards.values()))
        assert np.allclose(np.sort(values[values != 0]), delivered)
        delivered_nodes = env.core.last_outcome.delivered > 0
        assert np.array_equal(values > 0, delivered_nodes)
        fidelities += delivered.tolist()
    assert len(fidelities) > 5
    assert env.metrics()["mean_fidelity"] == pytest.approx(np.mean(fidelities))
    assert env.metrics()["episode_reward"] == pytest.approx(np.sum(fidelities))


def test_reward_config_defaults_match_the_docstring() -> None:
    cfg = RewardConfig()
    assert (cfg.delivery, cfg.fidelity_weighted, cfg.team) == (1.0, False, False)
    with pytest.raises(ValueError, match="invalid_penalty"):
        RewardConfig(invalid_penalty=-1.0)


# --------------------------------------------------------------------------- edge clouds


@pytest.mark.parametrize("n_clouds", [1, 3, 8])
def test_every_node_is_in_exactly_one_cloud(n_clouds: int) -> None:
    env = mesh_env(agents_per="edge_cloud", n_edge_clouds=n_clouds)
    assert len(env.possible_agents) == n_clouds == len(env.regions)
    assert sorted(v for r in env.regions for v in r) == list(range(env.n_nodes))
    assert all(len(r) > 0 for r in env.regions)
    for i, region in enumerate(env.regions):
        row = env.members[i]
        assert row[: len(region)].tolist() == region and (row[len(region) :] == -1).all()
        space = env.action_space(env.possible_agents[i])
        assert isinstance(space, gymnasium.spaces.MultiDiscrete)
        assert space.nvec.tolist() == [1 + env.k_paths] * env.members.shape[1]


def test_explicit_regions() -> None:
    regions = [[7, 0, 1], [2, 3], [4, 5, 6]]
    env = mesh_env(agents_per="edge_cloud", regions=regions)
    assert env.regions == [[0, 1, 7], [2, 3], [4, 5, 6]]


def _feasible_now(core: Any, node: int, action: int) -> bool:
    """Whether path ``action − 1`` of the node's head request has a pair on every link and
    a swap credit at every inner node now (else the claim never reaches the engine)."""
    head = core.head[node]
    links = core.req_links[head, action - 1]
    inner = core.req_inner[head, action - 1]
    links, inner = links[links >= 0], inner[inner >= 0]
    eng = core.engine
    return bool((eng.links.count[links] >= 1).all() and (eng.credit[inner] >= 1 - 1e-9).all())


def test_cloud_action_entry_claims_for_its_member_node() -> None:
    env = busy_env("mesh", 0, horizon=100, agents_per="edge_cloud", n_edge_clouds=3)
    obs, _ = env.reset(seed=0)
    k = env.k_paths
    for _ in range(60):
        choice = None
        for i, agent in enumerate(env.agents):
            masks = obs[agent]["action_mask"].reshape(-1, 1 + k)
            for j, node in enumerate(env.members[i].tolist()):
                claims = [
                    p
                    for p in (np.flatnonzero(masks[j, 1:]) + 1).tolist()
                    if node >= 0 and _feasible_now(env.core, node, p)
                ]
                if claims and j > 0:  # a feasible claim reaches the engine
                    choice = (i, agent, j, node, claims[-1])
        if choice is not None:
            break
        obs, *_ = env.step(waits(env))
    assert choice is not None, "no cloud member with a feasible claim in 60 slots"
    i, agent, j, node, path = choice
    head = int(env.core.head[node])
    expected = env.core.req_links[head, path - 1]
    recorder = EngineRecorder()
    recorder.install(env)
    claims_before = env.metrics()["claims"]
    actions = waits(env)
    vec = np.zeros(env.members.shape[1], dtype=np.int64)
    vec[j] = path
    actions[agent] = vec
    env.step(actions)
    assert env.metrics()["claims"] == claims_before + 1
    assert len(recorder.calls) == 1
    links = recorder.calls[0].links
    assert links.shape[0] == 1
    width = min(links.shape[1], expected.size)
    assert np.array_equal(links[0, :width], expected[:width])
    assert (links[0, width:] == -1).all() and (expected[width:] == -1).all()
    out = env.core.last_outcome
    assert out is not None and not out.invalid.any()
    resolved = out.delivered + out.contention + out.infeasible
    others = np.delete(np.arange(env.n_nodes), node)
    assert (resolved[others] == 0).all() and (out.delivered[others] == 0).all()


def test_huge_int_in_an_edge_cloud_action_is_invalid_not_an_error() -> None:
    env = mesh_env(agents_per="edge_cloud", n_edge_clouds=3)
    env.reset(seed=0)
    actions = waits(env)
    actions["cloud_0"] = [2**70] + [0] * (env.members.shape[1] - 1)
    _, _, _, _, infos = env.step(actions)
    assert infos["cloud_0"] == {"invalid_action": True}
