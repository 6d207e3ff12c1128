"""Tests of qenv.network.traffic: arrival statistics, spatial models, batches, traces."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qenv.network.traffic import (
    Bursty,
    Diurnal,
    Gravity,
    Modulated,
    Poisson,
    RequestBatch,
    RequestHistory,
    Trace,
    TraceReplay,
    TrafficModel,
    Uniform,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def slot_counts(batch: RequestBatch, n_slots: int, n_nodes: int) -> np.ndarray:
    """Requests per (slot, source), shape (n_slots, n_nodes)."""
    flat = (batch.arrival - 1) * n_nodes + batch.source
    return np.bincount(flat, minlength=n_slots * n_nodes).reshape(n_slots, n_nodes)


# --------------------------------------------------------------------------- temporal


def test_poisson_mean_count_matches_rate() -> None:
    rate, dt, n_slots, n_nodes = 3.0, 0.01, 20_000, 5
    batch = TrafficModel(Poisson(rate), dt=dt).generate(n_nodes, n_slots, rng(1))
    expected = rate * dt * n_slots * n_nodes
    assert abs(len(batch) - expected) < 4 * np.sqrt(expected)
    per_node = np.bincount(batch.source, minlength=n_nodes)
    assert np.all(np.abs(per_node - expected / n_nodes) < 4 * np.sqrt(expected / n_nodes))
    counts = slot_counts(batch, n_slots, n_nodes)
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.05)


def test_diurnal_counts_follow_sinusoid() -> None:
    dt, period, n_periods, n_nodes = 0.01, 1.0, 200, 4
    n_slots = round(period / dt) * n_periods
    proc = Diurnal(mean_rate=20.0, amplitude=0.8, period_s=period, phase=0.0)
    batch = TrafficModel(proc, dt=dt).generate(n_nodes, n_slots, rng(2))
    n_bins = 20
    t = (batch.arrival - 0.5) * dt
    bins = np.floor((t % period) / period * n_bins).astype(int)
    hist = np.bincount(bins, minlength=n_bins)
    centers = (np.arange(n_bins) + 0.5) / n_bins * 2 * np.pi
    assert np.corrcoef(hist, np.sin(centers))[0, 1] > 0.9
    expected = 20.0 * n_nodes * n_slots * dt
    assert abs(len(batch) - expected) < 4 * np.sqrt(expected)


def test_diurnal_phase_per_node() -> None:
    phase = np.array([0.0, np.pi])
    r = Diurnal(10.0, 1.0, period_s=1.0, phase=phase).rates(100, 2, rng())
    # Opposite phases: node rates sum to 2·mean everywhere, peaks a half period apart.
    np.testing.assert_allclose(r.sum(axis=1), 20.0)
    assert abs(int(np.argmax(r[:, 0])) - int(np.argmax(r[:, 1]))) == 50
    random = Diurnal(10.0, 0.5, period_s=1.0).rates(100, 3, rng())
    assert not np.allclose(random[:, 0], random[:, 1])
    with pytest.raises(ValueError, match="phase"):
        Diurnal(10.0, 0.5, phase=[0.0, 1.0, 2.0]).rates(10, 2, rng())


def test_bursty_on_fraction_and_transitions() -> None:
    proc = Bursty(low_rate=1.0, high_rate=50.0, p_on=0.01, p_off=0.05)
    states = proc.states(200_000, 8, rng(3))
    assert states.shape == (200_000, 8)
    assert states.mean() == pytest.approx(proc.on_fraction, abs=0.02)
    prev, nxt = states[:-1], states[1:]
    p_on_hat = (~prev & nxt).sum() / (~prev).sum()
    p_off_hat = (prev & ~nxt).sum() / prev.sum()
    assert p_on_hat == pytest.approx(0.01, rel=0.1)
    assert p_off_hat == pytest.approx(0.05, rel=0.1)


def test_bursty_counts_overdispersed() -> None:
    n_slots, n_nodes, window = 100_000, 4, 100
    bursty = TrafficModel(Bursty(0.5, 20.0, 0.005, 0.02)).generate(n_nodes, n_slots, rng(4))
    counts = slot_counts(bursty, n_slots, n_nodes).reshape(-1, window, n_nodes).sum(axis=1)
    assert counts.var() / counts.mean() > 3.0
    poisson = TrafficModel(Poisson(4.3)).generate(n_nodes, n_slots, rng(4))
    counts = slot_counts(poisson, n_slots, n_nodes).reshape(-1, window, n_nodes).sum(axis=1)
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.2)


def test_bursty_degenerate_switching() -> None:
    always_on = Bursty(1.0, 5.0, p_on=1.0, p_off=0.0).states(500, 3, rng())
    assert always_on.all()
    flip = Bursty(1.0, 5.0, p_on=1.0, p_off=1.0).states(500, 3, rng())
    assert np.all(flip[1:] != flip[:-1])


def test_modulated_composition() -> None:
    proc = Diurnal(4.0, 0.5, period_s=1.0) * Bursty(1.0, 9.0, 0.02, 0.02) * Poisson(7.0)
    assert isinstance(proc, Modulated)
    assert len(proc.factors) == 2
    assert proc.mean_rate == 4.0
    r = proc.rates(100_000, 4, rng(5))
    assert r.shape == (100_000, 4)
    assert r.mean() == pytest.approx(4.0, rel=0.1)
    with pytest.raises(ValueError, match="factors"):
        Modulated(Poisson(1.0), Poisson(0.0))


# --------------------------------------------------------------------------- spatial


def assert_frequencies(batch: RequestBatch, prob: np.ndarray) -> None:
    """Chi-square goodness of fit of the destinations of each source to ``prob``."""
    n = prob.shape[0]
    joint = np.zeros((n, n))
    np.add.at(joint, (batch.source, batch.destination), 1)
    assert np.all(np.diag(joint) == 0)
    off = ~np.eye(n, dtype=bool)
    expected = joint.sum(axis=1, keepdims=True) * prob
    chi2 = float(np.sum((joint[off] - expected[off]) ** 2 / expected[off]))
    dof = n * (n - 2)  # n rows of n - 1 cells, one constraint each
    assert chi2 < dof + 5 * np.sqrt(2 * dof)  # ~3.5 sigma of the chi-square law
    rows = joint.sum(axis=1, keepdims=True)
    stderr = np.sqrt(prob * (1 - prob) / rows)
    assert np.all(np.abs(joint / rows - prob) <= 5 * stderr)  # every cell within 5 sigma


def test_gravity_destination_frequencies() -> None:
    n = 5
    mass = np.array([1.0, 2.0, 4.0, 0.5, 1.5])
    dist = np.abs(np.subtract.outer(np.arange(n), np.arange(n))).astype(float) + 1.0
    model = Gravity(mass=mass, exponent=2.0, distance=dist)
    weight, prob = model.weights(n, rng())
    np.testing.assert_allclose(weight, mass / mass.mean())
    np.testing.assert_allclose(prob.sum(axis=1), 1.0)
    assert np.all(np.diag(prob) == 0)
    expected = mass[None, :] / dist**2
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(prob, expected / expected.sum(axis=1, keepdims=True))

    batch = TrafficModel(Poisson(50.0), model).generate(n, 40_000, rng(6))
    assert np.all(batch.source != batch.destination)
    assert_frequencies(batch, prob)
    joint = np.zeros((n, n))
    np.add.at(joint, (batch.source, batch.destination), 1)
    share = joint.sum(axis=1) / joint.sum()
    np.testing.assert_allclose(share, mass / mass.sum(), atol=0.01)


def test_gravity_random_masses_mean_one_and_skewed() -> None:
    weight, prob = Gravity(sigma=1.0).weights(200, rng(7))
    assert weight.mean() == pytest.approx(1.0)
    assert weight.max() / weight.min() > 10
    assert np.all(np.diag(prob) == 0)


def test_destinations_never_self_many_nodes() -> None:
    n = 300
    model = Gravity(sigma=2.0)
    _, prob = model.weights(n, rng(8))
    src = rng(9).integers(0, n, size=500_000)
    dst = model.destinations(src, prob, rng(10))
    assert np.all((dst >= 0) & (dst < n))
    assert np.all(dst != src)


def test_uniform_destinations() -> None:
    n = 4
    batch = TrafficModel(Poisson(50.0)).generate(n, 20_000, rng(11))
    assert np.all(batch.source != batch.destination)
    target = np.full((n, n), 1 / 3)
    np.fill_diagonal(target, 0)
    assert_frequencies(batch, target)


# --------------------------------------------------------------------------- batches


def test_reproducibility() -> None:
    model = TrafficModel(
        Diurnal(3.0, 0.5, period_s=2.0) * Bursty(1.0, 5.0, 0.01, 0.05),
        Gravity(),
        n_pairs=(1, 4),
        deadline_slots=(5, 50),
    )
    a = model.generate(6, 2_000, rng(42))
    b = model.generate(6, 2_000, rng(42))
    c = model.generate(6, 2_000, rng(43))
    assert a == b
    assert a != c


def check_invariants(batch: RequestBatch, n_nodes: int, n_slots: int) -> None:
    assert np.all(np.diff(batch.arrival) >= 0)
    same = np.diff(batch.arrival) == 0
    assert np.all(np.diff(batch.source)[same] >= 0)
    assert np.all(batch.deadline >= batch.arrival)
    assert np.unique(batch.id).size == len(batch)
    assert np.all((batch.arrival >= 1) & (batch.arrival <= n_slots))
    assert np.all(batch.source != batch.destination)
    assert np.all((batch.source >= 0) & (batch.source < n_nodes))
    assert np.all((batch.destination >= 0) & (batch.destination < n_nodes))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_nodes=st.integers(2, 9),
    n_slots=st.integers(1, 300),
    rate=st.floats(0.0, 200.0),
    deadline=st.tuples(st.integers(0, 20), st.integers(0, 20)).map(sorted),
    n_pairs=st.tuples(st.integers(1, 5), st.integers(1, 5)).map(sorted),
    gravity=st.booleans(),
    lo=st.integers(0, 320),
    width=st.integers(0, 100),
)
def test_batch_invariants(
    seed: int,
    n_nodes: int,
    n_slots: int,
    rate: float,
    deadline: list[int],
    n_pairs: list[int],
    gravity: bool,
    lo: int,
    width: int,
) -> None:
    model = TrafficModel(
        Poisson(rate) * Bursty(1.0, 4.0, 0.1, 0.1),
        Gravity() if gravity else Uniform(),
        f_min=(0.6, 0.95),
        n_pairs=(n_pairs[0], n_pairs[1]),
        deadline_slots=(deadline[0], deadline[1]),
    )
    batch = model.generate(n_nodes, n_slots, rng(seed))
    check_invariants(batch, n_nodes, n_slots)
    np.testing.assert_array_equal(batch.id, np.arange(len(batch)))
    wait = batch.deadline - batch.arrival
    assert np.all((wait >= deadline[0]) & (wait <= deadline[1]))
    assert np.all((batch.n_pairs >= n_pairs[0]) & (batch.n_pairs <= n_pairs[1]))
    assert np.all((batch.f_min >= 0.6) & (batch.f_min <= 0.95))

    window = batch.in_slots(lo, lo + width)
    check_invariants(window, n_nodes, n_slots)
    assert np.all((window.arrival >= lo) & (window.arrival < lo + width))
    assert len(window) == int(np.sum((batch.arrival >= lo) & (batch.arrival < lo + width)))
    rest = batch.select((batch.arrival < lo) | (batch.arrival >= lo + width))
    assert rest.concat(window) == batch
    picked = batch.select(np.arange(len(batch))[::-2])
    check_invariants(picked, n_nodes, n_slots)


def test_batch_validation_and_helpers() -> None:
    batch = TrafficModel(Poisson(20.0)).generate(3, 50, rng())
    assert len(RequestBatch.empty()) == 0
    assert batch.concat(RequestBatch.empty()) == batch
    assert len(batch.select(np.array([], dtype=np.int64))) == 0
    with pytest.raises(ValueError, match="mask_or_idx"):
        batch.select(np.array([0, 0]))
    with pytest.raises(ValueError):
        batch.source[0] = 1  # read-only
    ok = {
        "id": [0, 1],
        "source": [0, 1],
        "destination": [1, 0],
        "f_min": [0.7, 0.7],
        "n_pairs": [1, 1],
        "arrival": [1, 2],
        "deadline": [3, 4],
    }
    RequestBatch(**ok)  # type: ignore[arg-type]
    bad: list[tuple[str, list[float], str]] = [
        ("arrival", [2, 1], "sorted"),
        ("deadline", [0, 4], "deadline"),
        ("destination", [0, 0], "differ"),
        ("f_min", [0.2, 0.7], "f_min"),
        ("n_pairs", [0, 1], "n_pairs"),
        ("arrival", [0, 2], "arrival"),
        ("id", [0], "length"),
    ]
    for field, values, match in bad:
        with pytest.raises(ValueError, match=match):
            RequestBatch(**{**ok, field: values})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- traces


def test_csv_round_trip(tmp_path: Path) -> None:
    batch = TrafficModel(Poisson(5.0), Gravity()).generate(7, 500, rng(12))
    trace = batch.to_trace(0.01)
    path = tmp_path / "trace.csv"
    trace.to_csv(path)
    assert path.read_text().splitlines()[0] == "timestamp,source,destination,fidelity"
    assert Trace.from_csv(path, n_nodes=7) == trace
    g = rng(13)
    irregular = Trace(
        np.sort(g.uniform(0, 1e5, 300)),
        g.integers(0, 3, 300),
        g.integers(3, 6, 300),
        g.uniform(0.25, 1.0, 300),
    )
    irregular.to_csv(path)
    assert Trace.from_csv(path) == irregular
    Trace.empty().to_csv(path)
    assert len(Trace.from_csv(path)) == 0


def test_csv_sorts_rows_and_allows_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "unsorted.csv"
    path.write_text(
        "fidelity,destination,note,source,timestamp\n"
        "0.9,1,x,0,2.5\n"
        "\n"
        "0.8,2,y,1,0.5\n"
        "0.7,0,z,2,2.5\n"
    )
    trace = Trace.from_csv(path)
    np.testing.assert_array_equal(trace.timestamp, [0.5, 2.5, 2.5])
    np.testing.assert_array_equal(trace.source, [1, 0, 2])
    np.testing.assert_array_equal(trace.fidelity, [0.8, 0.9, 0.7])


HEADER = "timestamp,source,destination,fidelity\n"
BAD_CSV = [
    pytest.param("", 1, "empty", id="empty-file"),
    pytest.param("timestamp,source,fidelity\n0.1,0,0.9\n", 1, "'destination'", id="no-column"),
    pytest.param(HEADER + "0.1,0,1,0.9\nabc,0,1,0.9\n", 3, "parse", id="bad-float"),
    pytest.param(HEADER + "0.1,0,1,0.9\n0.2,1.5,0,0.9\n", 3, "parse", id="bad-int"),
    pytest.param(HEADER + "0.1,0,1,0.9\n\n0.2,0,1\n", 4, "fields", id="short-row"),
    pytest.param(HEADER + "-0.5,0,1,0.9\n", 2, "timestamp", id="negative-time"),
    pytest.param(HEADER + "nan,0,1,0.9\n", 2, "timestamp", id="nan-time"),
    pytest.param(HEADER + "0.1,0,1,0.9\n0.2,2,2,0.9\n", 3, "destination", id="self-loop"),
    pytest.param(HEADER + "0.1,0,1,0.2\n", 2, "fidelity", id="low-fidelity"),
    pytest.param(HEADER + "0.1,0,1,1.5\n", 2, "fidelity", id="high-fidelity"),
    pytest.param(HEADER + "0.1,0,1,0.9\n0.2,0,1,0.9\n0.3,0,5,0.9\n", 4, "unknown node", id="node"),
    pytest.param(HEADER + "0.1,-1,1,0.9\n", 2, "unknown node", id="negative-node"),
]


@pytest.mark.parametrize(("content", "line", "match"), BAD_CSV)
def test_bad_csv(tmp_path: Path, content: str, line: int, match: str) -> None:
    path = tmp_path / "broken_trace.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        Trace.from_csv(path, n_nodes=5)
    assert f"broken_trace.csv:{line}:" in str(err.value)


def test_trace_replay() -> None:
    dt = 0.01
    batch = TrafficModel(Poisson(8.0), Gravity(), deadline_slots=30).generate(5, 400, rng(14))
    replay = TraceReplay(batch.to_trace(dt), dt=dt, deadline_slots=30)
    again = replay.generate(5, 400, rng(99))
    for field in ("source", "destination", "f_min", "arrival", "deadline", "n_pairs", "id"):
        np.testing.assert_array_equal(getattr(again, field), getattr(batch, field))
    short = replay.generate(5, 100, rng())
    assert short == batch.in_slots(1, 101)
    with pytest.raises(ValueError, match="unknown node"):
        replay.generate(2, 400, rng())


def test_trace_replay_slot_boundaries() -> None:
    trace = Trace(
        np.array([0.0, 0.0099, 0.01, 0.03, 0.05, 0.2]),
        np.array([1, 0, 0, 2, 0, 0]),
        np.array([0, 1, 1, 0, 2, 1]),
        np.full(6, 0.8),
    )
    out = TraceReplay(trace, dt=0.01, deadline_slots=(0, 3)).generate(3, 10, rng())
    np.testing.assert_array_equal(out.arrival, [1, 1, 2, 4, 6])
    np.testing.assert_array_equal(out.source, [0, 1, 0, 2, 0])
    offset = TraceReplay(trace, dt=0.01, start_s=0.03).generate(3, 3, rng())
    np.testing.assert_array_equal(offset.arrival, [1, 3])


def test_request_history_counts() -> None:
    dt, n_nodes = 0.01, 4
    model = TrafficModel(Poisson(6.0))
    first = model.generate(n_nodes, 1_000, rng(15))
    second = model.generate(n_nodes, 500, rng(16))
    hist = RequestHistory(dt)
    hist.append(first)
    hist.append(second, slot_offset=1_000)
    assert len(hist) == len(first) + len(second)
    trace = hist.to_trace()
    assert len(trace) == len(hist)
    assert np.all(np.diff(trace.timestamp) >= 0)
    counts = hist.counts(n_nodes, window_s=1.0)
    assert counts.shape == (15, n_nodes)
    arrivals = np.concatenate([first.arrival, second.arrival + 1_000])
    sources = np.concatenate([first.source, second.source])
    window = (arrivals - 1) // 100
    for w in (0, 9, 10, 14):
        expected = np.bincount(sources[window == w], minlength=n_nodes)
        np.testing.assert_array_equal(counts[w], expected)
    assert hist.counts(n_nodes, 1.0, t_end=20.0).shape == (20, n_nodes)
    assert hist.counts(n_nodes, 1.0, t_end=5.0).sum() == int(np.sum(window < 5))
    by_dst = hist.counts(n_nodes, 1.0, by="destination")
    assert by_dst.sum() == len(hist)
    hist.clear()
    assert hist.counts(n_nodes, 1.0).shape == (0, n_nodes)


# --------------------------------------------------------------------------- bad arguments

BAD_ARGS: list[tuple[Callable[[], object], str]] = [
    (lambda: Poisson(-1.0), "rate"),
    (lambda: Diurnal(-1.0, 0.5), "mean_rate"),
    (lambda: Diurnal(1.0, 1.5), "amplitude"),
    (lambda: Diurnal(1.0, -0.1), "amplitude"),
    (lambda: Diurnal(1.0, 0.5, period_s=0.0), "period_s"),
    (lambda: Bursty(-1.0, 2.0, 0.1, 0.1), "low_rate"),
    (lambda: Bursty(1.0, -2.0, 0.1, 0.1), "high_rate"),
    (lambda: Bursty(1.0, 2.0, 1.1, 0.1), "p_on"),
    (lambda: Bursty(1.0, 2.0, 0.1, -0.1), "p_off"),
    (lambda: Bursty(1.0, 2.0, 0.0, 0.0), "p_on"),
    (lambda: Gravity(mass=[1.0, -1.0]), "mass"),
    (lambda: Gravity(distance=[[0.0, 0.0], [1.0, 0.0]]), "distance"),
    (lambda: Gravity(mass=[1.0, 2.0]).weights(3, rng()), "mass"),
    (lambda: TrafficModel(Poisson(1.0), f_min=0.2), "f_min"),
    (lambda: TrafficModel(Poisson(1.0), f_min=(0.9, 0.5)), "f_min"),
    (lambda: TrafficModel(Poisson(1.0), f_min=(0.5, 1.1)), "f_min"),
    (lambda: TrafficModel(Poisson(1.0), f_min=(0.5, 0.6, 0.7)), "f_min"),  # type: ignore[arg-type]
    (lambda: TrafficModel(Poisson(1.0), n_pairs=0), "n_pairs"),
    (lambda: TrafficModel(Poisson(1.0), n_pairs=1.5), "n_pairs"),  # type: ignore[arg-type]
    (lambda: TrafficModel(Poisson(1.0), n_pairs=(3, 2)), "n_pairs"),
    (lambda: TrafficModel(Poisson(1.0), deadline_slots=-1), "deadline_slots"),
    (lambda: TrafficModel(Poisson(1.0), dt=0.0), "dt"),
    (lambda: TrafficModel(Poisson(1.0)).generate(1, 10, rng()), "n_nodes"),
    (lambda: TrafficModel(Poisson(1.0)).generate(3, 0, rng()), "n_slots"),
    (lambda: TraceReplay(Trace.empty(), dt=-0.01), "dt"),
    (lambda: TraceReplay(Trace.empty(), n_pairs=0), "n_pairs"),
    (lambda: TraceReplay(Trace.empty()).generate(3, 0, rng()), "n_slots"),
    (lambda: RequestHistory(dt=0.0), "dt"),
    (lambda: RequestHistory().counts(3, 0.0), "window_s"),
    (lambda: RequestHistory().append(RequestBatch.empty(), slot_offset=-1), "slot_offset"),
    (lambda: Trace.from_csv("unused.csv", n_nodes=1), "n_nodes"),
    (lambda: RequestBatch.empty().to_trace(dt=0.0), "dt"),
]


@pytest.mark.parametrize(("call", "name"), BAD_ARGS)
def test_bad_arguments(call: Callable[[], object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()
