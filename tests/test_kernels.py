"""The compiled observation and claim kernels against the numpy formulas they replaced."""

from __future__ import annotations

import numpy as np
import pytest

from qenv.envs.entanglement.env import EntanglementAllocationEnv
from qenv.envs.entanglement.kernels import UNBOUNDED, check_claims
from qenv.envs.entanglement.observation import HOPS_SCALE, PAIRS_LEFT_SCALE, QUEUE_SCALE


def reference_path_stats(core):  # type: ignore[no-untyped-def]
    """(w, bottleneck, min_credit) from full (delay, link) tables, as numpy did it."""
    links = core.engine.links
    fresh, count = core.hist_fresh.recent(), core.hist_count.recent()
    rows, n_links = fresh.shape
    age = core.t - fresh
    alive = count > 0
    cutoff = core.engine.config.cutoff_slots
    if cutoff is not None:
        alive[1:] &= age[1:] <= cutoff
    w_tab = np.ones((rows, n_links + 1))
    w_tab[:, :n_links] = np.where(alive, links.w0 * links.decay ** np.where(alive, age, 0), 0.0)
    c_tab = np.full((rows, n_links + 1), UNBOUNDED, dtype=np.int64)
    c_tab[:, :n_links] = count * alive
    credit = core.hist_credit.recent()
    cr_tab = np.full((credit.shape[0], core.n_nodes + 1), np.inf)
    cr_tab[:, : core.n_nodes] = credit
    head = core.head[core.head < core._n_requests]
    code = core.req_link_code_t[:, head]  # (H, M, k)
    inner = core.req_inner_code_t[:, head]
    w = w_tab.reshape(-1)[code].prod(axis=0)
    bottleneck = c_tab.reshape(-1)[code].min(axis=0)
    min_credit = cr_tab.reshape(-1)[inner].min(axis=0)
    return w, bottleneck, min_credit


