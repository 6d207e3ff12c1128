"""Baselines of QPUAllocation-v0: the per-environment registry, each rule on hand-made
rows, decentralisation, masks respected in real episodes, determinism, paired ranking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from env_helpers import mesh_env

import qenv
from agents import POLICIES, Policy, make_policy
from agents.baselines import RandomPolicy
from agents.policy import DEFAULT_ENV_ID, POLICIES_BY_ENV, policy_names
from agents.qpu_baselines import (
    BestFidelityPolicy,
    GatewayPolicy,
    HyperScoreGreedyPolicy,
    LeastLoadedPolicy,
    QPURandomPolicy,
    QPURoundRobinPolicy,
)
from qenv.envs.qpu.env import QPUAllocationEnv
from qenv.evaluate import compare, evaluate

ENV_ID = "QPUAllocation-v0"
QPU_POLICIES = ("random", "round_robin", "least_loaded", "best_fidelity", "hyperscore_greedy")
SMALL = {"scenario": "small", "horizon": 150}


@pytest.fixture(scope="module")
def env() -> QPUAllocationEnv:
    """The small scenario: 2 gateways, 3 QPUs (nairobi has 7 qubits: masked for big tasks)."""
    e = qenv.make(ENV_ID, **SMALL)
    assert isinstance(e, QPUAllocationEnv)
    return e


def _ready(policy: GatewayPolicy, env: QPUAllocationEnv, seed: int = 0) -> GatewayPolicy:
    env.reset(seed=seed)
    policy.reset(env, seed=seed)
    return policy


def _rows(env: QPUAllocationEnv, n: int) -> np.ndarray:
    return np.zeros((n, env.layout.size), dtype=np.float32)


def _set(policy: GatewayPolicy, rows: np.ndarray, i: int, name: str, values: list[float]) -> None:
    rows[i, policy.qpu_columns(name)] = values


# ---------------------------------------------------------------------- registry
def test_names_are_per_environment() -> None:
    assert POLICIES_BY_ENV[ENV_ID] == QPU_POLICIES
    assert policy_names(ENV_ID) == QPU_POLICIES
    assert policy_names() == POLICIES == POLICIES_BY_ENV[DEFAULT_ENV_ID]
    assert DEFAULT_ENV_ID == "EntanglementAllocation-v0"
    classes = {
        "random": QPURandomPolicy,
        "round_robin": QPURoundRobinPolicy,
        "least_loaded": LeastLoadedPolicy,
        "best_fidelity": BestFidelityPolicy,
        "hyperscore_greedy": HyperScoreGreedyPolicy,
    }
    for name in QPU_POLICIES:
        policy = make_policy(name, ENV_ID)
        assert isinstance(policy, Policy) and type(policy) is classes[name]
        assert policy.name == name
    # Without env_id: the entanglement baselines, as before.
    assert type(make_policy("random")) is RandomPolicy
    assert type(make_policy("random", env_id=DEFAULT_ENV_ID)) is RandomPolicy


def test_unknown_names_list_the_environments_valid_names(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown policy 'greedy' for QPUAllocation-v0; "
        r"valid: random, round_robin, least_loaded, best_fidelity, hyperscore_greedy$",
    ):
        make_policy("greedy", ENV_ID)
    with pytest.raises(ValueError, match=r"unknown policy 'least_loaded'; valid: random, .*oracle"):
        make_policy("least_loaded")
    with pytest.raises(ValueError, match=r"env_id: unknown environment 'Nope-v0'"):
        make_policy("random", "Nope-v0")
    with pytest.raises(ValueError, match=r"Built-in policies: random, .*best_fidelity"):
        make_policy(str(tmp_path), ENV_ID)


def test_a_qpu_policy_refuses_another_environment() -> None:
    other = mesh_env(horizon=5)
    other.reset(seed=0)
    with pytest.raises(ValueError, match="QPUAllocation-v0"):
        LeastLoadedPolicy().reset(other, seed=0)


def test_act_before_reset_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="reset"):
        BestFidelityPolicy().act({})


# ---------------------------------------------------------------------- rules on hand-made rows
def test_random_is_uniform_over_allowed_qpus_and_defers_only_without_one(
    env: QPUAllocationEnv,
) -> None:
    policy = _ready(QPURandomPolicy(), env)
    masks = np.array([[1, 0, 1, 1], [1, 0, 0, 0], [1, 1, 1, 1]] * 300, dtype=np.int8)
    rows = _rows(env, masks.shape[0])
    counts = np.zeros((3, 4))
    for _ in range(10):
        a = policy.gateway_actions(rows, masks)
        assert (masks[np.arange(a.size), a] == 1).all()
        for r in range(3):
            counts[r] += np.bincount(a[r::3], minlength=4)
    freq = counts / counts.sum(axis=1, keepdims=True)
    assert np.allclose(freq[0], [0, 0, 1 / 2, 1 / 2], atol=0.03)
    assert np.allclose(freq[1], [1, 0, 0, 0])
    assert np.allclose(freq[2], [0, 1 / 3, 1 / 3, 1 / 3], atol=0.03)


def test_round_robin_cycles_over_the_allowed_qpus_per_gateway(env: QPUAllocationEnv) -> None:
    policy = _ready(QPURoundRobinPolicy(), env)
    assert env.n_qpus == 3 and policy.n_gateways == 2
    rows = _rows(env, 2)
    masks = np.array([[1, 1, 1, 1], [1, 1, 0, 1]], dtype=np.int8)
    seq = [policy.gateway_actions(rows, masks).tolist() for _ in range(4)]
    assert seq == [[1, 1], [2, 3], [3, 1], [1, 3]]
    # Gateway 1 has nothing to send: it defers and its cycle resumes where it was.
    none = np.array([[1, 1, 1, 1], [1, 0, 0, 0]], dtype=np.int8)
    assert policy.gateway_actions(rows, none).tolist() == [2, 0]
    assert policy.gateway_actions(rows, masks).tolist() == [3, 1]


def test_least_loaded_takes_the_smallest_wait_then_runtime(env: QPUAllocationEnv) -> None:
    policy = _ready(LeastLoadedPolicy(), env)
    rows = _rows(env, 5)
    for i in range(5):
        _set(policy, rows, i, "esp", [0.9, 0.1, 0.1])  # ignored by this rule
    _set(policy, rows, 0, "wait", [0.5, 0.2, 0.2])
    _set(policy, rows, 0, "runtime", [0.0, 0.3, 0.1])
    rows[1] = rows[0]
    _set(policy, rows, 2, "wait", [0.2, 0.2, 0.2])
    _set(policy, rows, 2, "runtime", [0.4, 0.4, 0.4])
    _set(policy, rows, 3, "wait", [0.0, 0.0, 0.0])
    _set(policy, rows, 4, "wait", [1.0, 0.0, 0.0])
    masks = np.array(
        [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 0, 0]], dtype=np.int8
    )
    assert policy.gateway_actions(rows, masks).tolist() == [3, 2, 1, 0, 1]


def test_best_fidelity_takes_the_highest_esp_then_least_wait(env: QPUAllocationEnv) -> None:
    policy = _ready(BestFidelityPolicy(), env)
    rows = _rows(env, 5)
    _set(policy, rows, 0, "esp", [0.5, 0.9, 0.9])
    _set(policy, rows, 0, "wait", [0.0, 0.3, 0.1])
    rows[1] = rows[0]
    _set(policy, rows, 2, "esp", [0.4, 0.4, 0.4])
    _set(policy, rows, 3, "esp", [0.4, 0.4, 0.4])
    _set(policy, rows, 4, "esp", [0.1, 0.8, 0.9])
    _set(policy, rows, 4, "wait", [0.0, 0.0, 1.0])
    masks = np.array(
        [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 0, 0]], dtype=np.int8
    )
    assert policy.gateway_actions(rows, masks).tolist() == [3, 2, 1, 0, 1]


@pytest.mark.parametrize("name", QPU_POLICIES)
def test_a_gateway_decides_from_its_own_row_and_mask_only(env: QPUAllocationEnv, name: str) -> None:
    obs, _ = env.reset(seed=2)
    for _ in range(40):  # a slot in which gateway 0 has a task
        if obs["gateway_0"]["action_mask"][1:].any():
            break
        obs, *_ = env.step(dict.fromkeys(env.agents, 0))
    assert obs["gateway_0"]["action_mask"][1:].any()
    rng = np.random.default_rng(0)
    for _ in range(5):
        first = make_policy(name, ENV_ID)
        first.reset(env, seed=9)
        second = make_policy(name, ENV_ID)
        second.reset(env, seed=9)
        other = {
            "observation": rng.random(env.layout.size).astype(np.float32),
            "action_mask": np.concatenate([[1], rng.integers(0, 2, env.n_qpus)]).astype(np.int8),
        }
        changed = {**obs, "gateway_1": other}
        assert first.act(obs)["gateway_0"] == second.act(changed)["gateway_0"]


# ---------------------------------------------------------------------- real episodes
@pytest.mark.parametrize("name", QPU_POLICIES)
def test_every_baseline_only_sends_allowed_actions_and_never_defers_for_nothing(
    env: QPUAllocationEnv, name: str
) -> None:
    policy = make_policy(name, ENV_ID)
    assert isinstance(policy, GatewayPolicy)
    obs, _ = env.reset(seed=3)
    policy.reset(env, seed=3)
    wait = policy.qpu_columns("wait")
    runtime = policy.qpu_columns("runtime")
    esp = policy.qpu_columns("esp")
    sent = 0
    while env.agents:
        actions = policy.act(obs)
        assert list(actions) == env.agents
        for agent, action in actions.items():
            assert type(action) is int and env.action_space(agent).contains(action)
            row, mask = obs[agent]["observation"], obs[agent]["action_mask"]
            assert mask[action] == 1
            allowed = np.flatnonzero(mask[1:])
            assert (action == 0) == (allowed.size == 0)
            if action == 0:
                continue
            sent += 1
            j = action - 1
            if name == "least_loaded":
                key = list(zip(row[wait][allowed], row[runtime][allowed], allowed, strict=True))
                assert (row[wait][j], row[runtime][j], j) == min(key)
            elif name == "best_fidelity":
                key = list(zip(-row[esp][allowed], row[wait][allowed], allowed, strict=True))
                assert (-row[esp][j], row[wait][j], j) == min(key)
        obs, _, _, _, infos = env.step(actions)
        assert not any(info.get("invalid_action") for info in infos.values())
    m = env.metrics()
    assert m["invalid_actions"] == 0
    assert sent == m["dispatched_tasks"] > 0


@pytest.mark.parametrize("name", ["random", "round_robin"])
def test_same_seed_same_episodes(name: str) -> None:
    a = evaluate(ENV_ID, name, 2, 5, SMALL)
    b = evaluate(ENV_ID, name, 2, 5, SMALL)
    assert a["episodes"] == b["episodes"]
    c = evaluate(ENV_ID, name, 1, 6, SMALL)
    assert c["episodes"][0] == a["episodes"][1]


def test_random_draws_differ_between_seeds(env: QPUAllocationEnv) -> None:
    env.reset(seed=0)
    picks = []
    for seed in (0, 1):
        policy = QPURandomPolicy()
        policy.reset(env, seed=seed)
        masks = np.ones((200, 1 + env.n_qpus), dtype=np.int8)
        picks.append(policy.gateway_actions(_rows(env, 200), masks))
    assert not np.array_equal(picks[0], picks[1])


def _published_esp_of_dispatches(name: str, seed: int) -> tuple[float, float]:
    """Sum over the tasks a baseline sent of the published ESP on the QPU it chose, and
    the number it sent (one episode of the small scenario)."""
    env = qenv.make(ENV_ID, **SMALL)
    policy = make_policy(name, ENV_ID)
    obs, _ = env.reset(seed=seed)
    policy.reset(env, seed=seed)
    total, sent = 0.0, 0
    while env.agents:
        actions = policy.act(obs)
        for agent, action in actions.items():
            if action:
                total += float(obs[agent]["observation"][env.layout.qpu_field(action - 1, "esp")])
                sent += 1
        obs, *_ = env.step(actions)
    return total, sent


@pytest.mark.parametrize("seed", [0, 1])
def test_best_fidelity_sends_the_same_tasks_where_they_look_most_likely_to_succeed(
    seed: int,
) -> None:
    """Baselines never defer when a QPU is allowed, and masks do not depend on queues, so
    every baseline sends the same tasks in the same slots under the same published
    calibrations (drift ignores actions): best_fidelity's total published ESP is the
    largest, task by task."""
    got = {name: _published_esp_of_dispatches(name, seed) for name in QPU_POLICIES}
    sent = {n for _, n in got.values()}
    assert len(sent) == 1 and sent.pop() > 10
    best = got["best_fidelity"][0]
    for name in ("random", "round_robin", "least_loaded"):
        assert best >= got[name][0] - 1e-6, name
    assert best > got["random"][0] + 1.0


def test_least_loaded_beats_random_on_throughput_and_wait() -> None:
    res = compare(ENV_ID, ["random", "least_loaded"], 3, 0, SMALL)["results"]
    for r, ll in zip(res["random"]["episodes"], res["least_loaded"]["episodes"], strict=True):
        assert r["dispatched_tasks"] == ll["dispatched_tasks"]
        assert ll["throughput"] > r["throughput"]
        assert ll["mean_wait"] < r["mean_wait"]


def test_best_fidelity_has_the_lowest_error_rate_where_it_completes_tasks() -> None:
    """It queues everything on the best device: few completions, but good ones."""
    res = compare(ENV_ID, list(QPU_POLICIES), 3, 0, {"scenario": "small", "horizon": 300})
    rates: dict[str, Any] = {n: r["mean"]["error_rate"] for n, r in res["results"].items()}
    assert rates["best_fidelity"] is not None
    for name in ("random", "round_robin", "least_loaded"):
        assert rates["best_fidelity"] < rates[name], rates
    assert (
        res["results"]["best_fidelity"]["mean"]["throughput"]
        < res["results"]["least_loaded"]["mean"]["throughput"]
    )
