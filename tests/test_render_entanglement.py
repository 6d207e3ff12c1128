"""Render modes of EntanglementAllocation-v0: text summary and RGB frame."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import networkx as nx
import numpy as np
import pytest

pytest.importorskip("pettingzoo")
pytest.importorskip("matplotlib")

from qenv.envs.entanglement import render
from qenv.envs.entanglement.dynamics import StepOutcome
from qenv.envs.entanglement.env import EntanglementAllocationEnv
from qenv.network.engine import EngineConfig
from qenv.network.topology import random_mesh
from qenv.network.traffic import Poisson, TrafficModel

HEIGHT, WIDTH = 480, 640
AXES_RIGHT = int(0.73 * WIDTH)  # left of the colorbars and of the legend's red line


def _graph(n: int = 8) -> nx.Graph:
    # Short, fast links and plenty of swap capacity: claims get accepted within a few slots.
    rng = np.random.default_rng(0)
    return random_mesh(n, rng=rng, area_km=20.0, gen_rate=500.0, swap_capacity=200.0, t_coh=10.0)


def _env(
    render_mode: str | None = "rgb_array", graph: nx.Graph | None = None, **kwargs: Any
) -> EntanglementAllocationEnv:
    return EntanglementAllocationEnv(
        graph=_graph() if graph is None else graph,
        traffic=TrafficModel(Poisson(20.0), deadline_slots=200),
        engine_config=EngineConfig(),
        horizon=50,
        mask_infeasible=True,
        render_mode=render_mode,
        **kwargs,
    )


def _greedy(env: EntanglementAllocationEnv, obs: dict[str, Any]) -> dict[str, Any]:
    """Every node claims its last allowed path (waits if none)."""
    n_opts = 1 + env.k_paths
    out: dict[str, Any] = {}
    for agent in env.agents:
        masks = obs[agent]["action_mask"].reshape(-1, n_opts)
        out[agent] = np.array([int(np.flatnonzero(m)[-1]) for m in masks])
        if env.agents_per == "node":
            out[agent] = int(out[agent][0])
    return out


def _wait(env: EntanglementAllocationEnv) -> dict[str, Any]:
    return env.node_actions_to_agents(np.zeros(env.n_nodes, dtype=np.int64))


def _step_until_claims(env: EntanglementAllocationEnv, obs: dict[str, Any]) -> dict[str, Any]:
    for _ in range(30):
        obs, *_ = env.step(_greedy(env, obs))
        if env.core.last_outcome is not None and env.core.last_outcome.claimed_links:
            return obs
    raise AssertionError("no claim was accepted in 30 slots")


def _red_pixels(frame: np.ndarray) -> int:
    """Pixels in the network axes of the claimed-path colour."""
    ax = frame[:, :AXES_RIGHT].astype(np.int64)
    return int(((ax[..., 0] > 190) & (ax[..., 1] < 90) & (ax[..., 2] < 90)).sum())


def _frame(env: EntanglementAllocationEnv) -> np.ndarray:
    frame = env.render()
    assert isinstance(frame, np.ndarray)
    return frame


def _text(env: EntanglementAllocationEnv) -> str:
    text = env.render()
    assert isinstance(text, str)
    return text


# ---------------------------------------------------------------------- rgb_array
def test_rgb_frames_show_claims_and_change() -> None:
    env = _env()
    obs, _ = env.reset(seed=0)
    first = _frame(env)
    assert first.shape == (HEIGHT, WIDTH, 3)
    assert first.dtype == np.uint8
    assert first.flags.c_contiguous and first.flags.writeable
    again = _frame(env)
    np.testing.assert_array_equal(first, again)  # same state, same frame (blitting is clean)
    assert again is not first
    assert _red_pixels(first) == 0

    obs = _step_until_claims(env, obs)
    claimed = _frame(env)
    assert not np.array_equal(first, claimed)
    assert not np.array_equal(first[: render.TITLE_ROWS], claimed[: render.TITLE_ROWS])
    np.testing.assert_array_equal(_frame(env), claimed)  # title values pasted from the cache
    st = env._render_cache["rgb"]
    out = env.core.last_outcome
    assert out is not None
    paths = [p[p >= 0] for p in out.claimed_links]
    assert st.claimed_paths == len(paths) > 0
    assert st.claimed_segments == sum(p.size for p in paths)
    assert _red_pixels(claimed) > 100

    env.step(_wait(env))  # nothing claimed: the highlight is gone again
    plain = _frame(env)
    assert st.claimed_paths == 0 and st.claimed_segments == 0
    assert _red_pixels(plain) == 0
    env.close()


def test_rgb_fake_outcome_and_queue_rings() -> None:
    env = _env()
    env.reset(seed=0)
    _frame(env)
    st = env._render_cache["rgb"]
    assert st.queued_nodes == int((env.core.head < len(env.core.batch)).sum())
    n = env.n_nodes
    zeros = np.zeros(n, dtype=np.int64)
    links = [np.array([0, -1, -1]), np.array([1, 2, -1]), np.array([-1, -1, -1])]
    env.core.last_outcome = StepOutcome(
        np.zeros(n), zeros, zeros, zeros, np.zeros(n, dtype=bool), zeros, links
    )
    frame = _frame(env)
    assert st.claimed_paths == 2 and st.claimed_segments == 3  # padding −1 is not drawn
    assert _red_pixels(frame) > 50
    env.close()


def test_rgb_before_reset_and_without_positions() -> None:
    g = _graph().copy()
    for i in g.nodes:
        del g.nodes[i]["pos"]
    env = _env(graph=g)
    frame = _frame(env)  # before reset: an empty network
    assert frame.shape == (HEIGHT, WIDTH, 3)
    pos = env._render_cache["pos"]
    assert pos.shape == (env.n_nodes, 2) and np.isfinite(pos).all()
    obs, _ = env.reset(seed=0)
    _step_until_claims(env, obs)
    assert _red_pixels(_frame(env)) > 0
    assert env._render_cache["pos"] is pos  # computed once
    env.close()


def test_close_is_idempotent_and_render_rebuilds() -> None:
    env = _env()
    env.close()  # before any render
    env.reset(seed=0)
    first = _frame(env)
    env.close()
    env.close()
    assert "rgb" not in env._render_cache
    np.testing.assert_array_equal(_frame(env), first)
    env.close()


def test_render_mode_none_returns_none() -> None:
    env = _env(render_mode=None)
    env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert env.render() is None
    env.close()


def test_invalid_render_mode() -> None:
    with pytest.raises(ValueError, match="render_mode"):
        _env(render_mode="human")


# ---------------------------------------------------------------------- ansi
def test_ansi_summary_before_and_after_claims() -> None:
    env = _env(render_mode="ansi")
    text = _text(env)  # before reset
    assert "slot 0/50" in text and "last slot: -" in text
    obs, _ = env.reset(seed=0)
    text = _text(env)
    assert "slot 1/50" in text
    for name in ("delivery_rate", "contention_rate", "mean_latency", "mean_fidelity"):
        assert name in text
    assert "mean_latency -" in text  # NaN before any request completed
    assert "last slot: -" in text
    rows = [line for line in text.splitlines() if line.split()[:1] == ["7"]]
    assert len(rows) == 1 and rows[0].split()[1] == f"{env.core.engine.links.node_used[7]}/8"
    assert "queued:" in text and "stored pairs:" in text

    obs = _step_until_claims(env, obs)
    text = _text(env)
    out = env.core.last_outcome
    assert out is not None
    assert f"last slot: {len(out.claimed_links)} claims accepted: " in text
    for ids in out.claimed_links:
        nodes = render.path_nodes(env.core.ends, ids[ids >= 0])
        assert "-".join(map(str, nodes)) in text
        assert all(env.core.graph.has_edge(a, b) for a, b in itertools.pairwise(nodes))
    node_lines = text.splitlines()[-env.n_nodes :]
    assert any(line.endswith("delivered") for line in node_lines)
    used = env.core.engine.links.node_used
    for i, line in enumerate(node_lines):
        assert line.split()[:2] == [str(i), f"{used[i]}/8"]


def test_ansi_large_network_and_many_claims() -> None:
    env = _env(render_mode="ansi", graph=_graph(25))
    env.reset(seed=0)
    n = env.n_nodes
    zeros = np.zeros(n, dtype=np.int64)
    links = [np.array([i % env.core.ends.shape[0], -1]) for i in range(13)]
    env.core.last_outcome = StepOutcome(
        np.zeros(n), zeros, zeros, zeros, np.zeros(n, dtype=bool), zeros, links
    )
    text = _text(env)
    assert "13 claims accepted" in text and "… and 3 more" in text
    assert "node" not in text.split("\n", 4)[-1]  # no per-node rows for N > 20
    assert len(text.splitlines()) == 5


def test_path_nodes() -> None:
    ends = np.array([[0, 1], [2, 1], [2, 3]])
    assert render.path_nodes(ends, np.array([0, 1, 2])) == [0, 1, 2, 3]
    assert render.path_nodes(ends, np.array([2, 1, 0])) == [3, 2, 1, 0]
    assert render.path_nodes(ends, np.array([1])) == [2, 1]
    assert render.path_nodes(ends, np.zeros(0, dtype=np.int64)) == []


# ---------------------------------------------------------------------- edge clouds
def test_edge_cloud_env_renders_both_modes() -> None:
    env = _env(agents_per="edge_cloud", n_edge_clouds=2)
    obs, _ = env.reset(seed=0)
    assert _frame(env).shape == (HEIGHT, WIDTH, 3)
    obs = _step_until_claims(env, obs)
    assert _red_pixels(_frame(env)) > 0
    env.render_mode = "ansi"
    text = _text(env)
    assert "claims accepted" in text and "slot" in text
    while env.agents:
        env.step(_wait(env))
    assert "slot 50/50 (ended)" in _text(env)
    env.render_mode = "rgb_array"
    assert _frame(env).shape == (HEIGHT, WIDTH, 3)
    env.close()