def play(env: EntanglementAllocationEnv, steps: int, seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    for _ in range(steps):
        mask = env.core_mask()
        yield
        env.step(env.node_actions_to_agents((rng.random(mask.shape) * mask).argmax(axis=1)))


@pytest.mark.parametrize("scenario", ["mesh8", "dpem"])
def test_path_view_matches_the_table_formula(scenario: str) -> None:
    env = EntanglementAllocationEnv(scenario, 0, horizon=150)
    core = env.core
    checked = 0
    for _ in play(env, 150, seed=3):
        view = core.path_view()
        w, bottleneck, min_credit = reference_path_stats(core)
        valid = view.valid
        np.testing.assert_allclose(view.fidelity, (0.75 * w + 0.25) * (bottleneck > 0) * valid)
        np.testing.assert_array_equal(view.bottleneck, bottleneck * valid)
        np.testing.assert_array_equal(view.min_credit[valid], min_credit[valid])
        checked += int((view.bottleneck > 0).sum())
    assert checked > 0, "no path with pairs on every link: the comparison was vacuous"


def test_observation_fields_match_their_definitions() -> None:
    env = EntanglementAllocationEnv("mesh8", 0, horizon=120)
    core, f = env.core, env.layout.fields
    for _ in play(env, 120, seed=5):
        obs, mask = core.observe()
        links, eng = core.engine.links, core.engine
        np.testing.assert_allclose(
            obs[:, f["free_memory"]][:, 0], 1 - links.node_used / core.memory, rtol=1e-6
        )
        np.testing.assert_allclose(
            obs[:, f["swap_credit"]][:, 0], eng.credit / eng.config.swap_burst, rtol=1e-6
        )
        inc = core.incident
        alive = links.count > 0
        age = np.where(alive, core.t - links.fresh, 0)
        w_now = np.where(alive, links.w0 * links.decay**age, 0)
        fid = np.where(inc >= 0, (0.75 * w_now[inc] + 0.25) * alive[inc], 0.0)
        pairs = np.where(inc >= 0, links.count[inc] / np.maximum(links.capacity[inc], 1), 0.0)
        np.testing.assert_allclose(obs[:, f["link_fidelity"]], fid, rtol=1e-6)
        np.testing.assert_allclose(obs[:, f["link_pairs"]], pairs, rtol=1e-6)
        queue = core.arrived - (core.ptr - core._node_first)
        np.testing.assert_allclose(
            obs[:, f["queue_length"]][:, 0], np.minimum(queue / QUEUE_SCALE, 1), rtol=1e-6
        )
        has = core.head < core._n_requests
        nb = core.neighbours
        busy = np.where(nb >= 0, has[nb], 0).sum(axis=1) / np.maximum(core.degree, 1)
        np.testing.assert_allclose(obs[:, f["neighbour_queues"]][:, 0], busy, rtol=1e-6)
        np.testing.assert_array_equal(obs[:, f["has_request"]][:, 0], has)
        view = core.path_view()
        m, r = view.nodes, view.request
        rows = obs[m]
        np.testing.assert_allclose(
            rows[:, f["head_hops"]][:, 0], np.minimum(view.hops[:, 0] / HOPS_SCALE, 1), rtol=1e-6
        )
        np.testing.assert_allclose(
            rows[:, f["head_pairs_left"]][:, 0],
            np.minimum(core.remaining[r] / PAIRS_LEFT_SCALE, 1),
            rtol=1e-6,
        )
        np.testing.assert_allclose(rows[:, f["path_fidelity"]], view.fidelity, rtol=1e-6)
        credit = np.minimum(view.min_credit / eng.config.swap_burst, 1) * view.valid
        np.testing.assert_allclose(rows[:, f["path_swap_credit"]], credit, rtol=1e-6)
        # nodes without a head request: the whole request block is 0, only "wait" allowed
        idle = np.flatnonzero(~has)
        block = obs[idle, f["has_request"].start : f["path_score"].stop]
        assert (block == 0).all()
        assert (mask[idle, 1:] == 0).all() and (mask[:, 0] == 1).all()
        np.testing.assert_array_equal(mask[m, 1:], view.valid)


def test_check_claims_matches_the_vectorised_rules() -> None:
    env = EntanglementAllocationEnv("mesh8", 0, horizon=80)
    core = env.core
    rng = np.random.default_rng(11)
    n_claims = 0
    for _ in play(env, 80, seed=2):
        mask = core.observe()[1]
        # any integers, masked or not, in and out of range
        actions = rng.integers(-2, core.k + 3, size=core.n_nodes)
        invalid, claim, infeasible = check_claims(
            actions,
            mask,
            core.head,
            core.req_links,
            core.req_inner,
            core.engine.links.count,
            core.engine.credit,
        )
        in_range = (actions >= 0) & (actions <= core.k)
        safe = np.where(in_range, actions, 0)
        valid = in_range & (mask[np.arange(core.n_nodes), safe] == 1)
        np.testing.assert_array_equal(invalid, ~valid)
        np.testing.assert_array_equal(claim, valid & (safe > 0))
        for node in np.flatnonzero(claim):
            links = core.req_links[core.head[node], safe[node] - 1]
            inner = core.req_inner[core.head[node], safe[node] - 1]
            links, inner = links[links >= 0], inner[inner >= 0]
            expect = (core.engine.links.count[links] < 1).any() or (
                core.engine.credit[inner] < 1 - 1e-9
            ).any()
            assert infeasible[node] == expect
            n_claims += 1
        assert not infeasible[~claim].any()
    assert n_claims > 20


def test_core_step_rejects_wrong_shapes() -> None:
    env = EntanglementAllocationEnv("mesh8", 0, horizon=10)
    env.reset(seed=0)
    mask = env.core_mask()
    with pytest.raises(ValueError, match="actions must have shape"):
        env.core.step(np.zeros(3, dtype=np.int64), mask)
    with pytest.raises(ValueError, match="mask"):
        env.core.step(np.zeros(env.n_nodes, dtype=np.int64), mask[:, :1])


def test_feasibility_kernel_matches_the_default_scorer() -> None:
    from qenv.envs.entanglement.dynamics import feasibility_score
    from qenv.envs.entanglement.kernels import feasibility

    env = EntanglementAllocationEnv("mesh8", 0, horizon=120)
    core = env.core
    positive = 0
    for _ in play(env, 120, seed=9):
        view = core.path_view()
        fast = feasibility(
            view.valid,
            view.hops,
            view.bottleneck,
            view.fidelity,
            view.min_credit,
            view.f_min,
            float(view.swap_prob),
        )
        np.testing.assert_allclose(fast, feasibility_score(view), rtol=1e-12)
        positive += int((fast > 0).sum())
    assert positive > 0
