"""The clairvoyant delivery bound (agents/bound.py): exact on a toy, never below a policy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import test_env_toy
from test_env_toy import HORIZON, contention_env, fidelity_env, square_env

import agents.bound as bound_mod
from agents.baselines import CentralizedPolicy, GreedyPolicy, OraclePolicy, RandomPolicy
from agents.bound import (
    delivery_upper_bound,
    due_delivery_rate,
    play_recorded,
    recorded_heralds,
)
from qenv.cli import main
from qenv.envs.entanglement.env import EntanglementAllocationEnv
from qenv.network.traffic import RequestBatch


def mesh8(horizon: int = 300) -> EntanglementAllocationEnv:
    return EntanglementAllocationEnv("mesh8", horizon=horizon, mask_infeasible=True)


def test_bound_equals_the_optimum_of_the_contention_toy() -> None:
    # Both requests of a slot need the one pair link (1, 2) can hold: optimum HORIZON pairs
    # of 2·HORIZON requested (test_env_toy derives it), which greedy reaches.
    env = contention_env()
    heralds = play_recorded(env, GreedyPolicy(), seed=0)
    assert heralds.shape == (HORIZON + 1, 2) and heralds[1:].all()  # p_gen = 1
    assert due_delivery_rate(env) == 0.5
    for integral in (False, True):
        result = delivery_upper_bound(env, heralds, integral=integral)
        assert result.pairs == pytest.approx(HORIZON)
        assert result.bound == pytest.approx(0.5)
        assert result.pairs_due == result.requests_due == 2 * HORIZON
        assert result.integral is integral


def test_bound_on_the_fidelity_toy_counts_only_paths_that_reach_f_min(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One request 0 -> 3 per slot: the 3-hop path delivers F = 0.738 < F_min = 0.85, the
    # direct link F = 0.9, a fresh pair every slot: optimum one pair per request.
    env = fidelity_env()
    heralds = play_recorded(env, GreedyPolicy(), seed=0)
    assert delivery_upper_bound(env, heralds).bound == pytest.approx(1.0)
    # F_min above what any path delivers: nothing is deliverable, whatever the pairs.
    monkeypatch.setattr(test_env_toy, "F_MIN", 0.95)
    env = fidelity_env()
    heralds = play_recorded(env, GreedyPolicy(), seed=0)
    assert heralds[1:].all()
    assert delivery_upper_bound(env, heralds).pairs == 0.0


def test_queue_rule_a_blocked_head_holds_back_the_request_behind_it() -> None:
    # The square of the fidelity toy (F0 = 0.9 on every link). Node 0's head request q (to 3,
    # F_min 0.95: no path reaches it) blocks its queue until q expires after slot 10; r
    # (to 1 over the direct link, F = 0.9 >= 0.85) arrives in slot 2 and is due in slot 5.
    batch = RequestBatch(
        id=np.arange(2),
        source=np.array([0, 0]),
        destination=np.array([3, 1]),
        f_min=np.array([0.95, 0.85]),
        n_pairs=np.ones(2, dtype=np.int64),
        arrival=np.array([1, 2]),
        deadline=np.array([10, 5]),
    )
    env = square_env(batch)
    heralds = play_recorded(env, GreedyPolicy(), seed=0)
    assert due_delivery_rate(env) == 0.0  # greedy, like any policy, cannot reach r
    assert delivery_upper_bound(env, heralds).pairs == 0.0
    assert delivery_upper_bound(env, heralds, fifo_order=False).pairs == pytest.approx(1.0)


@pytest.mark.parametrize(
    "policy", [GreedyPolicy, RandomPolicy, CentralizedPolicy, OraclePolicy], ids=lambda p: p.name
)
def test_no_policy_delivers_more_than_the_bound_on_its_own_draws(policy: type) -> None:
    env = mesh8()
    for seed in range(4):
        heralds = play_recorded(env, policy(), seed)
        got = due_delivery_rate(env)
        assert got == env.metrics()["due_delivery_rate"]
        core = env.core  # the metric by hand: requests due by the horizon
        due = core.batch.deadline <= core.horizon
        wanted = core.batch.n_pairs[due]
        assert got == pytest.approx((wanted - core.remaining[:-1][due]).sum() / wanted.sum())
        result = delivery_upper_bound(env, heralds)
        assert result.bound >= got - 1e-9, (seed, result, got)


def test_integer_bound_is_tighter_and_the_bound_has_headroom_somewhere() -> None:
    env = mesh8(horizon=400)
    gaps = []
    for seed in (6, 10):  # a few seconds each; greedy leaves pairs in seed 6
        heralds = play_recorded(env, GreedyPolicy(), seed)
        lp = delivery_upper_bound(env, heralds)
        ip = delivery_upper_bound(env, heralds, integral=True)  # no time limit: exact
        assert ip.integral
        assert ip.pairs <= lp.pairs + 1e-6
        assert abs(ip.pairs - round(ip.pairs)) < 1e-6
        gaps.append(ip.bound - due_delivery_rate(env))
    assert max(gaps) > 0.05  # the bound is not simply greedy's delivery
    assert min(gaps) >= -1e-9


def test_potential_heralds_contain_the_stored_ones() -> None:
    env = mesh8()
    env.core.record_heralds = True
    env.reset(seed=3)
    env.core.record_heralds = False
    links = env.core.engine.links
    stored = []
    original = links.generate

    def generate(rng: np.random.Generator) -> np.ndarray:
        out = original(rng)
        stored.append(out.copy())
        return out

    links.generate = generate  # type: ignore[method-assign]
    while env.agents:
        env.step({a: 0 for a in env.agents})
    potential = recorded_heralds(env)
    assert potential.shape == (env.core.horizon + 1, links.n_links)
    assert not potential[0].any()
    # Rows 2.. were drawn during the steps; stored heralds need a potential one.
    assert not (np.array(stored[: env.core.horizon - 1]) & ~potential[2:]).any()


def test_bad_input_is_named() -> None:
    env = mesh8()
    with pytest.raises(ValueError, match="no episode yet"):
        delivery_upper_bound(env, np.zeros((301, 1), dtype=bool))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="no herald log"):
        recorded_heralds(env)
    with pytest.raises(ValueError, match="heralds must have shape"):
        delivery_upper_bound(env, np.zeros((5, 5), dtype=bool))
    with pytest.raises(ValueError, match="EntanglementAllocation-v0 env"):
        delivery_upper_bound(object(), np.zeros((1, 1), dtype=bool))


def test_too_large_programs_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    env = mesh8()
    heralds = play_recorded(env, GreedyPolicy(), 0)
    monkeypatch.setattr(bound_mod, "MAX_CLAIM_VARIABLES", 10)
    with pytest.raises(ValueError, match="claim variables"):
        delivery_upper_bound(env, heralds)


def test_cli_writes_paired_episodes(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bound.json"
    argv = ["bound", "--scenario", "mesh8", "--env-arg", "horizon=400", "--episodes", "2"]
    assert main([*argv, "--seed", "5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "headroom" in text and "greedy" in text
    data = json.loads(out.read_text())
    assert [r["seed"] for r in data["episodes"]] == [5, 6]
    for row in data["episodes"]:
        assert row["bound"] >= row["reference"] - 1e-9
        assert row["headroom"] == pytest.approx(row["bound"] - row["reference"])
    assert main([*argv, "--reference", "nobody"]) != 0
    assert "--reference: unknown policy 'nobody'" in capsys.readouterr().err
