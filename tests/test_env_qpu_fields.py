"""QPUAllocation-v0 observation fields against their definitions (the compiled kernel)."""

from __future__ import annotations

import numpy as np
import pytest

from qenv.envs.qpu.dynamics import SCORE_FIELDS, WAITING, HeadView
from qenv.envs.qpu.env import QPUAllocationEnv
from qenv.envs.qpu.observation import (
    GATES_SCALE,
    QUBITS_SCALE,
    SHOTS_SCALE,
    TIME_SCALE_S,
)


@pytest.fixture(scope="module")
def env() -> QPUAllocationEnv:
    return QPUAllocationEnv("small", 0, horizon=200)


def test_fields_match_the_core_state(env: QPUAllocationEnv) -> None:
    rng = np.random.default_rng(4)
    obs, _ = env.reset(seed=4)
    core, lay = env.core, env.layout
    seen_task = 0
    while env.agents:
        view = core.head_view()
        rows = np.stack([obs[a]["observation"] for a in env.agents])
        masks = np.stack([obs[a]["action_mask"] for a in env.agents])
        now = core.now
        for g in range(core.n_gateways):
            row, task = rows[g], core.head[g]
            waiting = core.gw_tasks[core.ptr[g] : core.gw_start[g + 1]]
            waiting = waiting[(waiting < core.admitted) & (core.state[waiting] == WAITING)]
            assert core.waiting[g] == waiting.size
            assert row[lay.fields["queue_length"].start] == pytest.approx(
                min(waiting.size / 10, 1), rel=1e-6
            )
            if task == core.n_tasks:
                assert row[: lay.fields["queue_length"].start].sum() == 0
                assert (masks[g, 1:] == 0).all()
                continue
            seen_task += 1
            c = core.task_circuit[task]
            feats = core.workload.library[int(c)].features()
            expect = [
                1.0,
                feats["num_qubits"] / QUBITS_SCALE,
                feats["depth"] / GATES_SCALE,
                feats["count_2q"] / GATES_SCALE,
                core.task_shots[task] / SHOTS_SCALE,
                core.task_priority[task] / 3,
                (now - core.task_arrival[task]) / TIME_SCALE_S,
                max(core.task_deadline[task] - now, 0) / TIME_SCALE_S,
            ]
            np.testing.assert_allclose(row[:8], np.minimum(expect, 1), rtol=1e-5, atol=1e-7)
            family = row[lay.fields["family"]]
            assert family.sum() == 1 and family[core.family_index[c]] == 1
            for j, spec in enumerate(core.fleet):
                ok = feats["num_qubits"] <= spec.num_qubits and core.exec_ok[c, j]
                assert masks[g, 1 + j] == ok == view.executable[g, j]
                at = lambda name, j=j, row=row: row[lay.qpu_field(j, name)]  # noqa: E731
                wait = max(core.free_at[j] - now, 0) / TIME_SCALE_S
                assert at("wait") == pytest.approx(min(wait, 1), rel=1e-5, abs=1e-7)
                assert at("esp") == pytest.approx(view.esp[g, j], rel=1e-5, abs=1e-7)
                assert at("qnc") == pytest.approx(view.esp[g, j], rel=1e-5, abs=1e-7)
                assert at("logic") == float(ok)
                run = view.runtime_s[g, j] / TIME_SCALE_S
                assert at("runtime") == pytest.approx(min(run, 1), rel=1e-5, abs=1e-7)
                summary = core.observed[j].summary()
                err2q = min(summary["gate_error_2q"] * 10, 1)
                assert at("error_2q") == pytest.approx(err2q, rel=1e-5)
        mask = env.core_mask()
        actions = (rng.random(mask.shape) * mask).argmax(axis=1)
        obs, *_ = env.step(env.gateway_actions_to_agents(actions))
    assert seen_task > 50


def test_a_custom_scorer_fills_the_ahmo_slots(env: QPUAllocationEnv) -> None:
    def scorer(view: HeadView) -> np.ndarray:
        out = np.zeros((*view.esp.shape, len(SCORE_FIELDS)))
        out[..., -1] = 0.25 * view.executable
        out[..., 2] = np.nan  # cleaned to 0
        out[..., 3] = 7.0  # clipped to 1
        return out

    custom = QPUAllocationEnv("small", 0, horizon=50, qpu_scorer=scorer)
    obs, _ = custom.reset(seed=1)
    lay = custom.layout
    for _ in range(50):
        if custom.core.head[0] < custom.core.n_tasks:
            break
        obs, *_ = custom.step(dict.fromkeys(custom.agents, 0))
    row = obs["gateway_0"]["observation"]
    mask = obs["gateway_0"]["action_mask"]
    for j in range(custom.n_qpus):
        assert row[lay.qpu_field(j, "hyperscore")] == pytest.approx(0.25 * mask[1 + j])
        assert row[lay.qpu_field(j, "novelty")] == 0
        assert row[lay.qpu_field(j, "impact")] == 1.0

    def wrong(view: HeadView) -> np.ndarray:
        return np.zeros(3)

    bad = QPUAllocationEnv("small", 0, horizon=5, qpu_scorer=wrong)
    with pytest.raises(ValueError, match="qpu_scorer returned shape"):
        bad.reset(seed=0)
