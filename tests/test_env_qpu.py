"""QPUAllocation-v0 against PettingZoo's API tests, and its determinism, pickling,
rendering, invariants, invalid actions and bad arguments.

Most tests use the ``small`` scenario (2 gateways; nairobi, aria, photonic; QAOA only);
the invariant test also plays the default scenario. Routing is cached per process, so
only the first construction of each scenario pays for the transpiler.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test

import qenv
from qenv.envs.qpu.dynamics import DISPATCHED, DONE, DROPPED, STARTED, WAITING
from qenv.envs.qpu.env import QPUAllocationEnv

METRICS = {
    "throughput",
    "error_rate",
    "mean_completion_time",
    "utilisation",
    "deadline_miss_rate",
    "invalid_actions",
}


def random_valid(env: QPUAllocationEnv, rng: np.random.Generator) -> dict[str, Any]:
    """Per gateway a uniform action among those its mask allows (defer included)."""
    mask = env.core_mask()
    weights = mask / mask.sum(axis=1, keepdims=True)
    cum = np.cumsum(weights, axis=1)
    pick = (rng.random(len(mask))[:, None] < cum).argmax(axis=1)
    return env.gateway_actions_to_agents(pick)


def trajectory(env: QPUAllocationEnv, seed: int, policy_seed: int, steps: int) -> list[Any]:
    rng = np.random.default_rng(policy_seed)
    out: list[Any] = [env.reset(seed=seed)]
    for _ in range(steps):
        if not env.agents:
            break
        out.append(env.step(random_valid(env, rng)))
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bool(a == b) and type(a) is type(b)


@pytest.fixture(scope="module")
def small() -> QPUAllocationEnv:
    return QPUAllocationEnv("small", 0, horizon=150)


# --------------------------------------------------------------------------- API conformance


def test_parallel_api() -> None:
    parallel_api_test(qenv.make("QPUAllocation-v0", scenario="small", horizon=120), num_cycles=150)


def test_aec_api() -> None:
    api_test(qenv.make_aec("QPUAllocation-v0", scenario="small", horizon=40), num_cycles=60)


def test_observations_lie_in_their_spaces(small: QPUAllocationEnv) -> None:
    obs, _ = small.reset(seed=1)
    rng = np.random.default_rng(1)
    while small.agents:
        for agent, o in obs.items():
            assert o in small.observation_space(agent)
        obs, *_ = small.step(random_valid(small, rng))


def test_truncation_after_exactly_horizon_steps(small: QPUAllocationEnv) -> None:
    small.reset(seed=0)
    steps = 0
    rng = np.random.default_rng(0)
    while small.agents:
        _, _, term, trunc, infos = small.step(random_valid(small, rng))
        steps += 1
        assert not any(term.values())
    assert steps == 150
    assert all(trunc.values())
    for info in infos.values():
        assert set(info["episode"]) >= METRICS
    with pytest.raises(RuntimeError, match="reset"):
        small.step({})


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_actions_same_episode(small: QPUAllocationEnv) -> None:
    first = trajectory(small, seed=3, policy_seed=5, steps=150)
    again = trajectory(QPUAllocationEnv("small", 0, horizon=150), seed=3, policy_seed=5, steps=150)
    assert same(first, again)
    summary = first[-1][4]["gateway_0"]["episode"]
    assert summary["completed_tasks"] > 0  # the episode is not trivial
    other = trajectory(small, seed=4, policy_seed=5, steps=150)
    assert not same(first, other)


def test_tasks_and_noise_do_not_depend_on_the_actions(small: QPUAllocationEnv) -> None:
    """Policies compared on one seed face the same tasks and the same noise."""
    rng = np.random.default_rng(0)
    runs = []
    for policy in ("defer", "random"):
        small.reset(seed=9)
        arrivals = small.core.task_arrival.copy()
        esp_true = []
        while small.agents:
            if policy == "defer":
                actions = small.gateway_actions_to_agents(np.zeros(small.core.n_gateways))
            else:
                actions = random_valid(small, rng)
            small.step(actions)
            esp_true.append(small.core.esp_true.copy())
        runs.append((arrivals, np.stack(esp_true)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_pickled_env_continues_identically(small: QPUAllocationEnv) -> None:
    small.reset(seed=2)
    rng = np.random.default_rng(2)
    for _ in range(40):
        small.step(random_valid(small, rng))
    clone = pickle.loads(pickle.dumps(small))
    for _ in range(80):
        actions = random_valid(small, rng)
        assert same(small.step(actions), clone.step(actions))
    assert same(small.metrics(), clone.metrics())


# --------------------------------------------------------------------------- invariants


def _check_invariants(env: QPUAllocationEnv, seed: int) -> dict[str, float]:
    core = env.core
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    seen: set[int] = set()
    while env.agents:
        mask = env.core_mask().copy()
        heads = core.head.copy()
        actions = random_valid(env, rng)
        env.step(actions)
        out = core.last_outcome
        for task, q in zip(out.dispatched.tolist(), out.dispatched_to.tolist(), strict=True):
            # A task runs once, on a device whose mask allowed it, big enough for it.
            assert task not in seen
            seen.add(task)
            g = int(core.task_gateway[task])
            assert heads[g] == task and mask[g, 1 + q] == 1
            c = int(core.task_circuit[task])
            assert core.exec_ok[c, q]
            width = core.workload.library[c].features()["num_qubits"]
            assert width <= core.fleet[q].num_qubits
            assert core.qpu[task] == q
    n = core.n_tasks
    state, qpu = core.state[:n], core.qpu[:n]
    assert set(np.unique(state).tolist()) <= {WAITING, DISPATCHED, STARTED, DONE, DROPPED}
    sent = np.isin(state, (DISPATCHED, STARTED, DONE))
    assert set(np.flatnonzero(sent).tolist()) == seen
    assert (qpu[~sent] == -1).all()
    # First in, first out without preemption: runs on one QPU never overlap.
    ran = np.isin(state, (STARTED, DONE))
    for q in range(core.n_qpus):
        on_q = np.flatnonzero(ran & (qpu == q))
        order = on_q[np.argsort(core.start[on_q], kind="stable")]
        assert (core.start[order][1:] >= core.end[order][:-1] - 1e-9).all()
        assert (core.start[order] >= core.task_arrival[order]).all()
    done = state == DONE
    p = core.p_success[:n][done]
    assert ((p >= 0) & (p <= 1)).all()
    assert (core.end[:n][done] <= core.now + 1e-9).all()
    m = env.metrics()
    assert m["completed_tasks"] == done.sum()
    if p.size:
        assert m["error_rate"] == pytest.approx(1 - p.mean())
    assert 0 <= m["utilisation"] <= 1
    assert 0 <= m["deadline_miss_rate"] <= 1
    return m


@pytest.mark.parametrize("seed", [0, 1])
def test_invariants_small(small: QPUAllocationEnv, seed: int) -> None:
    m = _check_invariants(small, seed)
    assert m["completed_tasks"] > 0


@pytest.mark.slow
def test_invariants_default_scenario() -> None:
    env = QPUAllocationEnv("default", 0, horizon=400)
    m = _check_invariants(env, 0)
    assert m["completed_tasks"] > 0


def test_no_drift_means_the_agents_see_the_true_noise() -> None:
    env = QPUAllocationEnv("small", 0, horizon=100, scenario_overrides={"drift.sigma": 0})
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    while env.agents:
        np.testing.assert_allclose(env.core.esp_true, env.core.esp_observed, rtol=1e-12)
        env.step(random_valid(env, rng))


def test_drift_moves_the_true_noise_away_from_the_calibration(small: QPUAllocationEnv) -> None:
    small.reset(seed=0)
    rng = np.random.default_rng(0)
    gaps = []
    while small.agents:
        small.step(random_valid(small, rng))
        ok = small.core.exec_ok
        gaps.append(np.abs(small.core.esp_true - small.core.esp_observed)[ok].max())
    assert max(gaps) > 1e-3


# --------------------------------------------------------------------------- rendering


def test_render_ansi_names_every_qpu() -> None:
    env = QPUAllocationEnv("small", 0, horizon=30, render_mode="ansi")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        env.step(random_valid(env, rng))
    text = env.render()
    assert isinstance(text, str)
    for name in env.qpu_names:
        assert name in text


def test_render_rgb_array_is_a_picture() -> None:
    env = QPUAllocationEnv("small", 0, horizon=30, render_mode="rgb_array")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        env.step(random_valid(env, rng))
    img = env.render()
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8
    assert img.ndim == 3 and img.shape[2] == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert img.std() > 0  # not a blank canvas
    env.close()


def test_render_without_mode_warns_and_returns_none(small: QPUAllocationEnv) -> None:
    small.reset(seed=0)
    assert small.render() is None


# --------------------------------------------------------------------------- bad actions


def test_invalid_action_is_refused_counted_and_penalised(small: QPUAllocationEnv) -> None:
    small.reset(seed=0)
    # Find a slot where gateway 0 has a head task that some QPU cannot take, or no task.
    rng = np.random.default_rng(0)
    for _ in range(150):
        mask = small.core_mask()
        blocked = np.flatnonzero(mask[0, 1:] == 0)
        if blocked.size:
            break
        small.step(random_valid(small, rng))
    assert blocked.size, "no masked QPU seen for gateway 0"
    before = small.metrics()["invalid_actions"]
    actions = {a: 0 for a in small.agents}
    actions["gateway_0"] = int(blocked[0]) + 1
    _, rewards, _, _, infos = small.step(actions)
    assert infos["gateway_0"].get("invalid_action") is True
    assert "invalid_action" not in infos["gateway_1"]
    assert rewards["gateway_0"] <= -small.core.reward_config.invalid_penalty + 3 + 1e-9
    assert small.metrics()["invalid_actions"] == before + 1
    assert small.core.last_outcome.dispatched.size == 0 or (
        0 not in small.core.task_gateway[small.core.last_outcome.dispatched]
    )


@pytest.mark.parametrize(
    "bad", [-1, 99, 2**70, 1.5, "x", None, np.array([1, 2]), [0, 1], float("nan")]
)
def test_invalid_action_never_raises(small: QPUAllocationEnv, bad: Any) -> None:
    small.reset(seed=0)
    before = small.metrics()["invalid_actions"]
    _, _, _, _, infos = small.step({"gateway_0": bad, "gateway_1": 0})
    assert infos["gateway_0"].get("invalid_action") is True
    assert small.metrics()["invalid_actions"] == before + 1


def test_numpy_integer_actions_are_read_as_their_value(small: QPUAllocationEnv) -> None:
    small.reset(seed=0)
    _, _, _, _, infos = small.step({"gateway_0": np.int64(0), "gateway_1": np.array([0])})
    assert not any("invalid_action" in i for i in infos.values())


def test_missing_agents_defer_and_unknown_agents_are_an_error(small: QPUAllocationEnv) -> None:
    small.reset(seed=0)
    _, _, _, _, infos = small.step({"gateway_1": 0})
    assert not any("invalid_action" in i for i in infos.values())
    with pytest.raises(ValueError, match="unknown agent"):
        small.step({"gateway_7": 0})


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"scenario": "no_such_scenario"}, "no_such_scenario"),
        ({"render_mode": "human"}, "render_mode"),
        ({"horizon": 0}, "horizon"),
        ({"reward": {"bonus": 1.0}}, "bonus"),
        ({"reward": {"drop_penalty": -1.0}}, "drop_penalty"),
        ({"reward": 3}, "reward"),
        ({"scenario_overrides": {"gateways": 0}}, "gateways"),
        ({"scenario_overrides": {"drift.sigma": -1}}, "sigma"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        QPUAllocationEnv(**{"scenario": "small", **kwargs})


def test_registered_under_its_id() -> None:
    env = qenv.make("QPUAllocation-v0", scenario="small", horizon=10)
    assert isinstance(env.unwrapped, QPUAllocationEnv)
    assert env.metadata["name"] == "QPUAllocation-v0"


@pytest.mark.parametrize("n", [1, 2, 3, 10, 127, 144])
def test_fast_median_is_numpys(n: int) -> None:
    from qenv.envs.qpu.dynamics import _median

    arr = np.random.default_rng(n).random(n)
    assert _median(arr) == np.median(arr)
    assert math.isnan(_median(np.zeros(0)))
