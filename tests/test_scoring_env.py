"""The AHMO pipeline inside the environments: QPUAllocation-v0's AHMO block (default
scorer, compiled gather against the numpy formula, ranges, recalibration), the
``scoring=`` argument, ``hyperscore_greedy``, and EntanglementAllocation-v0's path
HyperScore."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from env_helpers import mesh_env

from agents.policy import make_policy
from agents.qpu_baselines import HyperScoreGreedyPolicy
from qenv.envs.entanglement.dynamics import PathHyperScorer, feasibility_score
from qenv.envs.qpu.dynamics import SCORE_FIELDS, AHMOScorer, fidelity_score
from qenv.envs.qpu.env import QPUAllocationEnv
from qenv.scoring import ScoringParams, hyperscore_unit, load_params, save_params, v_score

SMALL = {"horizon": 120}


@pytest.fixture(scope="module")
def env() -> QPUAllocationEnv:
    return QPUAllocationEnv("small", 0, **SMALL)


def _play(env: QPUAllocationEnv, seed: int, policy=None, steps: int | None = None):
    """Yield (observations, masks) of every slot of an episode with random valid actions."""
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    if policy is not None:
        policy.reset(env, seed=seed)
    n = 0
    while env.agents and (steps is None or n < steps):
        yield obs
        if policy is None:
            mask = env.core_mask()
            actions = env.gateway_actions_to_agents((rng.random(mask.shape) * mask).argmax(1))
        else:
            actions = policy.act(obs)
        obs, *_ = env.step(actions)
        n += 1


def test_the_ahmo_pipeline_is_the_default_scorer(env: QPUAllocationEnv) -> None:
    assert isinstance(env.qpu_scorer, AHMOScorer)
    assert env.qpu_scorer.table is not None
    static = env.qpu_scorer.table.static
    assert static.shape == (len(env.core.workload.library), env.n_qpus, 4)
    assert np.isfinite(static).all() and (static >= 0).all() and (static <= 1).all()
    # LogicScore is 1 exactly where the circuit can run (the library is clean), 0 elsewhere.
    np.testing.assert_array_equal(static[..., 0], env.core.exec_ok.astype(float))


def test_observation_block_matches_the_pipeline(env: QPUAllocationEnv) -> None:
    lay, core, scorer = env.layout, env.core, env.qpu_scorer
    params = scorer.params
    checked = 0
    for obs in _play(env, seed=3):
        view = core.head_view()
        numpy_block = scorer(view)  # the generic (numpy) path of the same scorer
        compiled, extra = scorer.block(core)
        np.testing.assert_allclose(compiled, numpy_block, rtol=1e-9, atol=1e-12)
        for g, agent in enumerate(env.agents):
            row = obs[agent]["observation"]
            mask = obs[agent]["action_mask"]
            for j in range(env.n_qpus):
                slots = np.array([row[lay.qpu_field(j, f)] for f in SCORE_FIELDS])
                assert ((slots >= 0) & (slots <= 1)).all()
                np.testing.assert_allclose(slots, compiled[g, j], rtol=1e-6, atol=1e-7)
                if not view.has_task[g]:
                    assert (slots == 0).all()
                    continue
                assert slots[0] == mask[1 + j]  # LogicScore = the mask here
                assert slots[5] == pytest.approx(view.esp[g, j], rel=1e-6, abs=1e-7)  # QNC
                meta, v = extra[g, j]
                if mask[1 + j]:
                    c = view.circuit[g]
                    imp = np.log1p(view.priority[g] * core.workload.library[int(c)].num_qubits)
                    assert slots[3] == pytest.approx(imp / np.log1p(3 * 64), rel=1e-6)
                    tau = view.slack_s[g] if np.isfinite(view.slack_s[g]) else params.meta_tau_s
                    tau = max(tau, core.dt)
                    assert meta == pytest.approx(
                        np.exp(-(view.wait_s[j] + view.runtime_s[g, j]) / tau), rel=1e-9
                    )
                    want = v_score(*compiled[g, j, :3], compiled[g, j, 3], compiled[g, j, 4],
                                   meta, compiled[g, j, 5], params)  # fmt: skip
                    assert v == pytest.approx(want, rel=1e-9)
                    assert slots[6] == pytest.approx(hyperscore_unit(v), rel=1e-5, abs=1e-7)
                    checked += 1
                else:
                    assert slots[6] == 0.0 and v == 0.0
    assert checked > 100


def test_qnc_follows_the_published_calibration() -> None:
    env = QPUAllocationEnv(
        "small", 0, horizon=300, scenario_overrides={"drift.recalibration_period_s": 5}
    )
    env.reset(seed=1)
    versions = list(env.core.observed_versions)
    seen_change = False
    for _ in range(120):
        env.step(dict.fromkeys(env.agents, 0))
        scores, _ = env.qpu_scorer.block(env.core)
        view = env.core.head_view()
        np.testing.assert_allclose(scores[..., 5], view.esp * view.has_task[:, None])
        seen_change |= env.core.observed_versions != versions
    assert seen_change  # the QNC column was read from a re-published calibration


def test_scoring_argument(tmp_path: Path) -> None:
    fid = QPUAllocationEnv("small", 0, horizon=20, scoring="fidelity")
    assert fid.qpu_scorer is fidelity_score
    path = save_params(ScoringParams(weights={"qnc": 1.0}), tmp_path / "qnc_only.yaml")
    only = QPUAllocationEnv("small", 0, horizon=20, scoring=str(path))
    assert only.qpu_scorer.params.weights["qnc"] == 1.0
    mapping = QPUAllocationEnv("small", 0, horizon=20, scoring={"hyperscore": {"beta": 2.0}})
    assert mapping.qpu_scorer.params.beta == 2.0
    with pytest.raises(ValueError, match="not both"):
        QPUAllocationEnv("small", 0, horizon=20, scoring="x.yaml", qpu_scorer=fidelity_score)
    bad = tmp_path / "bad.yaml"
    bad.write_text("weights: {qnc: -1}\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: weights\.qnc"):
        QPUAllocationEnv("small", 0, horizon=20, scoring=str(bad))


def test_with_params_shares_the_table(env: QPUAllocationEnv) -> None:
    scorer = env.qpu_scorer
    other = scorer.with_params({"weights": {"qnc": 1.0}})
    assert other.table.static is scorer.table.static
    env.reset(seed=5)
    for _ in range(30):
        env.step(dict.fromkeys(env.agents, 0))
    a, _ = scorer.block(env.core)
    a = a.copy()
    b, extra = other.block(env.core)
    np.testing.assert_array_equal(a[..., :6], b[..., :6])
    live = b[..., 0] > 0
    assert live.any()
    # Only QNC counts: V = QNC where the pair is feasible.
    np.testing.assert_allclose(extra[..., 1][live], b[..., 5][live], rtol=1e-12)
    with pytest.raises(ValueError, match="build a new table"):
        scorer.with_params({"repro": {"max_qubits": 3}})


def test_bad_scores_never_crash_a_step() -> None:
    env = QPUAllocationEnv("small", 0, horizon=40)
    table = env.qpu_scorer.table
    table.static[0, :, 2] = np.nan  # a sub-score that could not be computed
    table.static[1, :, 1] = 0.0  # a circuit that failed in the sandbox
    for obs in _play(env, seed=2):
        for o in obs.values():
            assert np.isfinite(o["observation"]).all()
    assert not env.agents


def test_pickled_env_continues_identically(env: QPUAllocationEnv) -> None:
    env.reset(seed=9)
    for _ in range(20):
        env.step(dict.fromkeys(env.agents, 1))
    clone = pickle.loads(pickle.dumps(env))
    actions = dict.fromkeys(env.agents, 0)
    a, *_ = env.step(actions)
    b, *_ = clone.step(actions)
    for agent in a:
        np.testing.assert_array_equal(a[agent]["observation"], b[agent]["observation"])


# ---------------------------------------------------------------------- hyperscore_greedy
def test_hyperscore_greedy_takes_the_argmax_of_allowed_qpus(env: QPUAllocationEnv) -> None:
    policy = make_policy("hyperscore_greedy", "QPUAllocation-v0")
    assert isinstance(policy, HyperScoreGreedyPolicy)
    env.reset(seed=0)
    policy.reset(env, seed=0)
    rows = np.zeros((3, env.layout.size), dtype=np.float32)
    masks = np.array([[1, 1, 1, 1], [1, 1, 0, 1], [1, 0, 0, 0]], dtype=np.int8)
    cols = policy.qpu_columns("hyperscore")
    rows[:, cols] = [[0.2, 0.9, 0.5], [0.2, 0.9, 0.5], [0.9, 0.9, 0.9]]
    rows[1, policy.qpu_columns("wait")] = [0.3, 0.0, 0.3]
    np.testing.assert_array_equal(policy.gateway_actions(rows, masks), [2, 3, 0])
    rows[0, cols] = [0.5, 0.5, 0.5]  # a tie: the least wait, then the lowest index
    rows[0, policy.qpu_columns("wait")] = [0.4, 0.1, 0.1]
    assert policy.gateway_actions(rows[:1], masks[:1])[0] == 2


def test_hyperscore_greedy_respects_masks_and_is_deterministic(env: QPUAllocationEnv) -> None:
    def run(seed: int) -> list[tuple[int, ...]]:
        policy = make_policy("hyperscore_greedy", "QPUAllocation-v0")
        out = []
        for obs in _play(env, seed, policy):
            acts = policy.act(obs)
            for agent, a in acts.items():
                assert obs[agent]["action_mask"][a] == 1
            out.append(tuple(acts.values()))
        return out

    assert run(4) == run(4)
    assert env.metrics()["invalid_actions"] == 0


# ---------------------------------------------------------------------- entanglement env
def test_path_hyperscore_is_positive_exactly_where_feasible() -> None:
    env = mesh_env(0, horizon=80, path_scorer="hyperscore")
    core = env.core
    scorer = core.path_scorer
    assert isinstance(scorer, PathHyperScorer)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    seen = 0
    while env.agents:
        view = core.path_view()
        if view.nodes.size:
            ours = scorer(view)
            base = feasibility_score(view)
            assert ((ours > 0) == (base > 0)).all()
            assert ((ours >= 0) & (ours <= 1)).all()
            seen += int((ours > 0).sum())
        mask = env.core_mask()
        env.step(env.node_actions_to_agents((rng.random(mask.shape) * mask).argmax(1)))
    assert seen > 0


def test_path_hyperscore_grades_by_success_margin_and_pairs() -> None:
    from qenv.envs.entanglement.dynamics import PathView

    view = PathView(
        nodes=np.array([0]),
        request=np.array([0]),
        valid=np.array([[True, True, True, True]]),
        hops=np.array([[1, 3, 1, 1]]),
        bottleneck=np.array([[2, 2, 2, 0]]),
        fidelity=np.array([[0.95, 0.95, 0.80, 0.95]]),
        min_credit=np.array([[np.inf, 5.0, np.inf, np.inf]]),
        f_min=np.array([0.7]),
        swap_prob=0.5,
    )
    p = load_params()
    s = PathHyperScorer(p)(view)[0]
    assert s[0] > s[1] > 0  # more hops: lower success probability
    assert s[0] > s[2] > 0  # smaller fidelity margin
    assert s[3] == 0.0  # an empty link: infeasible
    w = np.array([p.weights[k] for k in ("logic", "repro", "meta", "qnc")])
    w /= w.sum()
    v0 = w @ [1.0, (0.95 - 0.7) / 0.3, 2 / 3, 1.0]
    assert s[0] == pytest.approx(hyperscore_unit(v0, p.beta, p.gamma, p.kappa), rel=1e-9)


def test_entanglement_greedy_acts_the_same_with_either_path_score() -> None:
    from agents.baselines import GreedyPolicy

    def trajectory(path_scorer: str) -> list[tuple[int, ...]]:
        env = mesh_env(1, horizon=60, path_scorer=path_scorer)
        policy = GreedyPolicy()
        obs, _ = env.reset(seed=7)
        policy.reset(env, seed=7)
        out = []
        while env.agents:
            acts = policy.act(obs)
            out.append(tuple(acts.values()))
            obs, *_ = env.step(acts)
        return out

    assert trajectory("hyperscore") == trajectory("feasibility")
    with pytest.raises(ValueError, match="path_scorer"):
        mesh_env(0, horizon=5, path_scorer="magic")
